"""The training set's neighbour graph and its target codes (methods/neighbour_graph.py), on real digits."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ganhash_zoo.baselines import ITQ
from ganhash_zoo.methods.neighbour_graph import graph_codes, nearest_neighbours
from ganhash_zoo.retrieval import Evaluator
from ganhash_zoo.retrieval.codes import pack


@pytest.fixture(scope="module")
def digits():
    images, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(images))
    return images[order].astype(np.float32) / 16.0, labels[order]


def test_nearest_neighbours_leave_each_image_out_and_find_its_copy():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 8)).astype(np.float32)
    found = nearest_neighbours(np.concatenate([points, points * 2.0]), 1)  # a scaled copy: cosine 1
    assert (found[:, 0] != np.arange(100)).all()
    np.testing.assert_array_equal(found[:50, 0], np.arange(50, 100))


def test_graph_codes_of_digits_retrieve_better_than_itq_on_the_same_pixels(digits):
    """In-sample retrieval (300 queries against the other 1,497 digits), 16 bits: graph codes of the 10-NN
    graph mAP@100 0.915-0.926 against ITQ's 0.805-0.821 over three orders of the digits; margin 0.05."""
    images, labels = digits
    evaluator = Evaluator(images[:300], labels[:300], images[300:], labels[300:], cutoffs=(100,))
    codes = graph_codes(nearest_neighbours(images, 10), 16)
    itq = ITQ(16, seed=0).fit(images).project(images)
    ours = evaluator.evaluate_codes(pack(codes[:300]), pack(codes[300:])).metrics["mAP@100"]
    reference = evaluator.evaluate_codes(pack(itq[:300], 0.0), pack(itq[300:], 0.0)).metrics["mAP@100"]
    assert ours > reference + 0.05


def test_graph_codes_split_every_bit_in_half_and_repeat_with_the_seed(digits):
    graph = nearest_neighbours(digits[0], 10)
    codes = graph_codes(graph, 16, seed=3)
    assert codes.shape == (len(graph), 16) and codes.dtype == np.float32
    assert set(np.unique(codes)) == {-1.0, 1.0}
    assert np.abs(codes.mean(axis=0)).max() <= 2.0 / len(graph)  # the median split: half the images each way
    np.testing.assert_array_equal(codes, graph_codes(graph, 16, seed=3))


def test_the_first_graph_bit_separates_two_unlinked_clusters():
    """A graph of two groups with no edge between them: its first non-constant eigenvector tells them apart."""
    rng = np.random.default_rng(0)
    within = [np.stack([rng.choice(np.delete(np.arange(40), i), 5, replace=False) for i in range(40)]) for _ in "ab"]
    graph = np.concatenate([within[0], within[1] + 40])
    first = graph_codes(graph, 4)[:, 0]
    assert len(set(first[:40])) == 1 and len(set(first[40:])) == 1 and first[0] != first[40]


def test_graph_codes_refuse_more_bits_than_the_graph_can_give():
    with pytest.raises(ValueError, match="more than 17 training images"):
        graph_codes(np.tile(np.arange(1, 4), (10, 1)) % 10, 16)
