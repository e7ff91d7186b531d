"""Packed binary codes, Hamming ranking, retrieval metrics, the Evaluator and a persistent Hamming index."""

from .codes import PackedCodes, hamming_distances, pack, unpack
from .evaluator import Evaluator, RetrievalResult, encode_images
from .index import HammingIndex, IndexMismatchError
from .metrics import evaluate_ranking, relevance, tie_aware_ap

__all__ = [
    "Evaluator",
    "HammingIndex",
    "IndexMismatchError",
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
