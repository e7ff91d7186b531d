"""Exact small-radius Hamming search for about 3 bytes a code: row numbers grouped by their codes' leading bits.

A code within distance r of a query has its first ``b`` bits within r of
the query's first ``b`` bits, so probing every ``b``-bit prefix within r
of the query's and checking each candidate's full distance finds every hit
and nothing else. About 16 codes share a prefix, so radius 2 on 16-bit
prefixes reads 137 prefixes, some 2,100 candidates of 1,000,000.

The table holds no codes: it reads them from the flat index's storage,
which every ``HammingIndex`` keeps anyway. It holds the row numbers ordered
by prefix (a 2-byte low half and a 1-byte high half: 3 bytes a row up to
2**24 rows, 4 beyond) and where each prefix starts (4 bytes a prefix):
3.3 bytes a code at 1M codes, so 1.4x the 8-byte codes with the flat
storage. FAISS's ``IndexBinaryHash`` keeps a copy of each code and an
8-byte id in a C++ vector per prefix: 32-36 bytes a code (4-4.5x in all).

The probe loop is compiled with numba: the same gathers and popcounts as
NumPy array operations took 0.18-0.40x the flat range search's time on
1M codes, too slow to be worth a table; compiled, 0.03-0.07x
(``scripts/bench_search.py``).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

CODES_PER_PREFIX = 16  # prefix length chosen so that a prefix holds about this many codes
MAX_PREFIX_BITS = 24  # 2**24 prefixes (64 MiB of offsets) is the most a table may spend
MAX_ROWS = 2**32 - 1  # a row number is at most a 2-byte low half and a 2-byte high half; uint32 offsets


def prefix_bits_for(n_codes: int, bits: int) -> int:
    """The prefix length that files about ``CODES_PER_PREFIX`` codes under each prefix."""
    wanted = round(np.log2(max(n_codes, 1) / CODES_PER_PREFIX))
    return int(np.clip(wanted, 1, min(bits, MAX_PREFIX_BITS)))


def leading_bits(packed: np.ndarray, b: int) -> np.ndarray:
    """The first ``b`` bits of each packed code (``np.packbits`` order: first byte, highest bit first)."""
    n_bytes = (b + 7) // 8
    value = np.zeros(len(packed), np.uint32)  # b <= 24
    for column in range(n_bytes):
        value = (value << 8) | packed[:, column]
    value >>= 8 * n_bytes - b
    # 16 bits or fewer: NumPy's stable argsort is then a radix sort, 3x faster than on 32-bit keys
    return value.astype(np.uint16) if b <= 16 else value


@functools.lru_cache(maxsize=None)
def flip_masks(b: int, radius: int) -> np.ndarray:
    """Every ``b``-bit mask with at most ``radius`` bits set: XOR one with a prefix to get a prefix to probe."""
    return np.array([sum(1 << bit for bit in flipped) for r in range(min(radius, b) + 1)
                     for flipped in itertools.combinations(range(b), r)], np.int64)


def as_words(packed: np.ndarray) -> np.ndarray:
    """Packed codes (N, bytes) viewed as the widest unsigned words that tile a code, without copying:
    the probe loop reads one 8-byte word per 64-bit code rather than eight bytes, in half the time."""
    code_size = packed.shape[1]
    width = next(w for w in (8, 4, 2, 1) if code_size % w == 0)
    return np.ascontiguousarray(packed).view(f"<u{width}")


def _popcount(x):
    x = np.uint64(x)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


def _probe_query(q, query_words, query_prefixes, masks, starts, low, high, code_words, radius, hits, n_hits):
    """Write query ``q``'s hits into ``hits`` (rows of query, row, distance) from row ``n_hits`` on; return
    where they end, or -1 when ``hits`` is full. Nothing here reassigns an array: numba would count its
    references on every candidate, which took 10x the time of the loop itself."""
    n_words = code_words.shape[1]
    for mask in masks:
        prefix = query_prefixes[q] ^ mask
        for position in range(starts[prefix], starts[prefix + 1]):
            row = np.int64(low[position]) | (np.int64(high[position]) << 16)
            if n_words == 1:  # one word a code (up to 64 bits): no inner loop
                distance = _popcount(code_words[row, 0] ^ query_words[q, 0])
            else:
                distance = 0
                for w in range(n_words):
                    distance += _popcount(code_words[row, w] ^ query_words[q, w])
            if distance <= radius:
                if n_hits == hits.shape[0]:
                    return -1
                hits[n_hits, 0], hits[n_hits, 1], hits[n_hits, 2] = q, row, distance
                n_hits += 1
    return n_hits


def _probe(query_words, query_prefixes, masks, starts, low, high, code_words, radius):
    """(query, row, distance) of every code within ``radius``, grouped by query, in probe order."""
    hits = np.empty((1024, 3), np.int64)
    n_hits, q = 0, 0
    while q < query_words.shape[0]:
        end = _probe_query(q, query_words, query_prefixes, masks, starts, low, high, code_words, radius, hits,
                           n_hits)
        if end < 0:  # full: double the space and probe this query again
            bigger = np.empty((2 * hits.shape[0], 3), np.int64)
            bigger[:n_hits] = hits[:n_hits]
            hits = bigger
        else:
            n_hits, q = end, q + 1
    return hits[:n_hits, 0], hits[:n_hits, 1], hits[:n_hits, 2]


_compiled = False


def compile_probe() -> None:
    """Replace the probe loop's functions by their numba-compiled versions, once, on first use.

    Compiled code is cached on disk where numba finds a writable place (beside the package or under
    the user's cache folder), so later processes load it in a fraction of a second; on a read-only
    install with no writable home it is compiled in memory instead. Importing the package compiles
    nothing and does not import numba.
    """
    global _compiled, _popcount, _probe_query, _probe
    if _compiled:
        return
    import numba

    def jit(function):
        try:
            return numba.njit(nogil=True, boundscheck=False, cache=True)(function)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            return numba.njit(nogil=True, boundscheck=False)(function)

    _popcount = numba.njit(inline="always")(_popcount)
    _probe_query = jit(_probe_query)  # before _probe, which calls it
    _probe = jit(_probe)
    _compiled = True


class PrefixTable:
    """Rows of ``packed`` codes grouped by their first ``prefix_bits`` bits (see the module docstring)."""

    def __init__(self, packed: np.ndarray, bits: int):
        if len(packed) > MAX_ROWS:
            raise ValueError(f"a prefix table holds at most {MAX_ROWS:,} codes, got {len(packed):,}: use kind='flat'")
        self.prefix_bits = prefix_bits_for(len(packed), bits)
        prefixes = leading_bits(packed, self.prefix_bits)
        order = np.argsort(prefixes, kind="stable")  # rows ascending within a prefix
        self.low = order.astype(np.uint16)  # the cast keeps the low 16 bits
        self.high = np.right_shift(order, 16, out=order).astype(np.uint8 if len(packed) <= 2**24 else np.uint16)
        counts = np.bincount(prefixes, minlength=2**self.prefix_bits)
        self.starts = np.zeros(2**self.prefix_bits + 1, np.uint32)
        np.cumsum(counts, out=self.starts[1:])

    @property
    def nbytes(self) -> int:
        return self.low.nbytes + self.high.nbytes + self.starts.nbytes

    def probed_fraction(self, radius: int) -> float:
        """The share of prefixes, so about the share of codes, a query of this radius reads."""
        b = self.prefix_bits
        return sum(math.comb(b, r) for r in range(min(radius, b) + 1)) / 2**b

    def range_search(self, stored: np.ndarray, queries: np.ndarray, radius: int):
        """(query, row, distance) of every stored code within ``radius`` of a query; ``stored`` are the
        packed codes the table was built from, ``queries`` packed the same way."""
        compile_probe()
        return _probe(as_words(queries), leading_bits(queries, self.prefix_bits),
                      flip_masks(self.prefix_bits, radius), self.starts, self.low, self.high,
                      as_words(stored), int(radius))
