"""Each loss term against a NumPy reference."""

import math

import numpy as np
import pytest
from keras import ops

from ganhash_zoo import losses

rng = np.random.default_rng(0)
T = rng.uniform(0.05, 0.95, (6, 5)).astype(np.float32)
H = rng.uniform(-1, 1, (6, 5)).astype(np.float32)
H2 = rng.uniform(-1, 1, (6, 5)).astype(np.float32)
H3 = rng.uniform(-1, 1, (6, 5)).astype(np.float32)
Y = np.array([0, 1, 0, 2, 1, 0])
W = (rng.uniform(size=(6, 6)) > 0.4).astype(np.float32)  # pairs left out (0) or kept (1)


def np_entropy(t):
    return -(t * np.log(t) + (1 - t) * np.log(1 - t))


def np_log_softmax(x, axis):
    return x - np.log(np.exp(x).sum(axis, keepdims=True))


def value(x):
    return float(ops.convert_to_numpy(x))


CASES = {
    "bit_entropy": (lambda: losses.bit_entropy(T), lambda: np_entropy(T).mean()),
    "bit_balance": (lambda: losses.bit_balance(T), lambda: -np_entropy(T.mean(0)).mean()),
    "maximum_entropy": (lambda: losses.maximum_entropy(T), lambda: math.log(2) - np_entropy(T).mean()),
    "quantization": (lambda: losses.quantization(H), lambda: ((np.abs(H) - 1) ** 2).mean()),
    "consistency": (lambda: losses.consistency(H, H2), lambda: ((H - H2) ** 2).mean()),
    "bit_decorrelation": (lambda: losses.bit_decorrelation(H),
                          lambda: ((np.corrcoef(H.T) - np.eye(5)) ** 2).sum() / 20),
    "collaborative": (lambda: losses.collaborative(T, (H > 0).astype(np.float32)),
                      lambda: ((T - (H > 0)) ** 2).mean()),
    "triplet": (lambda: losses.triplet(H, H2, H3, 0.3),
                lambda: np.maximum(0, 0.3 + ((H - H2) ** 2).mean(1) - ((H - H3) ** 2).mean(1)).mean()),
    "pairwise_similarity": (
        lambda: losses.pairwise_similarity(H, losses.label_similarity(Y, num_classes=3)),
        lambda: ((H @ H.T / 5 - np.where(Y[:, None] == Y[None], 1, -1)) ** 2).mean()),
    "weighted_pairwise_similarity": (
        lambda: losses.pairwise_similarity(H, losses.label_similarity(Y, num_classes=3), weights=W),
        lambda: (W * (H @ H.T / 5 - np.where(Y[:, None] == Y[None], 1, -1)) ** 2).sum() / W.sum()),
    "discriminator_loss": (lambda: losses.discriminator_loss(H[:, 0], H2[:, 0]),
                           lambda: np.log1p(np.exp(-H[:, 0])).mean() + np.log1p(np.exp(H2[:, 0])).mean()),
    "generator_loss": (lambda: losses.generator_loss(H[:, 0]), lambda: np.log1p(np.exp(-H[:, 0])).mean()),
    "feature_matching": (lambda: losses.feature_matching(H, H2), lambda: ((H.mean(0) - H2.mean(0)) ** 2).mean()),
    "view_contrast": (
        lambda: losses.view_contrast(H, H2, 0.5),
        lambda: -(np.diag(np_log_softmax(H @ H2.T / 2.5, 1)) + np.diag(np_log_softmax(H @ H2.T / 2.5, 0))).mean() / 2),
    "classification": (
        lambda: losses.classification(H[:, :3], Y),
        lambda: -(H[:, :3] - np.log(np.exp(H[:, :3]).sum(1, keepdims=True)))[np.arange(6), Y].mean()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_matches_numpy(name):
    ours, reference = CASES[name]
    assert value(ours()) == pytest.approx(float(reference()), rel=1e-4, abs=1e-6)


def test_independence_is_zero_for_orthonormal_columns_and_positive_otherwise():
    q, _ = np.linalg.qr(rng.standard_normal((8, 4)))
    assert value(losses.independence(q.astype(np.float32))) == pytest.approx(0, abs=1e-6)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    wn = w / np.linalg.norm(w, axis=0)
    assert value(losses.independence(w)) == pytest.approx(((wn.T @ wn - np.eye(4)) ** 2).sum() / 16, rel=1e-4)


def test_multi_label_similarity_and_classification():
    y = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 1]], np.float32)
    s = ops.convert_to_numpy(losses.label_similarity(y))
    np.testing.assert_array_equal(s, [[1, -1, 1], [-1, 1, -1], [1, -1, 1]])
    logits = H[:3, :3]
    ref = (np.log1p(np.exp(logits)) - y * logits).mean()
    assert value(losses.classification(logits, y)) == pytest.approx(ref, rel=1e-5)


def test_bit_balance_is_minimal_for_half_firing_bits():
    half = np.array([[0.99], [0.01]] * 3, np.float32)
    skewed = np.full((6, 1), 0.99, np.float32)
    assert value(losses.bit_balance(half)) == pytest.approx(-math.log(2), abs=1e-3)
    assert value(losses.bit_balance(skewed)) > value(losses.bit_balance(half)) + 0.5


def test_view_contrast_cannot_be_met_by_gathering_images_into_one_code():
    """Where ``consistency`` is zero for one code shared by every image, the contrastive term is log(batch)."""
    one_code = np.tile(np.sign(H[:1]), (6, 1))
    assert value(losses.consistency(one_code, one_code)) == 0
    assert value(losses.view_contrast(one_code, one_code)) == pytest.approx(math.log(6), rel=1e-5)
    apart = np.sign(np.random.default_rng(1).standard_normal((6, 48))).astype(np.float32)  # views equal to them
    assert value(losses.view_contrast(apart, apart)) < 0.5 * math.log(6)
