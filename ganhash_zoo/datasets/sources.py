"""Readers that turn one on-disk (or tfds) copy of a dataset into uint8 arrays.

Every reader returns images in one *canonical order* so that the split index
files shipped with the package mean the same images whatever the source:

* class-folder data (a directory or a tar of one): ``train/`` before ``test/``
  (other folders after, alphabetically), classes alphabetically, files
  sorted by name within a class;
* IDX files: training file then test file, in file order;
* tensorflow-datasets: re-sorted into the class-folder order using the
  example ``id`` where the dataset has one (CIFAR-10 does).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .transforms import near_duplicates

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
SPLIT_ORDER = ("train", "test")


class DatasetError(RuntimeError):
    """Data is missing or malformed; the message says what to do."""


def pixel_fingerprint(images: np.ndarray) -> str:
    """sha256 of the decoded uint8 images in canonical order: one flipped pixel changes it."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(images)).cast("B")).hexdigest()


def read_gzip_checked(path: Path) -> bytes:
    """The whole decompressed stream; gzip checks its CRC and length only when read to the end."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} is truncated or corrupt ({error}); replace it with a good copy") from error


@dataclass
class ImageData:
    """Decoded images (N, H, W, C) uint8, integer labels (N,) and class names.

    ``parts`` names the source folder of each image ("train"/"test" for the
    standard datasets) so protocols such as ``cifar10-10k`` can use the
    original train/test split.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    parts: np.ndarray
    unverified: str | None = None  # why figures on this copy may differ from the registry's, if they may

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise DatasetError(
                f"images must be uint8 (N, H, W, C); got {self.images.dtype} {self.images.shape}"
            )
        if len(self.labels) != len(self.images) or len(self.parts) != len(self.images):
            raise DatasetError("images, labels and parts must have the same length")

    def __len__(self):
        return len(self.images)

    def training_inputs(self, indices) -> np.ndarray:
        """What a method on pixels fits on: the images themselves."""
        return self.images[indices]

    def copies_of(self, indices) -> np.ndarray:
        """The near-duplicate copies of some images, as model inputs (see datasets/transforms.py)."""
        return near_duplicates(self.images[indices])


def _decode_image(data: bytes, name: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            array = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
    except Exception as error:  # PIL raises many types for broken files
        raise DatasetError(f"cannot decode image {name!r}: {error}") from error
    return array[..., None] if array.ndim == 2 else array


def _canonical_sort_key(parts: tuple[str, ...]):
    """(split rank, split, class, file) for 'split/class/file' or 'class/file'."""
    if len(parts) >= 3:
        split, cls, fname = parts[-3], parts[-2], parts[-1]
    else:
        split, cls, fname = "", parts[-2], parts[-1]
    rank = SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER)
    return (rank, split, cls, fname)


def _assemble(entries: list[tuple[tuple[str, ...], bytes]], origin: str) -> ImageData:
    if not entries:
        raise DatasetError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {origin}; expected "
            "class sub-folders, optionally under train/ and test/"
        )
    entries.sort(key=lambda item: _canonical_sort_key(item[0]))
    keys = [_canonical_sort_key(p) for p, _ in entries]
    class_names = sorted({k[2] for k in keys})
    index = {c: i for i, c in enumerate(class_names)}
    images = [_decode_image(data, "/".join(p)) for p, data in entries]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DatasetError(
            f"images in {origin} have different sizes {sorted(shapes)[:4]}; resize them "
            "to one size first (hashing networks take a fixed input size)"
        )
    return ImageData(
        images=np.stack(images),
        labels=np.array([index[k[2]] for k in keys], dtype=np.int64),
        class_names=class_names,
        parts=np.array([k[1] for k in keys]),
    )


def read_image_folder(root: str | os.PathLike) -> ImageData:
    """Read ``root/[split/]class/image`` into arrays (class = folder name)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist")
    entries = []
    for path in root.rglob("*"):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            rel = path.relative_to(root).parts
            if len(rel) < 2:
                continue  # loose files have no class
            entries.append((rel, path.read_bytes()))
    return _assemble(entries, str(root))


def read_image_tar(path: str | os.PathLike) -> ImageData:
    """Read a tar(.gz) holding the class-folder layout, without extracting it."""
    path = Path(path)
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    entries = []
    try:
        source = {"fileobj": io.BytesIO(read_gzip_checked(path))} if compressed else {"name": path}
        with tarfile.open(**source) as archive:
            for member in archive:
                if not member.isfile() or not member.name.lower().endswith(IMAGE_SUFFIXES):
                    continue
                rel = tuple(p for p in Path(member.name).parts if p not in (".", ""))
                if len(rel) >= 2:
                    entries.append((rel, archive.extractfile(member).read()))
    except (OSError, EOFError, tarfile.TarError) as error:
        raise DatasetError(f"cannot read {path} as a tar archive ({error}); replace it with a good copy") from error
    return _assemble(entries, str(path))


def _read_idx(path: Path) -> np.ndarray:
    if path.suffix == ".gz":
        raw = read_gzip_checked(path)
    else:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise DatasetError(f"cannot read IDX file {path}: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DatasetError(f"{path} is truncated: header says {dims}, found {data.size} bytes")
    return data.reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DatasetError(f"missing {stem}(.gz) in {folder}")


def read_idx_folder(folder: str | os.PathLike, class_names: list[str]) -> ImageData:
    """Read MNIST-style IDX files (train-*, t10k-*) from one folder."""
    folder = Path(folder)
    images, labels, parts = [], [], []
    for part, prefix in (("train", "train"), ("test", "t10k")):
        x = _read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte"))
        y = _read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte"))
        if len(x) != len(y):
            raise DatasetError(f"{folder}: {len(x)} {part} images but {len(y)} labels")
        images.append(x[..., None])
        labels.append(y.astype(np.int64))
        parts.append(np.full(len(x), part))
    return ImageData(np.concatenate(images), np.concatenate(labels), class_names, np.concatenate(parts))


def host_resolves(host: str, timeout: float = 3.0) -> bool:
    """Whether ``host``'s name resolves within ``timeout`` seconds (a machine without a network fails at once
    here rather than in a download's minutes of retries)."""
    import concurrent.futures
    import socket

    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        pool.submit(socket.getaddrinfo, host, 443).result(timeout=timeout)
        return True
    except (OSError, concurrent.futures.TimeoutError):
        return False
    finally:
        pool.shutdown(wait=False)


def read_tfds(name: str, data_dir: str | None = None, download_host: str | None = None) -> ImageData:
    """Read a dataset through tensorflow-datasets, downloading it (from ``download_host``) if it is not
    prepared in tfds' folder yet."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise DatasetError("tensorflow-datasets is not installed: pip install tensorflow-datasets") from error
    try:
        prepared = tfds.builder(name, data_dir=data_dir).is_prepared()
    except Exception:  # an unknown or broken builder: tfds.load below says what it is
        prepared = False
    if not prepared and download_host and not host_resolves(download_host):
        raise DatasetError(
            f"{name} is not on this machine and its download host {download_host} cannot be reached (no network?). "
            "Point GANHASH_ZOO_DATA (or --data-dir) at a local copy instead.")
    try:
        splits, info = tfds.load(name, data_dir=data_dir, with_info=True, batch_size=-1)
    except ImportError as error:  # a dataset builder's own dependency, not the network
        raise DatasetError(f"tensorflow-datasets could not build {name!r}: {error}. "
                           f"Install the missing module (pip install {error.name or 'it'}) and retry.") from error
    except Exception as error:  # network and builder errors vary
        raise DatasetError(
            f"tensorflow-datasets could not load {name!r} ({error}). Without a network, "
            "point GANHASH_ZOO_DATA (or --data-dir) at a local copy instead."
        ) from error
    class_names = list(info.features["label"].names)
    images, labels, parts = [], [], []
    for part in SPLIT_ORDER:
        if part not in splits:
            continue
        data = tfds.as_numpy(splits[part])
        x, y = data["image"], data["label"].astype(np.int64)
        order = np.arange(len(y))
        if "id" in data:  # e.g. CIFAR-10's 'train_01234': restore file order within class
            ids = np.array([int(str(i, "utf8").rsplit("_", 1)[-1]) for i in data["id"]])
            order = np.lexsort((ids, y))
        images.append(x[order])
        labels.append(y[order])
        parts.append(np.full(len(y), part))
    return ImageData(np.concatenate(images), np.concatenate(labels), class_names, np.concatenate(parts))
