"""Locality-sensitive hashing by random Gaussian projections (Charikar 2002)."""

import numpy as np

from .base import ProjectionHasher


class LSH(ProjectionHasher):
    """Random hyperplanes through the data mean: the floor every learned hasher must beat."""

    name = "lsh"

    def _learn_projection(self, centred):
        rng = np.random.default_rng(self.seed)
        return rng.standard_normal((centred.shape[1], self.bits)).astype(np.float32)
