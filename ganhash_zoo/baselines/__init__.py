"""Reference hashers (LSH, ITQ; the supervised LinearCE) with the same encode() interface as the trained models."""

from .base import ProjectionHasher, pixel_features
from .itq import ITQ, InvariantITQ
from .linear_ce import LinearCE
from .lsh import LSH

BASELINES = {"lsh": LSH, "itq": ITQ}

__all__ = ["BASELINES", "ITQ", "InvariantITQ", "LSH", "LinearCE", "ProjectionHasher", "pixel_features"]
