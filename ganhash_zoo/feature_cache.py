"""A dataset's backbone features, computed once and cached on disk.

Models on a frozen pretrained backbone learn from, and are evaluated on,
the backbone's pooled features rather than pixels, so each image goes
through the backbone once per machine instead of once per epoch or
evaluation. Training also reads the features of one augmented view of each
training image (flipped with probability 1/2, shifted up to 3 px; drawn
once per dataset from a fixed seed), which methods use as the "small
transform" their consistency terms need; those are computed for the
images a run trains on, when it first asks.

A cache entry holds the features of one array of images, keyed by the
pixels' sha256 and the backbone (weights' sha256 and resolution); it
records the sha256 of its feature bytes, and an entry whose bytes do not
hash to that (tampered, truncated, half-written) is recomputed, never
read. Writes go to a file unique to the process and are renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets.loading import cache_dir
from .datasets.sources import ImageData, pixel_fingerprint
from .datasets.transforms import apply_views, near_duplicates, view_transforms
from .pretrained import load_backbone

PIXELS = "dcgan"  # the backbone name of models that learn from pixels with the from-scratch DCGAN trunk
VIEW_SEED = 20261129
FORMAT = 2


@dataclass
class FeatureData:
    """A dataset as backbone features, interchangeable with ImageData for splits, training and evaluation.

    ``images`` holds each image's features (N, F) (the name is ImageData's, so protocol splits index
    it the same way), ``pixels`` the images themselves.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    parts: np.ndarray
    pixels: np.ndarray
    extractor: object  # pretrained.FeatureExtractor
    progress: bool = True

    def __len__(self):
        return len(self.images)

    def views_of(self, indices) -> np.ndarray:
        """Features of the augmented views of some images (cached like any features)."""
        flips, offsets = view_transforms(len(self.pixels), VIEW_SEED)
        views = apply_views(self.pixels[indices], flips[indices], offsets[indices])
        return cached_features(views, self.extractor, self.progress)

    def training_inputs(self, indices) -> np.ndarray:
        """(n, 2, F): each image's features and its augmented view's, what methods on a backbone fit on."""
        return np.stack([self.images[indices], self.views_of(indices)], axis=1)

    def pixel_data(self) -> ImageData:
        """The same dataset as pixels: what ITQ on pixels and other backbone cuts start from."""
        return ImageData(self.pixels, self.labels, self.class_names, self.parts)

    def copies_of(self, indices) -> np.ndarray:
        """Features of the near-duplicate copies of some images (computed, not cached: a query set's worth)."""
        return self.extractor.features(near_duplicates(self.pixels[indices]))


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(array)).cast("B")).hexdigest()


def _entry(key: str) -> tuple[Path, Path]:
    folder = cache_dir() / "features"
    return folder / f"{key}.npy", folder / f"{key}.json"


def _read(key: str, shape: tuple) -> np.ndarray | None:
    """The cached features if the entry is whole and untouched, else None."""
    array_file, meta_file = _entry(key)
    try:
        meta = json.loads(meta_file.read_text())
        if not array_file.is_file() or meta.get("format") != FORMAT:
            return None
        features = np.load(array_file, allow_pickle=False)
    except (OSError, ValueError, json.JSONDecodeError):
        return None
    if features.shape != shape or features.dtype != np.float32 or _digest(features) != meta.get("sha256"):
        return None
    return features


def _write(key: str, features: np.ndarray, description: dict) -> None:
    array_file, meta_file = _entry(key)
    try:
        array_file.parent.mkdir(parents=True, exist_ok=True)
        for path, write in ((array_file, lambda f: np.save(f, features, allow_pickle=False)),
                            (meta_file, lambda f: f.write(json.dumps(
                                {"format": FORMAT, "sha256": _digest(features), **description}, indent=1).encode()))):
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as f:
                    write(f)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    except OSError:
        pass  # an unwritable cache only costs time


def cached_features(images: np.ndarray, extractor, progress: bool = True) -> np.ndarray:
    """Backbone features of ``images`` (uint8, N x H x W x C), read from the cache or computed and cached."""
    pixels_sha = pixel_fingerprint(images)
    key = hashlib.sha256(json.dumps([FORMAT, pixels_sha, extractor.key]).encode()).hexdigest()[:24]
    features = _read(key, (len(images), *extractor.feature_shape))
    if features is None:
        features = extractor.features(images, progress=progress)
        _write(key, features, {"pixels_sha256": pixels_sha, "backbone": extractor.key, "images": len(images)})
    return features


def feature_data(data: ImageData, extractor, progress: bool = True) -> FeatureData:
    """``data`` as backbone features, computed on first use and read from the cache after."""
    return FeatureData(cached_features(data.images, extractor, progress), data.labels, data.class_names,
                       data.parts, data.images, extractor, progress)


def model_inputs(data: ImageData, backbone: str, progress: bool = True, cut_block: int | None = None):
    """What a model on ``backbone`` reads of ``data``: the images for ``"dcgan"`` (pixels), else the named
    pretrained backbone's features (with ``cut_block``, its maps at that block)."""
    return data if backbone == PIXELS else feature_data(data, load_backbone(backbone, cut_block=cut_block), progress)
