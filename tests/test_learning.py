"""Short real-data training runs (Fashion-MNIST, TensorFlow backend) must beat LSH on pixels.

Same split for both: 500 queries, a 6,000-image database, 6,000 unlabelled and
4,500 labelled training images of the fashion_mnist-59k protocol. Each
method gets three epochs at width 16 and learning rate 1e-3 (about a minute
each on 2 cores) and must beat LSH by ``MARGINS[method]`` mAP@1000.

Training is seeded and TensorFlow's ops are deterministic (conftest.py), so
one machine repeats its figures exactly; another CPU (other oneDNN kernels,
other thread counts) takes another path, which behaves like another seed.
The margins are therefore set from the spread over seeds, measured with

    pytest tests/test_learning.py --learning-seeds 1,2,3,4,5 -s

which runs every test once per seed and prints each mAP@1000. Each margin is
at most the lowest measured gain over LSH minus three standard deviations of
the gains (the table in ``SPREAD``); the default run uses seed 1. The other
thread count, one core (``taskset -c 0 pytest tests/test_learning.py -s``),
changes the figures as another seed would and stays inside that spread:
seed 1 gains 0.224 / 0.191 / 0.152 / 0.115 / 0.112 for DSH-GAN / FakeReg /
SSAH / HashGAN / USPAH.
"""

import keras
import numpy as np
import pytest

from ganhash_zoo.baselines import LSH
from ganhash_zoo.methods import DSHGAN, SSAH, USPAH, FakeReg, FakeRegGAN, HashGAN, SemiSupervisedBatches

pytestmark = pytest.mark.slow  # trains every method on real data: minutes

BITS = 32
SHAPE = dict(image_shape=(28, 28, 1), width=16)
# mAP@1000 gain over LSH (0.4518) for seeds 1..5, measured 2026-11-25 (TF 2.21, 2-core AMD EPYC;
# HashGAN and DSH-GAN with their fused steps):
#            gains per seed                        mean   sd     min    min - 3 sd   margin
SPREAD = {
    "dshgan": (0.2272, 0.2218, 0.2052, 0.2057, 0.2018),  # 0.212  0.011  0.202  0.168        0.10
    "fakereg": (0.1804, 0.2118, 0.2253, 0.1871, 0.1841),  # 0.198  0.020  0.180  0.121        0.10
    "ssah": (0.1380, 0.1662, 0.1599, 0.1644, 0.1511),  # 0.156  0.012  0.138  0.103        0.08
    "hashgan": (0.1164, 0.1042, 0.0800, 0.0988, 0.0927),  # 0.098  0.013  0.080  0.040        0.03
    "uspah": (0.1249, 0.1095, 0.1186, 0.0942, 0.1003),  # 0.110  0.013  0.094  0.056        0.05
}
MARGINS = {"dshgan": 0.10, "fakereg": 0.10, "ssah": 0.08, "hashgan": 0.03, "uspah": 0.05}


@pytest.fixture(scope="module")
def lsh_map(fashion_task):
    return fashion_task["evaluator"].evaluate(LSH(BITS).fit(fashion_task["unlabeled"])).metrics["mAP@1000"]


def beats_lsh(method, model, task, lsh_map, seed):
    measured = task["evaluator"].evaluate(model.encoder).metrics["mAP@1000"]
    print(f"\n{method} seed {seed}: mAP@1000 {measured:.4f}, LSH {lsh_map:.4f}, gain {measured - lsh_map:+.4f}")
    assert measured > lsh_map + MARGINS[method]


def semi_batches(task, seed):
    return SemiSupervisedBatches(task["labeled"], task["labels"], task["unlabeled"], batch_size=64, seed=seed)


def test_dshgan_beats_lsh_and_its_generator_learns(fashion_task, lsh_map, learning_seed):
    model = DSHGAN(BITS, seed=learning_seed, **SHAPE)
    model.compile(learning_rate=1e-3)
    before = model.generated_sample(8)
    model.fit(semi_batches(fashion_task, learning_seed), epochs=3, verbose=0)
    assert np.abs(model.generated_sample(8) - before).mean() > 5.0  # pixels moved (0..255 scale)
    beats_lsh("dshgan", model, fashion_task, lsh_map, learning_seed)


def test_fakereg_two_stages_beat_lsh(fashion_task, lsh_map, learning_seed):
    gan = FakeRegGAN(seed=learning_seed, **SHAPE)
    gan.compile(learning_rate=1e-3)
    before = gan.generated_sample(8)
    gan.fit(fashion_task["unlabeled"], batch_size=64, epochs=3, verbose=0)
    assert np.abs(gan.generated_sample(8) - before).mean() > 5.0
    model = FakeReg(BITS, generator=gan.generator, seed=learning_seed, **SHAPE)
    model.compile(learning_rate=1e-3)
    model.fit(fashion_task["labeled"], fashion_task["labels"], batch_size=64, epochs=3, verbose=0)
    beats_lsh("fakereg", model, fashion_task, lsh_map, learning_seed)


def test_ssah_beats_lsh_and_its_hard_samples_change(fashion_task, lsh_map, learning_seed):
    model = SSAH(BITS, difficulty_steps=300, seed=learning_seed, **SHAPE)
    model.compile(learning_rate=1e-3)
    probe = fashion_task["labeled"][:8].astype("float32")
    before = keras.ops.convert_to_numpy(model.hard_samples(probe, training=False))
    model.fit(semi_batches(fashion_task, learning_seed), epochs=3, verbose=0)
    after = keras.ops.convert_to_numpy(model.hard_samples(probe, training=False))
    assert np.abs(after - before).mean() > 1.0  # A-Net's transforms moved with training
    beats_lsh("ssah", model, fashion_task, lsh_map, learning_seed)


def test_hashgan_beats_lsh_and_its_generator_learns(fashion_task, lsh_map, learning_seed):
    model = HashGAN(BITS, seed=learning_seed, **SHAPE)
    model.compile(learning_rate=1e-3)
    before = model.generated_sample(8)
    model.fit(fashion_task["unlabeled"], batch_size=64, epochs=3, verbose=0)
    assert np.abs(model.generated_sample(8) - before).mean() > 5.0
    beats_lsh("hashgan", model, fashion_task, lsh_map, learning_seed)


def test_uspah_beats_lsh_and_its_generator_learns(fashion_task, lsh_map, learning_seed):
    model = USPAH(BITS, seed=learning_seed, **SHAPE).prepare(fashion_task["unlabeled"], seed=learning_seed)
    model.compile(learning_rate=1e-3)
    before = model.generated_sample(8)
    model.fit(fashion_task["unlabeled"], batch_size=64, epochs=3, verbose=0)
    assert np.abs(model.generated_sample(8) - before).mean() > 5.0
    beats_lsh("uspah", model, fashion_task, lsh_map, learning_seed)
