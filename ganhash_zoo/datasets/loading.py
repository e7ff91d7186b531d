"""Find a dataset on disk (or through tfds), decode it once, and cache the arrays.

Resolution order for the named datasets:

1. ``data_dir`` argument, else the ``GANHASH_ZOO_DATA`` environment variable;
   inside it these layouts are recognised
   (``cifar10-jpeg.tar.gz`` or a ``cifar10/`` class folder; a
   ``fashion-mnist/`` folder of IDX files);
2. Debian's ``/usr/share/datasets/fashion-mnist`` (``apt install dataset-fashion-mnist``);
3. tensorflow-datasets, which downloads on a machine with a network.

Decoded arrays are cached as ``.npy`` under ``GANHASH_ZOO_CACHE`` (default
``~/.cache/ganhash_zoo``), keyed by each source file's path, size, mtime and
a hash of its first and last MiB, so the second load of CIFAR-10 is a memory
map rather than 60,000 JPEG decodes, and a replaced file is decoded afresh.
A cache entry is used only if its pixels still hash to what was decoded.

Pixels are checked, not only labels: the decoded images of a known copy
(the JPEG CIFAR-10 tar, the Fashion-MNIST IDX files) must hash to
``verified_pixels`` in the catalogue, so a flipped byte in a dataset file stops evaluation
instead of changing its figures. Other copies (tfds' PNG CIFAR-10, your own
class folders) load with a warning that their figures are not comparable
byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from .catalogue import DATASETS
from .protocols import labels_fingerprint
from .sources import (
    DatasetError,
    ImageData,
    read_idx_folder,
    read_image_folder,
    read_image_tar,
    pixel_fingerprint,
    read_tfds,
)

DATA_ENV = "GANHASH_ZOO_DATA"
CACHE_ENV = "GANHASH_ZOO_CACHE"



def canonical_name(name: str) -> str:
    key = name.lower().replace("-", "_")
    if key not in DATASETS:
        raise DatasetError(
            f"unknown dataset {name!r}; known: {', '.join(DATASETS)}. "
            "For your own images use load_image_folder(path)."
        )
    return key


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ganhash_zoo"
    return Path(root)


def _file_identity(path: Path, root: Path) -> list:
    """Path, size, mtime and a hash of the first and last MiB: changes when the content is replaced."""
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(1 << 20))
        if stat.st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            digest.update(f.read())
    return [str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns, digest.hexdigest()]


def _cache_key(path: Path) -> str:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    root = path.parent if path.is_file() else path
    ident = json.dumps([str(path.resolve()), 2, [_file_identity(f, root) for f in files]])
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def _read_cache(folder: Path) -> ImageData | None:
    """The cached arrays if the entry is whole and its pixels and labels hash to what was decoded, else None.

    An entry of a copy whose pixels are not the verified ones repeats its warning on every load.
    """
    try:
        meta = json.loads((folder / "meta.json").read_text())
        images = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
        labels = np.load(folder / "labels.npy", allow_pickle=False)
        if pixel_fingerprint(images) != meta["pixels_sha256"] or labels_fingerprint(labels) != meta["labels_sha256"]:
            warnings.warn(f"the cached arrays in {folder} were modified; decoding the dataset again", stacklevel=3)
            return None
        data = ImageData(images=images, labels=labels, class_names=meta["class_names"],
                         parts=np.load(folder / "parts.npy", allow_pickle=False), unverified=meta.get("unverified"))
        if data.unverified:
            warnings.warn(data.unverified, stacklevel=3)
        return data
    except (OSError, ValueError, KeyError):
        return None  # missing or broken: rebuilt by the caller


def _cached(path: Path, reader) -> ImageData:
    """Decode ``path`` with ``reader`` unless a verified cache entry for its current content exists."""
    folder = cache_dir() / f"{path.name}-{_cache_key(path)}"
    meta_file = folder / "meta.json"
    data = _read_cache(folder) if meta_file.exists() else None
    if data is not None:
        return data
    data = reader(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "images.npy.tmp"
        with open(tmp, "wb") as f:
            np.save(f, data.images)
        os.replace(tmp, folder / "images.npy")
        np.save(folder / "labels.npy", data.labels)
        np.save(folder / "parts.npy", data.parts)
        meta_file.write_text(json.dumps({"class_names": data.class_names, "source": str(path),
                                         "pixels_sha256": pixel_fingerprint(data.images),
                                         "labels_sha256": labels_fingerprint(data.labels),
                                         "unverified": data.unverified}))
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
    info = DATASETS[key]
    candidates, tfds_name, class_names = info.local_names, info.tfds_name, list(info.class_names)
    explicit = data_dir is not None
    if source != "tfds":
        data_dir = data_dir or os.environ.get(DATA_ENV)
        roots = [Path(data_dir)] if data_dir else []
        if data_dir and not Path(data_dir).exists():
            raise DatasetError(f"data directory {data_dir} does not exist")
        searched = []
        for folder in [root / candidate for root in roots for candidate in candidates] + list(info.system_dirs):
            searched.append(str(folder))
            if folder.exists():  # checked before caching, so the cache only ever holds verified or warned-of pixels
                data = _cached(folder, lambda p: check_pixels(key, _read_local(p, class_names), p))
                data.class_names = class_names
                return data
        if source == "local" or explicit:
            raise DatasetError(
                f"no local copy of {name} found (looked in: {', '.join(searched) or 'nothing'}). "
                f"Set {DATA_ENV} or pass data_dir to a folder holding one of {candidates}."
            )
    return check_pixels(key, read_tfds(tfds_name, download_host=info.download_host),
                        f"tensorflow-datasets' {tfds_name}")


def check_pixels(key: str, data: ImageData, origin) -> ImageData:
    """Refuse a known copy whose pixels differ from the verified ones; warn for copies we cannot verify."""
    fingerprint = pixel_fingerprint(data.images)
    known = dict(DATASETS[key].verified_pixels)
    if fingerprint in known:
        return data
    # every Fashion-MNIST copy holds the IDX pixels; of CIFAR-10 only the JPEG tar's are known
    if key == "fashion_mnist" or Path(str(origin)).name in known.values():
        raise DatasetError(
            f"the images decoded from {origin} differ from the verified copy (pixel sha256 {fingerprint[:16]}..., "
            f"expected {next(iter(known))[:16]}...): the file is corrupt or was modified. Replace it with a good "
            "copy; nothing was evaluated.")
    data.unverified = (f"{origin} is not a copy whose pixels ganhash-zoo has verified ({fingerprint[:16]}...); "
                       "figures measured on it may differ from the registry's")
    warnings.warn(data.unverified, stacklevel=3)
    return data
