"""Loaders round-trip, bad data gets clear errors, and the shipped splits are what their seeds give."""

import gzip
import tarfile

import numpy as np
import pytest
from PIL import Image

from ganhash_zoo.datasets import (
    PROTOCOLS, DatasetError, load_dataset, load_image_folder, load_split, make_split,
)
from ganhash_zoo.datasets.sources import read_idx_folder


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANHASH_ZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_folder(root, shape=(8, 8, 3)):
    rng = np.random.default_rng(0)
    arrays = {}
    for part in ("train", "test"):
        for cls in ("cat", "ant"):
            (root / part / cls).mkdir(parents=True)
            for i in range(3):
                a = rng.integers(0, 255, shape, dtype=np.uint8)
                Image.fromarray(a.squeeze()).save(root / part / cls / f"{i:04d}.png")
                arrays[(part, cls, i)] = a
    return arrays


def test_idx_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5), ("t10k", 3)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 4, 4)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 2)
    data = read_idx_folder(tmp_path, ["a", "b"])
    assert data.images.shape == (8, 4, 4, 1) and list(data.parts[:5]) == ["train"] * 5
    np.testing.assert_array_equal(data.labels, [0, 1, 0, 1, 0, 0, 1, 0])


def test_idx_errors_say_what_is_wrong(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x03garbage")
    with pytest.raises(DatasetError, match="magic"):
        read_idx_folder(tmp_path, [])
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 2, 2)))
    data = (tmp_path / "train-images-idx3-ubyte.gz").read_bytes()
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(gzip.decompress(data)[:-3])
    with pytest.raises(DatasetError, match="truncated"):
        read_idx_folder(tmp_path, [])


def test_folder_and_tar_give_the_same_canonical_order(tmp_path):
    arrays = make_folder(tmp_path / "imgs")
    with tarfile.open(tmp_path / "imgs.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "imgs", arcname=".")
    for data in (load_image_folder(tmp_path / "imgs"), load_image_folder(tmp_path / "imgs.tar.gz")):
        assert data.class_names == ["ant", "cat"]
        assert list(data.parts) == ["train"] * 6 + ["test"] * 6
        np.testing.assert_array_equal(data.labels, [0, 0, 0, 1, 1, 1] * 2)
        np.testing.assert_array_equal(data.images[4], arrays[("train", "cat", 1)])
        np.testing.assert_array_equal(data.images[6], arrays[("test", "ant", 0)])


def test_second_load_comes_from_the_cache(tmp_path):
    make_folder(tmp_path / "imgs")
    first = load_image_folder(tmp_path / "imgs")
    second = load_image_folder(tmp_path / "imgs")
    assert isinstance(second.images, np.memmap)
    np.testing.assert_array_equal(first.images, second.images)


def test_bad_folders_get_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        load_image_folder(tmp_path / "empty")
    (tmp_path / "mixed" / "a").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "mixed" / "a" / "1.png")
    Image.new("RGB", (5, 4)).save(tmp_path / "mixed" / "a" / "2.png")
    with pytest.raises(DatasetError, match="different sizes"):
        load_image_folder(tmp_path / "mixed")
    (tmp_path / "broken" / "a").mkdir(parents=True)
    (tmp_path / "broken" / "a" / "x.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="cannot decode"):
        load_image_folder(tmp_path / "broken")
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("imagenet")
    with pytest.raises(DatasetError, match="no local copy"):
        load_dataset("cifar10", data_dir=tmp_path / "empty", source="local")


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_shipped_split_is_what_its_seed_draws(name, fashion, cifar):
    data = (cifar if PROTOCOLS[name].dataset == "cifar10" else fashion)[0]
    shipped = load_split(name, data)
    redrawn = make_split(PROTOCOLS[name], data.labels, data.parts, seed=shipped.seed)
    for part in ("query", "database", "train", "val", "unlabeled"):
        np.testing.assert_array_equal(getattr(shipped, part), getattr(redrawn, part))


@pytest.mark.parametrize("name,query,database,labelled", [
    ("cifar10-54k", 1000, 54000, 5000), ("cifar10-59k", 1000, 59000, 5000),
    ("cifar10-10k", 10000, 50000, 50000), ("fashion_mnist-59k", 1000, 59000, 5000),
])
def test_split_sizes_class_counts_and_disjointness(name, query, database, labelled, fashion, cifar):
    data = (cifar if PROTOCOLS[name].dataset == "cifar10" else fashion)[0]
    split = load_split(name, data)
    assert (len(split.query), len(split.database), len(split.train) + len(split.val)) == (query, database, labelled)
    assert not np.intersect1d(split.query, split.database).size
    assert not np.intersect1d(split.query, np.concatenate([split.train, split.val])).size
    assert not np.intersect1d(split.train, split.val).size
    if PROTOCOLS[name].query_per_class:
        np.testing.assert_array_equal(np.bincount(data.labels[split.query]), [query // 10] * 10)
        np.testing.assert_array_equal(np.bincount(data.labels[np.concatenate([split.train, split.val])]),
                                      [labelled // 10] * 10)
    if name == "cifar10-54k":
        assert not np.intersect1d(split.train, split.database).size and not len(split.unlabeled)
    if name.endswith("59k"):
        assert np.isin(split.train, split.database).all()
        np.testing.assert_array_equal(split.unlabeled, split.database)


def test_split_refuses_data_in_another_order(fashion):
    data, _ = fashion
    shuffled = type(data)(data.images, data.labels[::-1].copy(), data.class_names, data.parts)
    with pytest.raises(DatasetError, match="not in the order"):
        load_split("fashion_mnist-59k", shuffled)


def test_cifar10_jpeg_copy_loads_in_class_folder_order(cifar):
    data, _ = cifar
    assert data.images.shape == (60000, 32, 32, 3) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(data.labels[:50000]), [5000] * 10)
    assert (data.parts[:50000] == "train").all() and (data.parts[50000:] == "test").all()


@pytest.mark.parametrize("name", ["fashion_mnist", "cifar10"])
def test_tfds_builders_construct_offline(name, tmp_path):
    """The builders import their own dependencies (importlib_resources was missing, and every
    tfds load failed before reaching the network)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=str(tmp_path))
    assert builder.info.features["label"].num_classes == 10
    assert builder.code_path.name.endswith(".py")  # where download_and_prepare finds its checksums


def test_tfds_arrays_become_image_data_in_file_order(monkeypatch):
    """read_tfds on what tfds.load(batch_size=-1) returns: parts in train/test order, CIFAR ids re-sorted."""
    import tensorflow_datasets as tfds

    from ganhash_zoo.datasets.sources import read_tfds

    rng = np.random.default_rng(0)

    def part(n, offset):
        labels = rng.integers(0, 10, n)
        ids = np.array([f"train_{i:05d}".encode() for i in rng.permutation(n) + offset])
        return {"image": rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8), "label": labels, "id": ids}

    splits = {"test": part(5, 100), "train": part(7, 0)}
    info = type("Info", (), {"features": {"label": type("L", (), {"names": [str(i) for i in range(10)]})()}})()
    monkeypatch.setattr(tfds, "load", lambda *a, **k: (splits, info))
    monkeypatch.setattr(tfds, "as_numpy", lambda x: x)
    data = read_tfds("cifar10")
    assert data.images.shape == (12, 4, 4, 3) and data.class_names[:2] == ["0", "1"]
    train_ids = [int(i.decode().rsplit("_", 1)[1]) for i in splits["train"]["id"]]
    order = np.lexsort((train_ids, splits["train"]["label"]))
    np.testing.assert_array_equal(data.images[:7], splits["train"]["image"][order])
    np.testing.assert_array_equal(data.labels[:7], splits["train"]["label"][order])


def test_tfds_import_failure_names_the_module(monkeypatch):
    import tensorflow_datasets as tfds

    from ganhash_zoo.datasets import DatasetError
    from ganhash_zoo.datasets.sources import read_tfds

    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")

    monkeypatch.setattr(tfds, "load", missing)
    with pytest.raises(DatasetError, match="pip install importlib_resources"):
        read_tfds("fashion_mnist")


@pytest.fixture
def fashion_copy(tmp_path):
    """An uncompressed copy of the real Fashion-MNIST IDX files (flipping a byte there has no CRC to trip)."""
    from conftest import SHARED_DATA

    source = SHARED_DATA / "fashion-mnist"
    if not source.exists():
        pytest.skip(f"real data not found at {source}")
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    for gz in source.glob("*.gz"):
        (folder / gz.name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
    return folder


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_pixel_in_a_known_copy_stops_loading_and_a_good_copy_loads_again(fashion_copy, private_cache):
    images = fashion_copy / "train-images-idx3-ubyte"
    good = images.read_bytes()
    _flip(images, len(good) // 2)  # one pixel in the middle of the file
    with pytest.raises(DatasetError, match="differ from the verified copy"):
        load_dataset("fashion_mnist", data_dir=fashion_copy.parent)
    images.write_bytes(good)  # the user puts a good copy back: it is decoded afresh, not served from a cache
    assert load_dataset("fashion_mnist", data_dir=fashion_copy.parent).images.shape == (70000, 28, 28, 1)


def test_modified_cache_entry_is_not_used(fashion_copy, private_cache):
    decoded = np.array(load_dataset("fashion_mnist", data_dir=fashion_copy.parent).images)
    cached = next(private_cache.rglob("images.npy"))
    _flip(cached, cached.stat().st_size - 7)  # the last pixel
    with pytest.warns(UserWarning, match="were modified"):
        again = load_dataset("fashion_mnist", data_dir=fashion_copy.parent)
    np.testing.assert_array_equal(again.images, decoded)  # decoded again, not the tampered arrays


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_cifar_tar_gz_is_refused(damage, tmp_path, private_cache):
    from conftest import SHARED_DATA

    source = SHARED_DATA / "cifar10-jpeg.tar.gz"
    if not source.exists():
        pytest.skip(f"real data not found at {source}")
    data = bytearray(source.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01  # tarfile alone would not notice: the gzip CRC does
    else:
        data = data[: len(data) // 3]
    (tmp_path / "cifar10-jpeg.tar.gz").write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="truncated or corrupt|cannot read|differ from the verified"):
        load_dataset("cifar10", data_dir=tmp_path)
