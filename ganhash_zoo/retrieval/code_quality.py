"""Whether codes stay codes of images: collapse checks and the near-duplicate check.

mAP can look fine while codes collapse: a model can put a 54,000-image
database into a few hundred codes, and a search for a photo then cannot
find that photo's own copy. These figures catch it:

* ``distinct_codes``: how many different codes the database holds;
* ``bit_entropy``: the mean binary entropy (bits) of how often each bit is
  set over the database (1.0: every bit set for half of it);
* near duplicates: each query's copy (flipped and shifted, see
  datasets/transforms.py) is added to the database, and ``copy_rank`` is its
  rank in the query's Hamming ranking, ties placed *after* the database's
  own items at the same distance (a copy only counts as found when it is
  strictly closer than what ties it); ``copy_recall@10`` is the fraction of
  queries whose copy ranks in the top 10.
"""

from __future__ import annotations

import numpy as np

from .codes import PackedCodes, hamming_distances, unpack

COPY_TOP = 10
QUERY_CHUNK = 256


def code_spread(db_codes: PackedCodes) -> dict:
    """``distinct_codes`` and the bits' mean ``bit_entropy`` over a database."""
    distinct = len(np.unique(db_codes.packed, axis=0)) if len(db_codes) else 0
    p = (unpack(db_codes) > 0).mean(axis=0) if len(db_codes) else np.zeros(db_codes.bits)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return {"distinct_codes": int(distinct), "bit_entropy": float(entropy.mean())}


def copy_ranks(query_codes: PackedCodes, copy_codes: PackedCodes, db_codes: PackedCodes) -> np.ndarray:
    """1-based rank of each query's copy among the database plus the copy, ties ranked last."""
    if len(query_codes) != len(copy_codes):
        raise ValueError(f"{len(query_codes)} queries but {len(copy_codes)} copies")
    ranks = np.empty(len(query_codes), np.int64)
    for start in range(0, len(query_codes), QUERY_CHUNK):
        chunk = slice(start, start + QUERY_CHUNK)
        to_db = hamming_distances(query_codes[chunk], db_codes)
        to_copy = np.count_nonzero(unpack(query_codes[chunk]) != unpack(copy_codes[chunk]), axis=1)
        ranks[chunk] = 1 + np.count_nonzero(to_db <= to_copy[:, None], axis=1)
    return ranks


def near_duplicate_figures(query_codes: PackedCodes, copy_codes: PackedCodes, db_codes: PackedCodes) -> dict:
    ranks = copy_ranks(query_codes, copy_codes, db_codes)
    return {f"copy_recall@{COPY_TOP}": float(np.mean(ranks <= COPY_TOP)), "copy_median_rank": float(np.median(ranks))}
