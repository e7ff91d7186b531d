"""The reference hashers on real data: ITQ must beat LSH on CIFAR-10 pixels (cifar10-59k)."""

import numpy as np
import pytest

from ganhash_zoo.baselines import ITQ, LSH
from ganhash_zoo.retrieval import Evaluator


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
