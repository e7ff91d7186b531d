"""Fault injection: bad names, images, files and arguments get one clear line, and lose nothing.

Each row names a fault, what the user does, and the words the error must
contain; the CLI must exit 2 (not a traceback) and leave earlier outputs as
they were.
"""

import json

import numpy as np
import pytest
from PIL import Image

import ganhash_zoo
from ganhash_zoo import cli, registry, zoo
from ganhash_zoo.export import save_encoder


@pytest.fixture
def released(tmp_path, monkeypatch):
    """A released, unpublished entry backed by a freshly exported (untrained) 28x28x1 encoder."""
    from ganhash_zoo.methods import HashGAN

    name = "hashgan-fashion-mnist-48bit"
    model = HashGAN(bits=16, image_shape=(28, 28, 1), width=8, seed=0)
    files = save_encoder(model.encoder, tmp_path / "weights" / name, {"name": name, "method": "hashgan", "bits": 16})
    released_json = tmp_path / "released.json"
    released_json.write_text(json.dumps({name: {"files": files, "bits": 16}}))
    monkeypatch.setattr(registry, "released_file", lambda: released_json)
    monkeypatch.setenv(zoo.WEIGHTS_ENV, str(tmp_path / "weights"))
    return name, tmp_path


IMAGE_FAULTS = [
    ("wrong shape", np.zeros((2, 32, 32, 3), np.uint8), ValueError, r"\(N, 28, 28, 1\)"),
    ("float out of range", np.full((2, 28, 28, 1), 200.0), ValueError, r"float images must be in \[0, 1\]"),
    ("int64 pixels above 255", np.full((2, 28, 28, 1), 300, np.int64), ValueError, "0..255"),
    ("negative int pixels", np.full((2, 28, 28, 1), -1, np.int32), ValueError, "0..255"),
    ("strings", np.array([["a"]]), TypeError, "numeric"),
    ("NaN", np.full((1, 28, 28, 1), np.nan), ValueError, "NaN"),
]


@pytest.mark.parametrize("fault,images,error,words", IMAGE_FAULTS, ids=[row[0] for row in IMAGE_FAULTS])
def test_bad_images_are_refused_with_the_rule(released, fault, images, error, words):
    with pytest.raises(error, match=words):
        ganhash_zoo.load(released[0]).encode(images)


def test_integer_images_of_any_dtype_are_pixel_values(released):
    hasher = ganhash_zoo.load(released[0])
    pixels = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1))
    np.testing.assert_array_equal(hasher.encode(pixels.astype(np.int64)).packed,
                                  hasher.encode(pixels.astype(np.uint8)).packed)
    ones = np.ones((1, 28, 28, 1), np.int64)  # integer 1 is a dark pixel, never "white in 0..1"
    np.testing.assert_array_equal(hasher.relaxed_codes(ones), hasher.relaxed_codes(np.full_like(ones, 1, np.uint8)))


NAME_FAULTS = [
    ("None", None, zoo.UnknownModelError, "a model name is a string"),
    ("typo", "hashgan-cifar-48bit", zoo.UnknownModelError, "Did you mean: hashgan-cifar10-48bit"),
    ("planned, not released", "ssah-cifar10-16bit", zoo.WeightsNotAvailableError, "scripts/train.py ssah"),
]


@pytest.mark.parametrize("fault,name,error,words", NAME_FAULTS, ids=[row[0] for row in NAME_FAULTS])
def test_bad_model_names(fault, name, error, words, withhold):
    if fault == "planned, not released":
        withhold(name)  # the zoo grows: any planned name serves
    with pytest.raises(error, match=words):
        ganhash_zoo.load(name)


def test_missing_weight_file_and_missing_weights_folder_are_named(released, monkeypatch):
    name, tmp_path = released
    (tmp_path / "weights" / name / "encoder.weights.h5").unlink()
    with pytest.raises(zoo.WeightsNotAvailableError, match=r"missing: .*encoder\.weights\.h5"):
        ganhash_zoo.load(name)
    monkeypatch.setenv(zoo.WEIGHTS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(zoo.WeightsNotAvailableError, match=r"GANHASH_ZOO_WEIGHTS=.*nowhere does not exist"):
        ganhash_zoo.load(name)


def test_tampered_unpublished_weights_say_how_to_restore_them(released):
    name, tmp_path = released
    weights = tmp_path / "weights" / name / "encoder.weights.h5"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(zoo.WeightIntegrityError, match="not on the Hub yet.*git checkout"):
        ganhash_zoo.load(name)
    assert weights.read_bytes() == bytes(data)


def _png(path, size, mode="L"):
    Image.new(mode, size, 128).save(path)


def test_cli_encode_faults_exit_2_with_one_line_and_keep_earlier_codes(released, capsys):
    name, tmp_path = released
    folder = tmp_path / "imgs"
    folder.mkdir()
    _png(folder / "a.png", (28, 28))
    (folder / "broken.png").write_bytes(b"not a png")
    codes = tmp_path / "mycodes"
    assert cli.main(["encode", name, str(folder), "--out", str(codes)]) == 0
    assert "skipped 1 unreadable file(s)" in capsys.readouterr().err
    written = (tmp_path / "mycodes.npz").read_bytes()

    faults = [
        (["encode", name, str(folder), "--out", str(codes)], "mycodes.npz exists"),  # .npz added: still protected
        (["encode", name, str(tmp_path / "missing.png"), "--out", str(tmp_path / "x")], "does not exist"),
        (["encode", name, str(folder), "--out", str(tmp_path / "no" / "dir" / "c")], "does not exist; create it"),
        (["baseline", "lsh", "--dataset", "mnist"], "unknown dataset 'mnist'"),
        (["train", "dshgan", "--dataset", "mnist", "--out", str(tmp_path / "run")], "unknown dataset 'mnist'"),
        (["train", "dshgan", "--bits", "0", "--out", str(tmp_path / "run")], "bits must be a positive integer"),
        (["info", "no-such-model"], "unknown model"),
    ]
    for argv, words in faults:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (argv, err)
    assert (tmp_path / "mycodes.npz").read_bytes() == written
    assert not (tmp_path / "run").exists()  # a refused training leaves no folder behind


def test_cli_refuses_images_of_another_size_unless_asked_to_convert(released, capsys):
    name, tmp_path = released
    folder = tmp_path / "big"
    folder.mkdir()
    _png(folder / "rgb.png", (64, 64), "RGB")
    assert cli.main(["encode", name, str(folder), "--out", str(tmp_path / "c")]) == 2
    assert "not 28x28 L" in capsys.readouterr().err and not (tmp_path / "c.npz").exists()
    assert cli.main(["encode", name, str(folder), "--out", str(tmp_path / "c"), "--convert"]) == 0
    assert "converted 1 image(s)" in capsys.readouterr().err


def test_evaluate_with_another_data_dir_builds_another_evaluator(released, monkeypatch):
    built = []
    monkeypatch.setattr(zoo, "protocol_evaluator", lambda protocol, backbone, data_dir=None: built.append(
        data_dir) or object())
    hasher = ganhash_zoo.load(released[0])
    first, second = hasher.evaluator("/data/a"), hasher.evaluator("/data/b")
    assert first is not second and built == ["/data/a", "/data/b"]
    assert hasher.evaluator("/data/a") is first  # the same data is not loaded twice
