"""Pixel transforms of whole batches: the near-duplicate copies retrieval is checked on, and training views.

Both flip horizontally and shift, filling the uncovered border by repeating
the edge pixels, so a copy holds the same content a few pixels over.
"""

from __future__ import annotations

import numpy as np

COPY_SHIFT = 2  # pixels right and down: the near-duplicate check's copy of a query


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Images moved ``dy`` pixels down and ``dx`` right (negative: up, left), edges repeated."""
    h, w = images.shape[1:3]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return images[:, rows][:, :, cols]


def near_duplicates(images: np.ndarray) -> np.ndarray:
    """Each image flipped left-right and shifted COPY_SHIFT pixels right and down."""
    return shift(np.asarray(images)[:, :, ::-1], COPY_SHIFT, COPY_SHIFT)


def view_transforms(count: int, seed: int, max_shift: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``count`` images, whether to flip it (probability 1/2) and its (dy, dx) shift of up to
    ``max_shift`` pixels: drawn once for a whole dataset, so an image's view is the same in any subset."""
    rng = np.random.default_rng(seed)
    return rng.random(count) < 0.5, rng.integers(-max_shift, max_shift + 1, (count, 2))


def apply_views(images: np.ndarray, flips: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each image flipped where ``flips`` and shifted by its row of ``offsets``."""
    images = np.asarray(images)
    out = np.where(flips[:, None, None, None], images[:, :, ::-1], images)
    for dy, dx in np.unique(offsets, axis=0):
        chosen = np.flatnonzero((offsets[:, 0] == dy) & (offsets[:, 1] == dx))
        out[chosen] = shift(out[chosen], int(dy), int(dx))
    return out
