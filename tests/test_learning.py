"""Short real-data training runs (Fashion-MNIST, TensorFlow backend) must beat LSH on pixels.

Same split for both: 500 queries, a 6,000-image database, 6,000 unlabelled and
4,500 labelled training images of the fashion_mnist-59k protocol. Each
method gets three epochs at width 16 and learning rate 1e-3 (about a minute
each on 2 cores) and must beat LSH by 0.05 mAP@1000.
"""

import keras
import numpy as np
import pytest

from ganhash_zoo.baselines import LSH
from ganhash_zoo.methods import DSHGAN, SSAH, USPAH, FakeReg, FakeRegGAN, HashGAN, SemiSupervisedBatches

BITS = 32
SHAPE = dict(image_shape=(28, 28, 1), width=16, seed=1)


@pytest.fixture(scope="module")
def lsh_map(fashion_task):
    return fashion_task["evaluator"].evaluate(LSH(BITS).fit(fashion_task["unlabeled"])).metrics["mAP@1000"]


def semi_batches(task):
    return SemiSupervisedBatches(task["labeled"], task["labels"], task["unlabeled"], batch_size=64)


def test_dshgan_beats_lsh_and_its_generator_learns(fashion_task, lsh_map):
    keras.utils.set_random_seed(1)
    model = DSHGAN(BITS, **SHAPE)
    model.compile(learning_rate=1e-3)
    before = model.generated_sample(8)
    model.fit(semi_batches(fashion_task), epochs=3, verbose=0)
    assert np.abs(model.generated_sample(8) - before).mean() > 5.0  # pixels moved (0..255 scale)
    assert fashion_task["evaluator"].evaluate(model.encoder).metrics["mAP@1000"] > lsh_map + 0.05


def test_fakereg_two_stages_beat_lsh(fashion_task, lsh_map):
    keras.utils.set_random_seed(1)
    gan = FakeRegGAN(**SHAPE)
    gan.compile(learning_rate=1e-3)
    before = gan.generated_sample(8)
    gan.fit(fashion_task["unlabeled"], batch_size=64, epochs=3, verbose=0)
    assert np.abs(gan.generated_sample(8) - before).mean() > 5.0
    model = FakeReg(BITS, generator=gan.generator, **SHAPE)
    model.compile(learning_rate=1e-3)
    model.fit(fashion_task["labeled"], fashion_task["labels"], batch_size=64, epochs=3, verbose=0)
    assert fashion_task["evaluator"].evaluate(model.encoder).metrics["mAP@1000"] > lsh_map + 0.05


def test_ssah_beats_lsh_and_its_hard_samples_change(fashion_task, lsh_map):
    keras.utils.set_random_seed(1)
    model = SSAH(BITS, difficulty_steps=300, **SHAPE)
    model.compile(learning_rate=1e-3)
    probe = fashion_task["labeled"][:8].astype("float32")
    before = keras.ops.convert_to_numpy(model.hard_samples(probe, training=False))
    model.fit(semi_batches(fashion_task), epochs=3, verbose=0)
    after = keras.ops.convert_to_numpy(model.hard_samples(probe, training=False))
    assert np.abs(after - before).mean() > 1.0  # A-Net's transforms moved with training
    assert fashion_task["evaluator"].evaluate(model.encoder).metrics["mAP@1000"] > lsh_map + 0.05


def test_hashgan_beats_lsh_and_its_generator_learns(fashion_task, lsh_map):
    keras.utils.set_random_seed(1)
    model = HashGAN(BITS, **SHAPE)
    model.compile(learning_rate=1e-3)
    before = model.generated_sample(8)
    model.fit(fashion_task["unlabeled"], batch_size=64, epochs=3, verbose=0)
    assert np.abs(model.generated_sample(8) - before).mean() > 5.0
    assert fashion_task["evaluator"].evaluate(model.encoder).metrics["mAP@1000"] > lsh_map + 0.05


def test_uspah_beats_lsh_and_its_generator_learns(fashion_task, lsh_map):
    keras.utils.set_random_seed(1)
    model = USPAH(BITS, **SHAPE).adapt(fashion_task["unlabeled"], seed=1)
    model.compile(learning_rate=1e-3)
    before = model.generated_sample(8)
    model.fit(fashion_task["unlabeled"], batch_size=64, epochs=3, verbose=0)
    assert np.abs(model.generated_sample(8) - before).mean() > 5.0
    assert fashion_task["evaluator"].evaluate(model.encoder).metrics["mAP@1000"] > lsh_map + 0.03
