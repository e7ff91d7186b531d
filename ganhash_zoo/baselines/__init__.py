"""Reference hashers (LSH, ITQ) with the same encode() interface as the trained models."""

from .base import ProjectionHasher, pixel_features
from .itq import ITQ
from .lsh import LSH

BASELINES = {"lsh": LSH, "itq": ITQ}

__all__ = ["BASELINES", "ITQ", "LSH", "ProjectionHasher", "pixel_features"]
