"""Find a dataset on disk (or through tfds), decode it once, and cache the arrays.

Resolution order for the named datasets:

1. ``data_dir`` argument, else the ``GANHASH_ZOO_DATA`` environment variable;
   inside it these layouts are recognised
   (``cifar10-jpeg.tar.gz`` or a ``cifar10/`` class folder; a
   ``fashion-mnist/`` folder of IDX files);
2. Debian's ``/usr/share/datasets/fashion-mnist`` (``apt install dataset-fashion-mnist``);
3. tensorflow-datasets, which downloads on a machine with a network.

Decoded arrays are cached as ``.npy`` under ``GANHASH_ZOO_CACHE`` (default
``~/.cache/ganhash_zoo``), keyed by the source path, size and mtime, so the
second load of CIFAR-10 is a memory map rather than 60,000 JPEG decodes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .sources import (
    DatasetError,
    ImageData,
    read_idx_folder,
    read_image_folder,
    read_image_tar,
    read_tfds,
)

DATA_ENV = "GANHASH_ZOO_DATA"
CACHE_ENV = "GANHASH_ZOO_CACHE"

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

# name -> (local candidates relative to a data dir, tfds name)
KNOWN_DATASETS = {
    "cifar10": (["cifar10-jpeg.tar.gz", "cifar10.tar.gz", "cifar10", "cifar10-jpeg"], "cifar10"),
    "fashion_mnist": (["fashion-mnist", "fashion_mnist"], "fashion_mnist"),
}
SYSTEM_DIRS = {"fashion_mnist": [Path("/usr/share/datasets/fashion-mnist")]}


def canonical_name(name: str) -> str:
    key = name.lower().replace("-", "_")
    if key not in KNOWN_DATASETS:
        raise DatasetError(
            f"unknown dataset {name!r}; known: {', '.join(KNOWN_DATASETS)}. "
            "For your own images use load_image_folder(path)."
        )
    return key


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ganhash_zoo"
    return Path(root)


def _cache_key(path: Path) -> str:
    stat = path.stat()
    ident = json.dumps([str(path.resolve()), stat.st_size, int(stat.st_mtime), 1])
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def _cached(path: Path, reader) -> ImageData:
    """Decode ``path`` with ``reader`` unless a cache entry for it exists."""
    folder = cache_dir() / f"{path.name}-{_cache_key(path)}"
    meta_file = folder / "meta.json"
    if meta_file.exists():
        try:
            meta = json.loads(meta_file.read_text())
            return ImageData(
                images=np.load(folder / "images.npy", mmap_mode="r"),
                labels=np.load(folder / "labels.npy"),
                class_names=meta["class_names"],
                parts=np.load(folder / "parts.npy"),
            )
        except (OSError, ValueError, KeyError):
            pass  # a broken cache entry is rebuilt below
    data = reader(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "images.npy.tmp"
        with open(tmp, "wb") as f:
            np.save(f, data.images)
        os.replace(tmp, folder / "images.npy")
        np.save(folder / "labels.npy", data.labels)
        np.save(folder / "parts.npy", data.parts)
        meta_file.write_text(json.dumps({"class_names": data.class_names, "source": str(path)}))
    except OSError:
        pass  # a read-only cache only costs speed
    return data


def _read_local(path: Path, class_names: list[str] | None) -> ImageData:
    if path.is_file():
        return read_image_tar(path)
    if any(path.glob("*-idx3-ubyte*")):
        return read_idx_folder(path, class_names or [str(i) for i in range(10)])
    return read_image_folder(path)


def load_image_folder(path: str | os.PathLike) -> ImageData:
    """Any class-folder directory or tar of one (cached like the named datasets)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    return _cached(path, lambda p: _read_local(p, None))


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, source: str = "auto") -> ImageData:
    """Load a named dataset (``cifar10``, ``fashion_mnist``) as uint8 arrays.

    ``source`` is ``"auto"`` (local copies first, then tfds), ``"local"`` or ``"tfds"``.
    """
    key = canonical_name(name)
    if source not in ("auto", "local", "tfds"):
        raise ValueError(f"source must be 'auto', 'local' or 'tfds', not {source!r}")
    candidates, tfds_name = KNOWN_DATASETS[key]
    class_names = CIFAR10_CLASSES if key == "cifar10" else FASHION_MNIST_CLASSES
    if source != "tfds":
        data_dir = data_dir or os.environ.get(DATA_ENV)
        roots = [Path(data_dir)] if data_dir else []
        if data_dir and not Path(data_dir).exists():
            raise DatasetError(f"data directory {data_dir} does not exist")
        searched = []
        for root in roots:
            for candidate in candidates:
                searched.append(str(root / candidate))
                if (root / candidate).exists():
                    data = _cached(root / candidate, lambda p: _read_local(p, class_names))
                    data.class_names = class_names
                    return data
        for folder in SYSTEM_DIRS.get(key, []):
            searched.append(str(folder))
            if folder.exists():
                data = _cached(folder, lambda p: _read_local(p, class_names))
                data.class_names = class_names
                return data
        if source == "local":
            raise DatasetError(
                f"no local copy of {name} found (looked in: {', '.join(searched) or 'nothing'}). "
                f"Set {DATA_ENV} or pass data_dir to a folder holding one of {candidates}."
            )
    return read_tfds(tfds_name)
