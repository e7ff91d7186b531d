"""Hamming-ranking metrics, computed in query chunks so memory stays bounded.

Two views of a ranking are used:

* **index order** -- ties in Hamming distance broken by database index, the
  convention of published deep-hashing code. Gives mAP@K, precision@N and
  recall@N. A stable radix sort of the small-integer distances makes this
  O(N) per query.
* **distance histograms** -- per query, how many database items (and how
  many relevant ones) sit at each distance 0..bits. Radius metrics and the
  exact *tie-aware* mAP (expected AP over uniformly random orders inside
  each tie group) need only these. Inside a tie group of n items with r
  relevant, after N items of which R relevant, the expected summed
  precision over the group's relevant items is

      r/n * [ (R+1) * dH + (r-1)/(n-1) * (n - (N+1) * dH) ],  dH = H(N+n) - H(N)

  with H the harmonic numbers. With a cut-off K inside a group, the number
  h of relevant items that make the cut is hypergeometric and the formula
  applies to the first m = K - N positions; AP@K is averaged over h exactly.

AP@K divides by the number of relevant items retrieved in the top K (the
published-code convention); a query that retrieves none scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import gammaln

from .codes import PackedCodes, hamming_distances

CHUNK_BYTES = 64 << 20  # working memory per query chunk


def relevance(query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """Boolean (Q, N): same class for 1-D labels, any shared label for multi-hot 2-D labels."""
    query_labels, db_labels = np.asarray(query_labels), np.asarray(db_labels)
    if query_labels.ndim != db_labels.ndim or query_labels.ndim not in (1, 2):
        raise ValueError(
            "labels must be both 1-D class ids or both 2-D multi-hot arrays, got "
            f"{query_labels.shape} and {db_labels.shape}"
        )
    if query_labels.ndim == 1:
        return query_labels[:, None] == db_labels[None, :]
    return (query_labels.astype(np.float32) @ db_labels.astype(np.float32).T) > 0


def _harmonic(n_max: int) -> np.ndarray:
    h = np.zeros(n_max + 1)
    h[1:] = np.cumsum(1.0 / np.arange(1, n_max + 1))
    return h


def _group_expected_sum(before_n, before_r, n, r, harmonic):
    """Expected summed precision of the r relevant items among n tied positions."""
    n_safe = np.maximum(n, 1)
    dh = harmonic[before_n + n] - harmonic[before_n]
    spread = np.where(n > 1, (r - 1) / np.maximum(n - 1, 1), 0.0)
    return (r / n_safe) * ((before_r + 1) * dh + spread * (n - (before_n + 1) * dh))


def _log_comb(n, k):
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def tie_aware_ap(n_hist: np.ndarray, r_hist: np.ndarray, cutoff: int | None = None) -> np.ndarray:
    """Exact expected AP(@cutoff) per query from distance histograms (Q, bits+1)."""
    n_hist, r_hist = n_hist.astype(np.int64), r_hist.astype(np.int64)
    total = int(n_hist[0].sum())
    k = total if cutoff is None else min(cutoff, total)
    harmonic = _harmonic(total)
    before_n = np.cumsum(n_hist, axis=1) - n_hist
    before_r = np.cumsum(r_hist, axis=1) - r_hist
    inside = before_n + n_hist <= k  # whole group within the cut-off
    sums = np.where(inside, _group_expected_sum(before_n, before_r, n_hist, r_hist, harmonic), 0.0).sum(1)
    denom = np.where(inside, r_hist, 0).sum(1)
    ap = np.where(denom > 0, sums / np.maximum(denom, 1), 0.0)
    # at most one group per query straddles the cut-off: its first m positions count
    straddle = (before_n < k) & (before_n + n_hist > k)
    rows = np.flatnonzero(straddle.any(1))
    if len(rows) == 0:
        return ap
    group = straddle[rows].argmax(1)
    n, r = n_hist[rows, group][:, None], r_hist[rows, group][:, None]
    bn, br = before_n[rows, group][:, None], before_r[rows, group][:, None]
    m = k - bn
    h = np.arange(0, int(min(k, r.max())) + 1)[None, :]
    possible = (h <= np.minimum(m, r)) & (m - h <= n - r)
    log_p = _log_comb(r, np.minimum(h, r)) + _log_comb(n - r, np.clip(m - h, 0, n - r)) - _log_comb(n, m)
    prob = np.exp(np.where(possible, log_p, -np.inf))  # impossible h: probability 0
    dh = harmonic[bn + m] - harmonic[bn]
    spread = np.where(m > 1, (h - 1) / np.maximum(m - 1, 1), 0.0)
    part = (h / m) * ((br + 1) * dh + spread * (m - (bn + 1) * dh))
    denom_h = denom[rows][:, None] + h
    ratio = (sums[rows][:, None] + part) / np.maximum(denom_h, 1)
    ap[rows] = np.sum(np.where(denom_h > 0, prob * ratio, 0.0), axis=1)
    return ap


def ap_of_top_k(top_rows: np.ndarray, query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """(Q,) AP@K of rankings already cut to their top K database rows (e.g. by HammingIndex.search).

    The same convention as :func:`evaluate_ranking`: precision summed at each relevant item,
    divided by the relevant items in the top K; 0 for a query that retrieves none.
    """
    top_rows = np.asarray(top_rows)
    if np.ndim(query_labels) == 1:
        hits = np.asarray(db_labels)[top_rows] == np.asarray(query_labels)[:, None]
    else:
        hits = np.take_along_axis(relevance(query_labels, db_labels), top_rows, axis=1)
    found = np.cumsum(hits, axis=1)
    precision = found / np.arange(1, top_rows.shape[1] + 1)
    total = np.where(hits, precision, 0.0).sum(1)
    return np.where(found[:, -1] > 0, total / np.maximum(found[:, -1], 1), 0.0)


@dataclass
class RankingMetrics:
    """Per-query metric arrays plus the curves; see :func:`evaluate_ranking`."""

    ap: dict  # cutoff (None = all) -> (Q,) AP with index tie-breaking
    tie_aware_ap: dict  # cutoff -> (Q,) expected AP over random tie orders
    precision_at_radius: np.ndarray  # (Q, bits+1), 0 where the ball is empty
    retrieved_at_radius: np.ndarray  # (Q, bits+1) items within radius r
    recall_at_radius: np.ndarray  # (Q, bits+1)
    n_points: np.ndarray  # list of N for precision@N / recall@N
    precision_at_n: np.ndarray  # (Q, len(n_points))
    recall_at_n: np.ndarray
    top_indices: np.ndarray  # (Q, top) database indices of the best matches


def default_n_points(n_database: int) -> np.ndarray:
    points = [1, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]
    return np.array([p for p in points if p < n_database] + [n_database])


def _rank_chunk(queries, database, query_labels, db_labels, cutoffs, n_points, top):
    """Histograms, index-order AP and curves for one chunk of queries."""
    bits, n_db, nq = database.bits, len(database), len(queries)
    dist = hamming_distances(queries, database)
    if bits < 256:
        dist = dist.astype(np.uint8)  # one radix pass instead of two
    rel = relevance(query_labels, db_labels)
    n_hist = np.stack([np.bincount(row, minlength=bits + 1) for row in dist])
    r_hist = np.stack([np.bincount(row[mask], minlength=bits + 1) for row, mask in zip(dist, rel)])
    order = np.argsort(dist, axis=1, kind="stable")
    if np.ndim(query_labels) == 1:
        ranked = np.asarray(db_labels)[order] == np.asarray(query_labels)[:, None]
    else:
        ranked = np.take_along_axis(rel, order, axis=1)
    rows, pos = np.nonzero(ranked)  # relevant items: query row, 0-based rank
    first = np.searchsorted(rows, np.arange(nq))
    hit_number = np.arange(len(rows)) - first[rows] + 1
    precision = hit_number / (pos + 1)
    ap = {}
    for c in cutoffs:
        k = n_db if c is None else min(c, n_db)
        keep = pos < k
        found = np.bincount(rows[keep], minlength=nq)
        total = np.bincount(rows[keep], weights=precision[keep], minlength=nq)
        ap[c] = np.where(found > 0, total / np.maximum(found, 1), 0.0)
    hits_at_n = np.stack([np.bincount(rows[pos < n], minlength=nq) for n in n_points], axis=1)
    n_rel = r_hist.sum(1)
    return {
        "ap": ap,
        "tie": {c: tie_aware_ap(n_hist, r_hist, c) for c in cutoffs},
        "n_hist": n_hist,
        "r_hist": r_hist,
        "p_at_n": hits_at_n / n_points,
        "r_at_n": hits_at_n / np.maximum(n_rel, 1)[:, None],
        "top": order[:, :top].copy(),  # a view would keep the whole order array alive
    }


def evaluate_ranking(
    queries: PackedCodes,
    database: PackedCodes,
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    cutoffs=(None, 1000),
    n_points: np.ndarray | None = None,
    top: int = 10,
    progress=None,
    workers: int | None = None,
) -> RankingMetrics:
    """All ranking metrics for every query; chunks run on ``workers`` threads."""
    if len(queries) != len(query_labels) or len(database) != len(db_labels):
        raise ValueError("each code array needs one label entry per item")
    if len(database) == 0 or len(queries) == 0:
        raise ValueError("empty query or database set")
    n_db = len(database)
    n_points = default_n_points(n_db) if n_points is None else np.asarray(n_points)
    chunk = max(1, CHUNK_BYTES // (n_db * 24))  # ~24 bytes of work arrays per pair
    starts = range(0, len(queries), chunk)

    def run(start):
        stop = min(start + chunk, len(queries))
        part = _rank_chunk(
            queries[start:stop], database, query_labels[start:stop], db_labels, cutoffs, n_points, top
        )
        if progress is not None:
            progress(stop - start)
        return part

    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        parts = list(pool.map(run, starts))

    def cat(key, c=None):
        return np.concatenate([p[key] if c is None else p[key][c] for p in parts])

    n_hist, r_hist = cat("n_hist"), cat("r_hist")
    cum_n, cum_r = np.cumsum(n_hist, 1), np.cumsum(r_hist, 1)
    return RankingMetrics(
        ap={c: np.concatenate([p["ap"][c] for p in parts]) for c in cutoffs},
        tie_aware_ap={c: np.concatenate([p["tie"][c] for p in parts]) for c in cutoffs},
        precision_at_radius=np.where(cum_n > 0, cum_r / np.maximum(cum_n, 1), 0.0),
        retrieved_at_radius=cum_n,
        recall_at_radius=cum_r / np.maximum(r_hist.sum(1, keepdims=True), 1),
        n_points=n_points,
        precision_at_n=cat("p_at_n"),
        recall_at_n=cat("r_at_n"),
        top_indices=cat("top"),
    )
