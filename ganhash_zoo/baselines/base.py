"""Shared shape of the reference hashers: features -> projection -> sign -> packed bits."""

from __future__ import annotations

import numpy as np

from ..retrieval.codes import PackedCodes, pack


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Flattened pixels scaled to [0, 1]: the default features of the baselines."""
    images = np.asarray(images)
    return images.reshape(len(images), -1).astype(np.float32) / (255.0 if images.dtype == np.uint8 else 1.0)


class ProjectionHasher:
    """Codes are sign((features - mean) @ projection); subclasses learn the projection."""

    name = "projection"

    def __init__(self, bits: int, seed: int = 0, features=pixel_features):
        if bits < 1:
            raise ValueError(f"bits must be positive, got {bits}")
        self.bits, self.seed, self.features = bits, seed, features
        self.mean_ = self.projection_ = None

    def fit(self, images) -> "ProjectionHasher":
        x = self.features(images)
        self.mean_ = x.mean(0)
        self.projection_ = self._learn_projection(x - self.mean_)
        return self

    def _learn_projection(self, centred: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def project(self, images) -> np.ndarray:
        if self.projection_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(images) first")
        return (self.features(images) - self.mean_) @ self.projection_

    def encode(self, images) -> PackedCodes:
        return pack(self.project(images), threshold=0.0)
