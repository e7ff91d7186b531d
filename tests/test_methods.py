"""The five methods as Keras models: fit, config, saving, mixed precision, torch backend."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from ganhash_zoo.baselines import ITQ, InvariantITQ
from ganhash_zoo.export import load_encoder, load_trainable_model, save_encoder
from ganhash_zoo.methods import METHODS
from ganhash_zoo.methods.uspah import semantic_similarity

sys.path.insert(0, str(Path(__file__).parent))
from method_fixtures import build_model, fit_once, probe_images, tiny_data  # noqa: E402

NAMES = sorted(METHODS)


def ops_numpy(x):
    """A backend tensor as numpy (on torch, detached from the graph)."""
    return keras.ops.convert_to_numpy(x)


def encoded(model) -> np.ndarray:
    return ops_numpy(model.encoder(probe_images()))


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_and_keras_file(name, tmp_path):
    model = build_model(name)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(encoded(loaded), encoded(model), atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_weights_round_trip_after_training(name, tmp_path):
    model = build_model(name)
    model.compile()
    history = fit_once(model, name)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    model.save_weights(tmp_path / "w.weights.h5")
    fresh = build_model(name)
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(encoded(fresh), encoded(model), atol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("name", ["hashgan", "ssah"])
def test_mixed_precision_trains_with_finite_losses(name, policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model(name)
        model.compile()
        if policy == "mixed_float16":
            assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in model.player_optimizers.values())
        history = fit_once(model, name)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert model.encoder(probe_images()).dtype == "float32"


def test_bad_construction_and_missing_labels_are_explained():
    with pytest.raises(ValueError, match="bits"):
        METHODS["hashgan"](bits=0, image_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="divisible"):
        METHODS["ssah"](bits=8, image_shape=(30, 30, 1), width=8)
    model = METHODS["uspah"](bits=8, image_shape=(28, 28, 1), width=8)
    model.compile()
    with pytest.raises(RuntimeError, match="adapt"):
        model.fit(tiny_data()[0], epochs=1, verbose=0)
    fakereg = build_model("fakereg")
    fakereg.compile()
    with pytest.raises(ValueError, match="labels"):
        fakereg.fit(tiny_data()[0], epochs=1, verbose=0)


def test_torch_backend_fits_and_reads_tensorflow_weights(tmp_path):
    pytest.importorskip("torch")
    expected = {}
    for name in NAMES:
        model = build_model(name)
        model.save_weights(tmp_path / f"{name}.weights.h5")
        expected[name] = np.asarray(model.encoder(probe_images()))
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    script = Path(__file__).with_name("torch_backend_check.py")
    run = subprocess.run([sys.executable, str(script), str(tmp_path), str(tmp_path / "r.json")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    for name in NAMES:
        assert all(np.isfinite(v) for v in report[name]["losses"].values()), name
        np.testing.assert_allclose(report[name]["codes_from_tf_weights"], expected[name], atol=1e-4)
    assert np.isfinite(list(report["fakereg-gan"]["losses"].values())).all()


def test_stacked_batches_give_each_image_the_features_it_gets_alone():
    """HashGAN and DSH-GAN pass [real, augmented, generated] through their trunk as one batch; that is
    only the same computation because the trunk normalises each image on its own (LayerNorm)."""
    from ganhash_zoo.nets import dcgan_backbone

    trunk = dcgan_backbone((28, 28, 1), 8)
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(0, 255, (5, 28, 28, 1)).astype("float32") for _ in range(2))
    stacked = keras.ops.convert_to_numpy(trunk(np.concatenate([a, b]), training=True))
    alone = np.concatenate([keras.ops.convert_to_numpy(trunk(x, training=True)) for x in (a, b)])
    np.testing.assert_allclose(stacked, alone, rtol=1e-5, atol=1e-5)
    batch_norm_trunk = dcgan_backbone((28, 28, 1), 8, norm="batch")  # the assumption the test guards
    mixed = keras.ops.convert_to_numpy(batch_norm_trunk(np.concatenate([a, b]), training=True))
    assert not np.allclose(mixed[:5], keras.ops.convert_to_numpy(batch_norm_trunk(a, training=True)), atol=1e-3)


@pytest.mark.parametrize("name", ["hashgan", "dshgan"])
def test_fused_and_separate_steps_report_the_same_finite_losses(name):
    """The fused step (one pass over stacked batches) and the step as first written (kept for the
    throughput comparison) both train and report the same loss terms, all finite."""
    histories = {}
    for fused in (True, False):
        model = build_model(name)
        model.hparams["fused_passes"] = fused
        model.compile(learning_rate=1e-3)
        histories[fused] = fit_once(model, name).history
    assert histories[True].keys() == histories[False].keys()
    for key in histories[True]:
        assert np.isfinite(histories[True][key][-1]) and np.isfinite(histories[False][key][-1]), key


def test_every_paper_has_one_registered_method_that_carries_its_facts():
    """Training, the CLI, the benchmark and these tests find methods in METHODS, filled by @register_method."""
    from ganhash_zoo import papers
    from ganhash_zoo.methods import FakeRegGAN, GANHasher, register_method

    assert list(METHODS) == list(papers.METHODS)
    for name, cls in METHODS.items():
        assert cls.method_name == name and cls.learning == papers.METHODS[name]["fit_data"]
        assert cls.needs_labels() == (name in ("dshgan", "fakereg", "ssah"))
    assert [n for n, cls in METHODS.items() if cls.first_stage] == ["fakereg"]
    assert METHODS["fakereg"].first_stage is FakeRegGAN and not hasattr(FakeRegGAN, "bits")
    with pytest.raises(ValueError, match="no entry in papers.METHODS"):
        register_method(type("Sixth", (GANHasher,), {"method_name": "sixth"}))


def test_uspah_similarity_leaves_out_middle_pairs_only_when_asked():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((32, 6)).astype("float32")
    targets, weights = (ops_numpy(t) for t in semantic_similarity(features, 3, 0.5, 0.0, far_fraction=1.0))
    assert weights.min() == 1.0 and set(np.unique(targets)) == {0.0, 1.0}
    _, some = (ops_numpy(t) for t in semantic_similarity(features, 3, 0.5, 0.0, far_fraction=0.25))
    np.testing.assert_array_equal(some, some.T)
    assert (some[targets == 1.0] == 1.0).all()  # graph neighbours always count
    assert 0.25 < some[targets == 0.0].mean() < 0.75  # about the far quarter of each row and column, not all
    with pytest.raises(ValueError, match="far_fraction"):
        METHODS["uspah"](bits=8, image_shape=(28, 28, 1), width=8, far_fraction=0.0)


def test_uspah_on_patch_features_trains_and_round_trips(tmp_path):
    x, _ = tiny_data()
    model = METHODS["uspah"](bits=16, image_shape=(28, 28, 1), width=8, seed=0, features="patches", centroids=8,
                             feature_dim=8).prepare(x)
    model.compile()
    history = fit_once(model, "uspah")
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    model.save_weights(tmp_path / "w.weights.h5")
    fresh = type(model).from_config(model.get_config())
    fresh.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(ops_numpy(fresh.features(probe_images())), ops_numpy(model.features(probe_images())),
                               atol=1e-5)
    with pytest.raises(ValueError, match="features must be"):
        METHODS["uspah"](bits=8, image_shape=(28, 28, 1), width=8, features="vgg")


def test_uspah_graph_codes_reach_the_batches_and_enter_the_encoder_loss_only_when_weighted():
    """With graph_code_weight, each batch carries its images' graph codes and the encoder's loss adds
    weight x mean((E(x) - code)^2)."""
    features = np.random.default_rng(0).uniform(0, 6, (64, 12)).astype("float32")  # a backbone's features
    logs = {}
    for weight in (0.0, 2.0):
        keras.utils.set_random_seed(0)  # the same initial weights for both
        model = METHODS["uspah"](bits=8, image_shape=(12,), width=8, seed=0, graph_neighbours=4,
                                 graph_code_weight=weight).prepare(features)
        model.compile(learning_rate=1e-3)
        args, kwargs = model.fit_inputs(features, None, None, batch_size=64)
        if weight:  # the first batch: 32 anchors, then a graph neighbour of each
            batches = args[0]
            anchors = batches.order[:32]
            images, codes = batches[0]
            np.testing.assert_array_equal(codes, model.graph_codes[np.concatenate([anchors, batches.partner[anchors]])])
        logs[weight] = {k: v[-1] for k, v in model.fit(*args, epochs=1, verbose=0, **kwargs).history.items()}
    assert logs[0.0]["graph_code"] == 0.0 and logs[2.0]["graph_code"] > 0
    assert logs[2.0]["encoder_loss"] - logs[0.0]["encoder_loss"] == pytest.approx(2.0 * logs[2.0]["graph_code"],
                                                                                  rel=1e-3)
    with pytest.raises(ValueError, match="graph-code targets"):  # class ids are not codes
        model.fit(features, np.zeros(len(features)), batch_size=64, epochs=1, verbose=0)
    untraced = METHODS["uspah"](bits=8, image_shape=(12,), width=8, graph_neighbours=4, graph_code_weight=2.0)
    untraced.prepare(features).compile(learning_rate=1e-3)
    with pytest.raises(ValueError, match="graph-code targets"):  # nor are they when a dataset yields them
        untraced.fit(((features, np.zeros((len(features), 1), "float32")) for _ in range(1)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="graph_neighbours"):
        METHODS["uspah"](bits=8, image_shape=(12,), width=8, graph_code_weight=1.0)


def features_and_views(n: int, dim: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) features as a backbone gives them, and (n, 2, dim) pairs of them and their views' (nearby)."""
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 6, (n, dim)).astype("float32")
    return features, np.stack([features, features + rng.normal(0, 0.3, features.shape).astype("float32")], axis=1)


def test_uspah_contrastive_term_compares_each_image_with_its_view_only_when_weighted():
    """On (N, 2, F) pairs of features and their views' the encoder's loss adds weight x InfoNCE between
    the two views' codes; plain features have no views, so the term is left out there."""
    features, pairs = features_and_views(64)
    logs = {}
    for weight, inputs in ((0.0, pairs), (2.0, pairs), (2.0, features)):
        keras.utils.set_random_seed(0)  # the same initial weights and draws for every run
        model = METHODS["uspah"](bits=8, image_shape=(12,), width=8, seed=0, contrastive_weight=weight)
        model.compile(learning_rate=1e-3)
        history = model.fit(inputs, batch_size=64, epochs=1, verbose=0, shuffle=False).history  # one step
        logs[weight, inputs.ndim] = {k: v[-1] for k, v in history.items()}
    assert logs[0.0, 3]["contrast"] == 0.0 and logs[2.0, 2]["contrast"] == 0.0
    assert logs[2.0, 3]["contrast"] > 0
    assert logs[2.0, 3]["encoder_loss"] - logs[0.0, 3]["encoder_loss"] == pytest.approx(
        2.0 * logs[2.0, 3]["contrast"], rel=1e-3)
    restored = METHODS["uspah"].from_config(model.get_config())
    assert restored.hparams["contrastive_weight"] == 2.0 and restored.hparams["contrast_temperature"] == 0.3


def test_dshgan_contrastive_term_enters_the_cnn_loss_only_when_weighted():
    """On pairs of features and their views' the CNN's loss adds weight x InfoNCE between the labelled
    images' codes and their views'."""
    _, pairs = features_and_views(32)
    labels = np.arange(32) % 4
    logs = {}
    for weight in (0.0, 2.0):
        keras.utils.set_random_seed(0)  # the same initial weights and draws for both
        model = METHODS["dshgan"](bits=8, image_shape=(12,), width=8, seed=0, num_classes=4,
                                  contrastive_weight=weight)
        model.compile(learning_rate=1e-3)
        history = model.fit(pairs, labels, batch_size=32, epochs=1, verbose=0, shuffle=False).history  # one step
        logs[weight] = {k: v[-1] for k, v in history.items()}
    assert logs[0.0]["contrast"] == 0.0 and logs[2.0]["contrast"] > 0
    assert logs[2.0]["cnn_loss"] - logs[0.0]["cnn_loss"] == pytest.approx(2.0 * logs[2.0]["contrast"], rel=1e-3)


def test_ssah_decorrelation_term_enters_the_hasher_loss_only_when_weighted():
    """SSAH's bit-decorrelation term (ours, Fashion-MNIST's recipe) adds weight x term to H-Net's loss."""
    x, y = tiny_data(16)
    logs = {}
    for weight in (0.0, 2.0):
        keras.utils.set_random_seed(0)  # the same initial weights for both
        model = METHODS["ssah"](bits=16, image_shape=(28, 28, 1), width=8, seed=0, decorrelation_weight=weight)
        model.compile(learning_rate=1e-3)
        args, kwargs = model.fit_inputs(x, x, y, batch_size=16)  # one step: both see the same weights and batch
        logs[weight] = {k: v[-1] for k, v in model.fit(*args, epochs=1, verbose=0, **kwargs).history.items()}
    assert logs[2.0]["decorrelation"] > 0
    assert logs[0.0]["decorrelation"] == pytest.approx(logs[2.0]["decorrelation"], rel=1e-5)
    assert logs[2.0]["hasher_loss"] - logs[0.0]["hasher_loss"] == pytest.approx(2.0 * logs[2.0]["decorrelation"],
                                                                                rel=1e-3)


def test_ssah_augment_shows_h_net_the_views_of_its_real_images():
    """With augment, H-Net's real images are their augmented views half the time (as DSH-GAN's and FakeReg's
    are); without it the views reach H-Net only through A-Net's deformation, here switched off (difficulty 0)."""
    features, pairs = features_and_views(32, dim=64)
    unmoved = np.stack([features, features], axis=1)  # views equal to the images: nothing to mix
    labels = np.arange(32) % 4
    for augment in (False, True):
        losses = []
        for inputs in (pairs, unmoved):
            keras.utils.set_random_seed(0)  # the same initial weights and draws for both
            model = METHODS["ssah"](bits=8, image_shape=(64,), width=8, seed=0, num_classes=4, augment=augment,
                                    min_difficulty=0.0, difficulty_steps=10**6)
            model.compile(learning_rate=1e-3)
            args, kwargs = model.fit_inputs(inputs, inputs, labels, batch_size=32)  # one step
            losses.append(model.fit(*args, epochs=1, verbose=0, **kwargs).history["hasher_loss"][-1])
        assert (losses[0] != pytest.approx(losses[1], rel=1e-6)) == augment
    with pytest.raises(ValueError, match="augment"):
        METHODS["ssah"](bits=8, image_shape=(64,), width=8, augment="yes")


def test_instance_bits_follow_the_learned_code_fit_after_it_and_survive_export(tmp_path):
    """bits=12 with 4 instance bits: the method learns 8, and its encoder appends InvariantITQ's 4 bits of the
    same inputs (fitted by prepare on the images and their views); fitting changes only the learned part,
    and the exported encoder and method config give back the same codes and split."""
    features, pairs = features_and_views(64)
    model = METHODS["dshgan"](bits=12, image_shape=(12,), width=8, seed=0, num_classes=4, instance_bits=4)
    model.prepare(features, seed=0, views=pairs[:, 1])
    instance = InvariantITQ(4, seed=0, features=np.asarray).fit(features, pairs[:, 1]).project(features) > 0
    model.compile(learning_rate=1e-3)
    model.fit(pairs, np.arange(64) % 4, batch_size=32, epochs=1, verbose=0)
    codes = np.asarray(model.encoder.predict(features, verbose=0))
    assert model.bits == 8 and codes.shape == (64, 12)
    np.testing.assert_array_equal(codes[:, :8] > 0, np.asarray(model._encoder.predict(features, verbose=0)) > 0)
    np.testing.assert_array_equal(codes[:, 8:] > 0, instance)
    save_encoder(model.encoder, tmp_path, {"bits": 12, "method": "dshgan"}, half=False, model=model,
                 model_weights=False)
    np.testing.assert_array_equal(load_encoder(tmp_path).predict(features, verbose=0) > 0, codes > 0)
    restored = load_trainable_model(tmp_path)
    assert (restored.bits, restored.instance_bits) == (8, 4)
    np.testing.assert_array_equal(restored.encoder.predict(features, verbose=0) > 0, codes > 0)


def test_feature_bits_sit_between_the_learned_code_and_the_instance_bits_and_quantise_the_features(tmp_path):
    """bits=12 with 3 feature bits and 4 instance bits: the method learns 5; fit_feature_bits (after training)
    sets the middle 3 to ITQ's bits of the network's pooled features (here the inputs themselves); the
    exported encoder and method config keep all three parts."""
    features, pairs = features_and_views(64)
    model = METHODS["dshgan"](bits=12, image_shape=(12,), width=8, seed=0, num_classes=4, instance_bits=4,
                              feature_bits=3)
    model.prepare(features, seed=0, views=pairs[:, 1])
    model.compile(learning_rate=1e-3)
    model.fit(pairs, np.arange(64) % 4, batch_size=32, epochs=1, verbose=0)
    assert model.bits == 5
    assert not np.asarray(model.encoder.predict(features, verbose=0))[:, 5:8].any()  # unfitted: no bits yet
    model.fit_feature_bits(features, seed=0)
    codes = np.asarray(model.encoder.predict(features, verbose=0))
    np.testing.assert_array_equal(codes[:, :5] > 0, np.asarray(model._encoder.predict(features, verbose=0)) > 0)
    np.testing.assert_array_equal(codes[:, 5:8] > 0, ITQ(3, seed=0, features=np.asarray).fit(features)
                                  .project(features) > 0)
    instance = InvariantITQ(4, seed=0, features=np.asarray).fit(features, pairs[:, 1]).project(features) > 0
    np.testing.assert_array_equal(codes[:, 8:] > 0, instance)
    save_encoder(model.encoder, tmp_path, {"bits": 12, "method": "dshgan"}, half=False, model=model,
                 model_weights=False)
    np.testing.assert_array_equal(load_encoder(tmp_path).predict(features, verbose=0) > 0, codes > 0)
    restored = load_trainable_model(tmp_path)
    assert (restored.bits, restored.feature_bits, restored.instance_bits) == (5, 3, 4)
    np.testing.assert_array_equal(restored.encoder.predict(features, verbose=0) > 0, codes > 0)


def test_instance_and_feature_bits_are_refused_where_they_cannot_be_fitted():
    with pytest.raises(ValueError, match="instance_bits \\+ feature_bits must lie in"):
        METHODS["hashgan"](bits=8, image_shape=(12,), width=8, instance_bits=8)
    with pytest.raises(ValueError, match="instance_bits \\+ feature_bits must lie in"):
        METHODS["hashgan"](bits=8, image_shape=(12,), width=8, instance_bits=4, feature_bits=4)
    with pytest.raises(ValueError, match="instance_bits \\+ feature_bits must lie in"):
        METHODS["hashgan"](bits=8, image_shape=(12,), width=8, feature_bits=-1)
    with pytest.raises(ValueError, match="pixels have none"):
        METHODS["hashgan"](bits=8, image_shape=(28, 28, 1), width=8, feature_bits=2)
    with pytest.raises(ValueError, match="pixels have none"):
        METHODS["hashgan"](bits=8, image_shape=(28, 28, 1), width=8, instance_bits=2)
    with pytest.raises(ValueError, match="augmented views"):
        METHODS["hashgan"](bits=8, image_shape=(12,), width=8, instance_bits=2).prepare(np.zeros((16, 12), "float32"))
