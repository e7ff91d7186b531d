"""The reference hashers on real data: ITQ must beat LSH on CIFAR-10 pixels (cifar10-59k), and InvariantITQ
keep near-duplicates where ITQ loses them."""

import numpy as np
import pytest

from ganhash_zoo.baselines import ITQ, LSH, InvariantITQ
from ganhash_zoo.datasets.transforms import apply_views, near_duplicates, view_transforms
from ganhash_zoo.retrieval import Evaluator
from ganhash_zoo.retrieval.code_quality import near_duplicate_figures


@pytest.mark.parametrize("bits", [32, 64])
def test_itq_beats_lsh_on_cifar10_pixels(cifar, bits):
    data, split = cifar
    evaluator = Evaluator.from_split(data, split)
    fit_on = data.images[split.unlabeled]
    lsh = evaluator.evaluate(LSH(bits).fit(fit_on)).metrics
    itq = evaluator.evaluate(ITQ(bits).fit(fit_on)).metrics
    assert itq["mAP@1000"] > lsh["mAP@1000"] + 0.01
    assert itq["mAP@all"] > lsh["mAP@all"]


def test_baselines_need_fit_and_valid_bits():
    with pytest.raises(RuntimeError, match="fit"):
        LSH(8).encode(np.zeros((2, 4, 4, 1), np.uint8))
    with pytest.raises(ValueError, match="positive"):
        ITQ(0)
    with pytest.raises(ValueError, match="at least"):
        ITQ(32).fit(np.zeros((10, 2, 2, 1), np.uint8))


def test_codes_are_deterministic_for_a_seed():
    x = np.random.default_rng(0).integers(0, 255, (50, 4, 4, 1), dtype=np.uint8)
    a, b = LSH(16, seed=3).fit(x).encode(x), LSH(16, seed=3).fit(x).encode(x)
    np.testing.assert_array_equal(a.packed, b.packed)
    assert ITQ(8).fit(x).encode(x).bits == 8


def test_invariant_itq_finds_the_near_duplicates_that_itq_loses(cifar):
    """Fitted on 5,000 CIFAR-10 images and their augmented views (flips, shifts of up to 3 px), 32 bits, the
    queries' flipped and shifted copies against 20,000 database images: over seeds 0-2 (sample, views and
    rotation drawn per seed) ITQ's copy recall@10 was 0.049-0.053 and InvariantITQ's 0.530-0.548."""
    data, split = cifar
    rng = np.random.default_rng(0)
    fit_on = data.images[rng.choice(split.unlabeled, 5000, replace=False)]
    views = apply_views(fit_on, *view_transforms(len(fit_on), 0))
    queries, database = data.images[split.query], data.images[split.database[:20000]]
    recall = {}
    for hasher in (ITQ(32, seed=0).fit(fit_on), InvariantITQ(32, seed=0).fit(fit_on, views)):
        figures = near_duplicate_figures(hasher.encode(queries), hasher.encode(near_duplicates(queries)),
                                         hasher.encode(database))
        recall[hasher.name] = figures["copy_recall@10"]
    assert recall["itq-invariant"] > recall["itq"] + 0.3


def test_invariant_itq_needs_views_of_the_same_shape():
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    with pytest.raises(ValueError, match="views"):
        InvariantITQ(4).fit(x)
    with pytest.raises(ValueError, match="views of shape"):
        InvariantITQ(4).fit(x, x[:, :5])
