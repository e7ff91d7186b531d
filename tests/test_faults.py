"""Fault injection: bad names, images, files and arguments get one clear line, and lose nothing.

Each row names a fault, what the user does, and the words the error must
contain; the CLI must exit 2 (not a traceback) and leave earlier outputs as
they were.
"""

import json
import subprocess
import sys

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
    monkeypatch.setattr(zoo, "protocol_evaluator",
                        lambda protocol, backbone, data_dir=None, split="test", cut_block=None:
                        built.append(data_dir) or object())
    hasher = ganhash_zoo.load(released[0])
    first, second = hasher.evaluator("/data/a"), hasher.evaluator("/data/b")
    assert first is not second and built == ["/data/a", "/data/b"]
    assert hasher.evaluator("/data/a") is first  # the same data is not loaded twice


# -- nothing a user owns is lost ------------------------------------------------------------------------------

@pytest.fixture
def photos(released):
    """A folder of the user's: 28x28 grey photos and a notes file."""
    folder = released[1] / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("my notes")
    return folder


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_never_deletes_the_input_or_a_folder_that_is_not_an_index(released, photos, capsys, monkeypatch):
    name, tmp_path = released
    before = _snapshot(tmp_path)
    monkeypatch.chdir(photos)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("chapter 1")
    np.savez(mine / "results.npz", accuracy=np.ones(3))  # an .npz of the user's, not codes
    faults = [
        (["index", name, str(photos), "--out", str(photos), "--overwrite"], "holds"),
        (["index", name, str(photos), "--out", str(tmp_path), "--overwrite"], "holds"),
        (["index", name, str(photos), "--out", str(mine), "--overwrite"], "not an output of this kind"),
        (["encode", name, str(photos), "--out", str(mine / "results.npz"), "--overwrite"], "not an output"),
    ]
    for argv, words in faults:
        assert cli.main(argv) == 2, argv
        assert words in capsys.readouterr().err, argv
    assert _snapshot(tmp_path) == {**before, **{p.relative_to(tmp_path): p.read_bytes() for p in mine.iterdir()}}


def test_saving_keeps_the_users_dot_tmp_folder_and_the_old_index_until_the_new_one_is_whole(released, photos,
                                                                                             capsys, monkeypatch):
    from ganhash_zoo.retrieval import index as index_module

    name, tmp_path = released
    out = tmp_path / "p.index"
    users = tmp_path / ".p.index.tmp"  # what the old staging name was
    users.mkdir()
    (users / "keep.txt").write_text("mine")
    assert cli.main(["index", name, str(photos), "--out", str(out)]) == 0
    old = _snapshot(out)

    def broken_write(index, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_module._faiss(), "write_index_binary", broken_write)
    capsys.readouterr()
    assert cli.main(["index", name, str(photos), "--out", str(out), "--overwrite"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _snapshot(out) == old and (users / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".p.index")) == [".p.index.tmp"]


def test_a_run_folder_is_locked_while_a_process_trains_in_it(tmp_path):
    import fcntl

    from ganhash_zoo.training import LOCK, RunBusyError, lock_run_folder

    out = tmp_path / "run"
    out.mkdir()
    with open(out / LOCK, "a+") as other:  # another process's lock (flock is per open file)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunBusyError, match="being trained by another process"):
            lock_run_folder(out)
    lock_run_folder(out)  # free again


def test_json_and_grid_outputs_are_never_replaced_silently(released, photos, capsys):
    name, tmp_path = released
    assert cli.main(["index", name, str(photos), "--out", str(tmp_path / "p.index")]) == 0
    query = photos / "0.png"
    before = query.read_bytes()
    capsys.readouterr()
    for overwrite, words in (([], "--overwrite"), (["--overwrite"], "holds")):  # a query photo: never replaced
        argv = ["search", str(tmp_path / "p.index"), str(query), "--k", "1", "--grid", str(query), *overwrite]
        assert cli.main(argv) == 2 and words in capsys.readouterr().err
    assert query.read_bytes() == before
    results = tmp_path / "results.json"
    results.write_text("the run's results")
    assert cli.main(["evaluate", name, "--json", str(results)]) == 2
    assert "--overwrite" in capsys.readouterr().err and results.read_text() == "the run's results"


@pytest.mark.parametrize("argv,words", [
    (["--option", "balance_wieght=0.1"], "refuses its options"),
    (["--option", "width=8"], "sets what the run decides itself"),
    (["--seed", "-1"], "seed must be a non-negative integer"),
    (["--max-unlabeled", "-5"], "max_unlabeled must be a positive integer"),
    (["--learning-rate", "nan"], "learning_rate must be a positive number"),
    (["--bits", "100000"], "bits must be at most 1024"),
    (["--budget-minutes", "0"], "--budget-minutes must be a positive number"),
])
def test_training_arguments_are_checked_before_the_run_folder_is_claimed(fashion, tmp_path, capsys, argv, words):
    out = tmp_path / "run"
    code = cli.main(["train", "dshgan", "--dataset", "fashion_mnist", "--bits", "16", "--width", "8", "--epochs", "1",
                     "--max-unlabeled", "64", "--backbone", "dcgan", "--out", str(out), *argv])
    assert code == 2 and words in capsys.readouterr().err
    assert not out.exists()


# -- nothing unverified is loaded -----------------------------------------------------------------------------

def test_release_refuses_file_names_outside_the_run(tmp_path):
    from ganhash_zoo.releases import release_run

    run = tmp_path / "run"
    (run / "encoder").mkdir(parents=True)
    (tmp_path / "X").write_text("not the run's")
    (run / "results.json").write_text(json.dumps({
        "name": "hashgan-cifar10-48bit", "protocol": "cifar10-59k", "seed": 0, "metrics": {}, "baselines": {},
        "files": {"../../X": "0" * 64}}))
    with pytest.raises(ValueError, match="only plain file names"):
        release_run(run, tmp_path / "weights", tmp_path / "released.json", require_bar=False)
    assert not (tmp_path / "weights").exists()


def test_a_folder_named_like_a_model_is_never_taken_for_it(released, photos, capsys, monkeypatch):
    from ganhash_zoo.methods import HashGAN

    name, tmp_path = released
    impostor = HashGAN(bits=16, image_shape=(28, 28, 1), width=8, seed=99)
    save_encoder(impostor.encoder, tmp_path / "cwd" / name, {"name": name, "method": "hashgan", "bits": 16})
    monkeypatch.chdir(tmp_path / "cwd")
    assert cli.main(["encode", name, str(photos), "--out", str(tmp_path / "c")]) == 0
    with np.load(tmp_path / "c.npz") as f:
        by_name = f["packed"]
    expected = ganhash_zoo.load(name).encode(np.stack([np.asarray(Image.open(p)) for p in sorted(photos.glob("*.png"))]))
    np.testing.assert_array_equal(by_name, expected.packed)  # the registry's verified model, not the folder
    assert cli.main(["encode", f"./{name}", str(photos), "--out", str(tmp_path / "d")]) == 0  # a path: the folder


def test_search_loads_only_the_model_whose_sha256_the_index_recorded(released, photos, capsys):
    name, tmp_path = released
    out = tmp_path / "p.index"
    assert cli.main(["index", name, str(photos), "--out", str(out)]) == 0
    meta_file = out / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["model"]["name"], meta["model"]["source"] = "../elsewhere", str(tmp_path)
    meta["model"].pop("encoder_sha256")
    meta_file.write_text(json.dumps(meta))
    assert cli.main(["search", str(out), str(photos / "0.png"), "--k", "1"]) == 2
    assert "cannot be verified" in capsys.readouterr().err
    meta["model"] = {**meta["model"], "name": name, "encoder_sha256": "0" * 64}
    meta_file.write_text(json.dumps(meta))
    assert cli.main(["search", str(out), str(photos / "0.png"), "--k", "1"]) == 2
    assert "is not the encoder that built this index" in capsys.readouterr().err


def test_a_fifo_in_place_of_a_weight_file_or_an_image_never_hangs(released, photos, capsys):
    import os

    name, tmp_path = released
    os.mkfifo(photos / "pipe.png")
    assert cli.main(["encode", name, str(photos), "--out", str(tmp_path / "c")]) == 0
    assert "pipe.png': cannot be read" in capsys.readouterr().err  # skipped with the reason, not a hang
    config = tmp_path / "weights" / name / "config.json"
    config.unlink()
    os.mkfifo(config)
    with pytest.raises(zoo.WeightIntegrityError, match="not a regular file"):
        ganhash_zoo.load(name)


# -- silently wrong -------------------------------------------------------------------------------------------

def test_an_index_file_of_another_faiss_kind_is_refused(released, photos):
    import faiss

    from ganhash_zoo.retrieval import HammingIndex

    name, tmp_path = released
    out = tmp_path / "p.index"
    assert cli.main(["index", name, str(photos), "--out", str(out)]) == 0
    other = faiss.IndexBinaryHash(16, 8)
    other.add(np.zeros((6, 2), np.uint8))
    faiss.write_index_binary(other, str(out / "index.faiss"))
    with pytest.raises(ValueError, match="IndexBinaryHash"):
        HammingIndex.load(out)


def test_exif_orientation_and_16_bit_images_are_read_as_they_look(tmp_path):
    from ganhash_zoo.image_files import read_image

    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:10] = 255  # white at the top
    image = Image.fromarray(np.ascontiguousarray(np.rot90(tall)))  # stored sideways...
    exif = image.getexif()
    exif[0x0112] = 6  # ...with EXIF saying: turn it 90 degrees clockwise to view it
    image.save(tmp_path / "sideways.jpg", exif=exif, quality=100)
    upright = read_image(tmp_path / "sideways.jpg")
    assert upright.shape == (40, 20, 3) and upright[:10].mean() > 200 and upright[20:].mean() < 50
    deep = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    grey = read_image(tmp_path / "deep.png", "L")
    assert grey.min() == 0 and grey.max() == 255 and 100 < grey.mean() < 155  # scaled, not clipped at 255


def test_an_unverified_copy_is_warned_about_on_every_load_and_changed_labels_rebuild_the_cache(tmp_path, monkeypatch):
    from ganhash_zoo.datasets import load_image_folder
    from ganhash_zoo.datasets.loading import cache_dir

    monkeypatch.setenv("GANHASH_ZOO_CACHE", str(tmp_path / "cache"))
    for cls in ("a", "b"):
        (tmp_path / "data" / "train" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / "data" / "train" / cls / f"{i}.png")
    first = load_image_folder(tmp_path / "data")
    entry = next(cache_dir().glob("data-*"))
    labels = np.load(entry / "labels.npy")
    np.save(entry / "labels.npy", labels[::-1])  # two labels swapped in the cache
    with pytest.warns(UserWarning, match="modified"):
        again = load_image_folder(tmp_path / "data")
    np.testing.assert_array_equal(again.labels, first.labels)


def test_a_machine_without_a_network_fails_in_seconds(monkeypatch, tmp_path):
    import time

    from ganhash_zoo.datasets import DatasetError, load_dataset, sources

    monkeypatch.setattr(sources, "host_resolves", lambda host, timeout=3.0: False)
    monkeypatch.delenv("GANHASH_ZOO_DATA", raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    started = time.time()
    with pytest.raises(DatasetError, match="cannot be reached"):
        load_dataset("cifar10", source="tfds")
    assert time.time() - started < 5
    with pytest.raises(DatasetError, match="no local copy of cifar10"):
        load_dataset("cifar10", data_dir=tmp_path)  # an explicit folder without it: no download attempted


def test_a_read_only_install_compiles_the_radius_loop_in_memory(monkeypatch):
    import numba

    from ganhash_zoo.retrieval import prefix_table

    real = numba.njit

    def no_cache_locator(*args, **kwargs):
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function '_probe_query': no locator available for file")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache_locator)
    for name in ("_compiled", "_popcount", "_probe_query", "_probe"):
        monkeypatch.setattr(prefix_table, name, getattr(prefix_table, name))
    monkeypatch.setattr(prefix_table, "_compiled", False)
    monkeypatch.setattr(prefix_table, "_popcount", prefix_table._popcount.py_func
                        if hasattr(prefix_table._popcount, "py_func") else prefix_table._popcount)
    monkeypatch.setattr(prefix_table, "_probe_query", getattr(prefix_table._probe_query, "py_func",
                                                              prefix_table._probe_query))
    monkeypatch.setattr(prefix_table, "_probe", getattr(prefix_table._probe, "py_func", prefix_table._probe))
    codes = np.random.default_rng(0).integers(0, 256, (100, 2), dtype=np.uint8)
    table = prefix_table.PrefixTable(codes, 16)
    query_of, rows, distances = table.range_search(codes, codes[:3], 2)
    assert set(query_of.tolist()) == {0, 1, 2} and (distances <= 2).all()


# -- one line, not a traceback --------------------------------------------------------------------------------

def test_damaged_files_and_bad_arguments_get_one_line(released, photos, capsys):
    from ganhash_zoo.retrieval import HammingIndex

    name, tmp_path = released
    out = tmp_path / "p.index"
    assert cli.main(["index", name, str(photos), "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    (out / "meta.json").write_text(json.dumps({"format_version": meta["format_version"]}))
    empty = tmp_path / "empty.npz"
    np.savez(empty)
    huge = tmp_path / "huge.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.uint8))
    header["shape"] = (10**12, 28, 28)
    with open(huge, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
    (tmp_path / "afile").write_text("x")
    Image.frombytes("L", (8, 8), bytes(64)).save(tmp_path / "bomb.png")
    faults = [
        (["search", str(out), str(photos / "0.png")], "lacks bits, kind, count, model"),
        (["encode", name, str(empty), "--out", str(tmp_path / "e")], "not a readable array file"),
        (["encode", name, str(huge), "--out", str(tmp_path / "h")], "not a readable array file"),
        (["index", name, str(photos), "--out", str(tmp_path / "afile"), "--overwrite"], "not an output of this kind"),
    ]
    for argv, words in faults:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, (argv, err)
    index = HammingIndex.build(ganhash_zoo.load(name).encode(np.zeros((3, 28, 28), np.uint8)), kind="hash")
    for radius in (2**31 + 5, 2.0, -1):
        if radius == 2**31 + 5:
            assert len(index.range_search(index_codes(index), radius)[0][0]) == 3  # every code is within reach
        else:
            with pytest.raises(ValueError, match="whole number of bits"):
                index.range_search(index_codes(index), radius)


def index_codes(index):
    from ganhash_zoo.retrieval import PackedCodes

    return PackedCodes(index.stored_codes()[:1].copy(), index.bits)


def test_a_decompression_bomb_is_skipped_like_any_unreadable_file(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    from ganhash_zoo.image_files import UnreadableImage, read_image

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)
    PILImage.new("L", (64, 64)).save(tmp_path / "bomb.png")
    with pytest.raises(UnreadableImage, match="decompression-bomb"):
        read_image(tmp_path / "bomb.png")


def test_fit_takes_grey_images_without_a_channel_axis_as_encode_does():
    from ganhash_zoo.methods import HashGAN

    model = HashGAN(bits=8, image_shape=(28, 28, 1), width=8, seed=0)
    model.compile()
    history = model.fit(np.random.default_rng(0).integers(0, 256, (32, 28, 28), dtype=np.uint8), batch_size=16,
                        epochs=1, verbose=0)
    assert np.isfinite(history.history["generator_loss"][-1])
    with pytest.raises(ValueError, match=r"fits on inputs shaped \(N, 28, 28, 1\)"):
        model.fit(np.zeros((32, 30, 30, 1), np.uint8), batch_size=16, epochs=1, verbose=0)


def test_an_unverified_copy_of_a_named_dataset_is_warned_about_from_the_cache_too(tmp_path, monkeypatch):
    from ganhash_zoo.datasets import load_dataset

    monkeypatch.setenv("GANHASH_ZOO_CACHE", str(tmp_path / "cache"))
    for i, cls in enumerate(("airplane", "automobile")):
        (tmp_path / "data" / "cifar10" / "train" / cls).mkdir(parents=True)
        Image.new("RGB", (32, 32), (i * 90, 0, 0)).save(tmp_path / "data" / "cifar10" / "train" / cls / "0.png")
    for _ in range(2):  # decoded, then served from the cache: warned both times
        with pytest.warns(UserWarning, match="not a copy whose pixels ganhash-zoo has verified"):
            load_dataset("cifar10", data_dir=tmp_path / "data")


def test_ctrl_c_during_training_says_where_the_run_resumes(monkeypatch, tmp_path, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "train", interrupted)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "state.json").write_text(json.dumps({"epochs_done": 3}))
    assert cli.main(["train", "hashgan", "--out", str(tmp_path / "run")]) == 2
    assert "resumes after epoch 3" in capsys.readouterr().err


def test_a_run_folder_whose_config_lost_its_keys_and_a_vanished_indexed_image_get_one_line(released, photos,
                                                                                           capsys):
    name, tmp_path = released
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"format": 1, "name": name}))
    assert cli.main(["encode", str(run), str(photos), "--out", str(tmp_path / "c")]) == 2
    assert "has no 'encoder'" in capsys.readouterr().err
    assert cli.main(["index", name, str(photos), "--out", str(tmp_path / "p.index")]) == 0
    (photos / "1.png").write_text("replaced by text after indexing")
    assert cli.main(["search", str(tmp_path / "p.index"), str(photos / "0.png"), "--k", "6",
                     "--grid", str(tmp_path / "grid.png")]) == 0  # its tile is left empty
    assert (tmp_path / "grid.png").stat().st_size > 1000


def test_a_newline_in_a_file_name_cannot_fake_a_result_line(released, photos, capsys):
    name, tmp_path = released
    odd = photos / "a\n  0  secret.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(odd)
    assert cli.main(["index", name, str(photos), "--out", str(tmp_path / "p.index")]) == 0
    capsys.readouterr()
    assert cli.main(["search", str(tmp_path / "p.index"), str(odd), "--k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "\\n" in lines[0] and not any(line.startswith("  0  secret") for line in lines)


def test_cli_output_cut_short_by_its_reader_is_not_reported_as_an_error():
    """`ganhash-zoo info NAME | head -1`: a reader that stops early gets no 'Broken pipe' error line."""
    child = subprocess.Popen([sys.executable, "-m", "ganhash_zoo.cli", "info", "hashgan-cifar10-48bit"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # before the child has imported anything, so its first write finds no reader
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 1 and "error" not in stderr, stderr
