"""Methods that fine-tune EfficientNet-Lite0's last blocks with their own losses (``tail_block``)."""

import h5py
import keras
import numpy as np
import pytest

from ganhash_zoo.baselines import ITQ, InvariantITQ
from ganhash_zoo.config import TrainConfig
from ganhash_zoo.export import ENCODER_FILE, INT8_SCALE, int8_kernel, load_encoder, save_encoder
from ganhash_zoo.feature_cache import feature_data
from ganhash_zoo.methods import METHODS
from ganhash_zoo.methods.fakereg import FakeRegGAN
from ganhash_zoo.nets import tail_from_block
from ganhash_zoo.nets.efficientnet_lite import efficientnet_lite0, set_tail_weights, split_at_block
from ganhash_zoo.pretrained import load_backbone
from ganhash_zoo.training import train, train_on, training_pool
from ganhash_zoo.zoo import load_run

TAILED = sorted(name for name, cls in METHODS.items() if cls.TAIL_TUNING)
BLOCK = 14  # the last two blocks and the head: the same code path as block 12, a third of the work
POOLED = (1280,)


def maps(n=32, seed=0, channels=192):
    """Random stand-ins for block 14's input maps (2x2: the tail reads any size)."""
    return np.random.default_rng(seed).normal(size=(n, 2, 2, channels)).astype("float32")


def tailed_model(name):
    extra = {"generator": FakeRegGAN(image_shape=POOLED, width=16, seed=0).generator} if name == "fakereg" else {}
    return METHODS[name](bits=8, image_shape=POOLED, width=16, seed=0, num_classes=3, tail_block=BLOCK, **extra)


def fit_on_maps(model, epochs=1):
    x = np.stack([maps(seed=1), maps(seed=2)], axis=1)  # each input with a view, as a cache would give
    labels = np.random.default_rng(3).integers(0, 3, len(x))
    args, kwargs = model.fit_inputs(x, x, labels, batch_size=16)
    return model.fit(*args, epochs=epochs, verbose=0, **kwargs)


def test_set_tail_weights_makes_the_tail_the_networks_last_part():
    network = efficientnet_lite0((64, 64, 3), include_top=False)
    _, from_block = split_at_block(network, BLOCK)
    tail = tail_from_block(BLOCK)
    x = maps(4)
    assert not np.allclose(tail.predict(x, verbose=0), from_block.predict(x, verbose=0), atol=1e-3)
    set_tail_weights(tail, network)
    np.testing.assert_allclose(tail.predict(x, verbose=0), from_block.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name", TAILED)
def test_the_hashing_player_fine_tunes_the_tail_but_not_its_batch_norm(name):
    model = tailed_model(name)
    model.compile(learning_rate=1e-3)
    kernels = [v.numpy().copy() for v in model.tail.trainable_variables]
    statistics = [v.numpy().copy() for v in model.tail.non_trainable_variables]
    assert kernels and statistics
    history = fit_on_maps(model)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert all(not np.allclose(before, v.numpy()) for before, v in zip(kernels, model.tail.trainable_variables))
    assert all(np.array_equal(before, v.numpy()) for before, v in zip(statistics, model.tail.non_trainable_variables))
    assert model.encoder.predict(maps(4), verbose=0).shape == (4, 8)


@pytest.mark.parametrize("name", TAILED)
def test_a_tailed_method_round_trips_through_config_weights_and_keras_file(name, tmp_path):
    model = tailed_model(name)
    model.compile(learning_rate=1e-3)
    fit_on_maps(model)
    assert model.get_config()["tail_block"] == BLOCK
    codes = model.encoder.predict(maps(4), verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    fresh = tailed_model(name)
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(fresh.encoder.predict(maps(4), verbose=0), codes, atol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.encoder.predict(maps(4), verbose=0), codes, atol=1e-5)


def test_what_cannot_carry_a_tail_says_so():
    for name in sorted(set(METHODS) - set(TAILED)):
        with pytest.raises(ValueError, match="cannot fine-tune a backbone tail"):
            METHODS[name](bits=8, image_shape=POOLED, width=16, seed=0, tail_block=BLOCK)
    with pytest.raises(ValueError, match=r"image_shape must be the tail's output \(1280,\)"):
        METHODS["dshgan"](bits=8, image_shape=(512,), width=16, seed=0, tail_block=BLOCK)
    model = tailed_model("dshgan")
    model.compile()
    with pytest.raises(ValueError, match="fits on inputs shaped"):
        model.fit(maps(channels=100), np.zeros(32, "int32"), epochs=1, verbose=0)


@pytest.mark.parametrize("shape, axis", [((3, 3, 8, 16), 3), ((5, 5, 8, 1), 2), ((32, 4), 1)])
def test_int8_kernels_keep_every_channel_within_half_a_step(shape, axis):
    rng = np.random.default_rng(0)
    spread = np.geomspace(1e-3, 1.0, shape[axis]).reshape([-1 if i == axis else 1 for i in range(len(shape))])
    kernel = (rng.normal(size=shape) * spread).astype(np.float32)
    kernel[(slice(None),) * axis + (0,)] = 0  # an all-zero channel
    values, scale, found = int8_kernel(kernel)
    assert values.dtype == np.int8 and found == axis and scale.shape == (shape[axis],)
    step = scale.reshape(spread.shape)
    restored = values.astype(np.float32) * step
    assert np.all(np.abs(restored - kernel) <= step / 2 * (1 + 1e-5))  # each channel at its own scale
    assert not restored[(slice(None),) * axis + (0,)].any()


def export_tailed_encoder(folder, cut_block):
    """A tailed DSH-GAN's encoder exported as a run would (its backbone's spec naming the cut, or not)."""
    model = tailed_model("dshgan")
    spec = {"name": "efficientnet-lite0", "resolution": 32, **({"cut_block": BLOCK} if cut_block else {})}
    save_encoder(model.encoder, folder, {"name": "t", "method": "dshgan", "bits": 8, "backbone": spec})
    return model.encoder


def _datasets(group):
    found = []
    group.visititems(lambda name, obj: found.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_an_encoder_with_backbone_blocks_ships_int8_kernels_and_loads_back(tmp_path):
    encoder = export_tailed_encoder(tmp_path / "int8", cut_block=True)
    export_tailed_encoder(tmp_path / "half", cut_block=False)
    with h5py.File(tmp_path / "int8" / ENCODER_FILE) as f:
        stored = {dataset.dtype for _, dataset in _datasets(f)}
    assert stored == {np.dtype(np.int8), np.dtype(np.float16)}  # kernels; biases and batch norm
    sizes = {k: (tmp_path / k / ENCODER_FILE).stat().st_size for k in ("int8", "half")}
    assert sizes["int8"] < 0.6 * sizes["half"]
    x = maps(64)
    relaxed, shipped = encoder.predict(x, verbose=0), load_encoder(tmp_path / "int8").predict(x, verbose=0)
    # measured with these seeds: codes of mean size 0.066 move by at most 0.0024, no sign flips
    assert np.abs(shipped - relaxed).max() < 0.01 and (np.sign(shipped) == np.sign(relaxed)).mean() > 0.99


def test_a_damaged_int8_scale_is_refused_with_what_to_do(tmp_path):
    export_tailed_encoder(tmp_path, cut_block=True)
    with h5py.File(tmp_path / ENCODER_FILE, "r+") as f:
        kernel = next(dataset for _, dataset in _datasets(f) if INT8_SCALE in dataset.attrs)
        kernel.attrs[INT8_SCALE] = kernel.attrs[INT8_SCALE][:-1]
    with pytest.raises(ValueError, match="not a valid int8 kernel.*re-export"):
        load_encoder(tmp_path)


def test_a_run_fine_tunes_the_tail_from_the_pretrained_weights_and_ships_an_encoder_of_images(fashion, tmp_path):
    """train_on with ``tail_block``: the tail starts pretrained, learns, keeps ImageNet's batch-norm statistics,
    and the exported encoder reads raw images through the recorded cut backbone (32 px keeps it quick)."""
    data, split = fashion
    extractor = load_backbone(resolution=32, cut_block=BLOCK)
    maps = feature_data(data, extractor, progress=False)
    config = TrainConfig("fakereg", "fashion_mnist", "fashion_mnist-59k", 16, epochs=1, gan_epochs=1, width=8,
                         max_unlabeled=256, eval_every=1, method_options={"tail_block": BLOCK})
    result = train_on(config, maps, tmp_path / "run", verbose=0)
    assert result["status"] == "finished" and {"itq", "lsh", "linear-ce", "itq-pixels"} <= set(result["baselines"])

    hasher = load_run(tmp_path / "run" / "encoder")
    assert hasher.backbone is extractor
    queries = split.query[:8]  # raw images through the cut backbone, as the cached maps the run evaluated on
    np.testing.assert_allclose(hasher.relaxed_codes(list(data.images[queries])),
                               hasher.codes_of_inputs(maps.images[queries]), atol=1e-3)
    tail = next(layer for layer in hasher.encoder.layers if "from_block" in layer.name)
    pretrained = load_backbone(resolution=32).network
    conv, norm = f"blocks_{BLOCK}_expand_conv", f"blocks_{BLOCK}_bn0"
    assert not np.allclose(tail.get_layer(conv).get_weights()[0], pretrained.get_layer(conv).get_weights()[0],
                           atol=1e-3)
    for shipped, original in zip(tail.get_layer(norm).get_weights(), pretrained.get_layer(norm).get_weights()):
        np.testing.assert_allclose(shipped, original, rtol=1e-3, atol=1e-3)  # float16 on export


def test_a_tailed_run_fits_its_fixed_bits_on_its_pool_and_ships_them(fashion, tmp_path):
    """``tail_block`` with ``feature_bits`` and ``instance_bits`` (the released DSH-GAN's and FakeReg's options):
    the run learns 10 of 16 bits, then come ITQ's 2 bits of the trained tail's pooled features of the training
    pool (fitted after training) and InvariantITQ's 4 bits of its pooled input maps, fitted on the pool and its
    views; the exported encoder (float16 projections beside int8 tail kernels) gives them back."""
    data, split = fashion
    maps = feature_data(data, load_backbone(resolution=32, cut_block=BLOCK), progress=False)
    config = TrainConfig("dshgan", "fashion_mnist", "fashion_mnist-59k", 16, epochs=1, width=8, max_unlabeled=256,
                         eval_every=1, method_options={"tail_block": BLOCK, "instance_bits": 4, "feature_bits": 2})
    assert train_on(config, maps, tmp_path / "run", verbose=0)["status"] == "finished"
    pool = training_pool(split, config.max_unlabeled, config.seed)
    pooled = [maps.images[pool].mean(axis=(1, 2)), maps.views_of(pool).mean(axis=(1, 2))]
    instance = InvariantITQ(4, seed=config.seed, features=np.asarray).fit(*pooled)
    queries = maps.images[split.query[:200]]
    shipped = load_run(tmp_path / "run" / "encoder")
    codes = shipped.codes_of_inputs(queries)
    assert codes.shape == (200, 16)
    # measured: 799 of the 800 bits agree (a float16 projection can flip a bit that sits near 0)
    assert ((codes[:, 12:] > 0) == (instance.project(queries.mean(axis=(1, 2))) > 0)).mean() > 0.98
    tail = next(layer for layer in shipped.encoder.layers if "from_block" in layer.name)
    features = ITQ(2, seed=config.seed, features=np.asarray).fit(tail.predict(maps.images[pool], verbose=0))
    # the shipped tail (int8 kernels) is not the trained one (float32): measured 397 of 400 bits agree
    assert ((codes[:, 10:12] > 0) == (features.project(tail.predict(queries, verbose=0)) > 0)).mean() > 0.95


def test_tail_block_needs_the_backbones_maps(fashion, tmp_path):
    data, _ = fashion
    with pytest.raises(ValueError, match="has\\s+none"):
        train(TrainConfig("ssah", "fashion_mnist", "fashion_mnist-59k", 16, backbone="dcgan",
                          method_options={"tail_block": BLOCK}), out=tmp_path / "pixels")
    pooled = feature_data(data, load_backbone(resolution=32), progress=False)
    with pytest.raises(ValueError, match=f"maps at block {BLOCK}"):
        train_on(TrainConfig("ssah", "fashion_mnist", "fashion_mnist-59k", 16, method_options={"tail_block": BLOCK}),
                 pooled, tmp_path / "pooled")
    assert not (tmp_path / "pixels").exists() and not (tmp_path / "pooled").exists()
