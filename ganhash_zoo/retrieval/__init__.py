"""Packed binary codes, Hamming ranking, retrieval metrics and the Evaluator."""

from .codes import PackedCodes, hamming_distances, pack, unpack
from .evaluator import Evaluator, RetrievalResult, encode_images
from .metrics import evaluate_ranking, relevance, tie_aware_ap

__all__ = [
    "Evaluator",
    "PackedCodes",
    "RetrievalResult",
    "encode_images",
    "evaluate_ranking",
    "hamming_distances",
    "pack",
    "relevance",
    "tie_aware_ap",
    "unpack",
]
