"""Search speed of HammingIndex against FAISS used directly and a NumPy popcount scan, in one run.

    python scripts/bench_search.py                 # 100k and 1M 64-bit codes (a few minutes on 2 cores)
    python scripts/bench_search.py --sizes 100000  # quicker

Codes are random, or "structured": 1,000 random centres with 0-4 bits flipped
per code, so distances tie and radius-2 balls are full, as with real hashes.
Queries are database codes with one bit flipped. Times are medians of at
least three runs and half a second; the ratio column divides by the first
row of each group. Memory is the growth of resident memory while one index
is built in a fresh process (FAISS's hash tables live in C++ containers,
which a file size would understate).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from ganhash_zoo.retrieval import HammingIndex, PackedCodes
from ganhash_zoo.retrieval.index import MAX_PROBED_FRACTION

POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def make_codes(n: int, structured: bool, rng) -> np.ndarray:
    if not structured:
        return rng.integers(0, 256, (n, 8), dtype=np.uint8)
    centres = rng.integers(0, 256, (1000, 8), dtype=np.uint8)
    codes = centres[rng.integers(0, 1000, n)].copy()
    bits = np.unpackbits(codes, axis=1)
    for flips in range(4):
        rows = rng.random(n) < 0.5
        bits[rows, rng.integers(0, 64, rows.sum())] ^= 1
    return np.packbits(bits, axis=1)


def numpy_topk(database: np.ndarray, queries: np.ndarray, k: int):
    """The scan a user writes without FAISS: XOR, popcount by table, argpartition, then order the k."""
    out = []
    for q in queries:
        d = POPCOUNT[database ^ q].sum(axis=1, dtype=np.int32)
        top = np.argpartition(d, k - 1)[:k]
        out.append(top[np.lexsort((top, d[top]))])
    return np.array(out)


def faiss_hash(database: np.ndarray):
    """FAISS's own exact small-radius structure: one hash table on 16 bits (set ``nflip`` to the radius)."""
    import faiss

    index = faiss.IndexBinaryHash(64, 16)
    index.add(database)
    return index


def resident_bytes() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def index_memory(n: int, structured: bool, kind: str) -> float:
    """Bytes per code that building a ``kind`` index over ``n`` codes adds to a fresh process."""
    child = [sys.executable, __file__, "--memory-of", kind, str(n), str(int(structured))]
    return float(subprocess.run(child, capture_output=True, text=True, check=True).stdout.split()[-1])


def timed(fn, runs: int = 3, min_seconds: float = 0.5) -> float:
    """Median seconds of ``fn()`` over at least ``runs`` runs and ``min_seconds`` in all: after another
    index's scan, the first three 100-query radius searches of kind "hash" took 2.4x, 1.8x and 1.3x their
    steady time (caches refilled), so a median of three measured the warm-up."""
    times = []
    while len(times) < runs or sum(times) < min_seconds:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once(fn) -> float:
    """Seconds of a single ``fn()``: index builds, and the NumPy scan, too slow to repeat."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    import faiss

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--numpy-queries", type=int, default=20, help="queries timed for the slow NumPy scan")
    parser.add_argument("--radii", type=int, nargs="+", default=[2], help="radii of the range searches")
    parser.add_argument("--memory-of", nargs=3, metavar=("KIND", "N", "STRUCTURED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_of:  # child process: one number
        kind, n, structured = args.memory_of[0], int(args.memory_of[1]), bool(int(args.memory_of[2]))
        codes = PackedCodes(make_codes(n, structured, np.random.default_rng(0)), 64)

        def build(codes):
            if kind == "faiss-hash":
                return faiss_hash(codes.packed)
            index = HammingIndex.build(codes, kind=kind)
            if kind == "hash":
                index.prefix_table()
            return index

        # a small index first, so that the library code a build runs is already paged in: resident memory
        # counts it once a process (at 1M codes the first prefix table built grew it by 0.6-1 byte a code
        # more than the next ones)
        build(codes[np.arange(min(n, 10_000))])
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)  # hand back the pages make_codes freed, or the index reuses them
        before = resident_bytes()
        index = build(codes)  # noqa: F841 (kept alive until measured)
        libc.malloc_trim(0)  # what the index keeps, not the scratch space glibc holds on to after building it
        print((resident_bytes() - before) / n)
        return
    rng = np.random.default_rng(0)
    print(f"64-bit codes, {faiss.omp_get_max_threads()} threads; ms per query (median of at least 3 runs and 0.5 s)\n")
    print("| codes | kind | queries | task | implementation | ms/query | ratio |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for structured in (False, True):
            kind = "structured" if structured else "random"
            database = make_codes(n, structured, rng)
            codes = PackedCodes(database, 64)
            build = {}
            build["HammingIndex flat"] = once(lambda: HammingIndex.build(codes))
            # the hash table is built on the first radius query: time both steps
            build["HammingIndex hash"] = once(lambda: HammingIndex.build(codes, kind="hash").prefix_table())
            build["FAISS IndexBinaryHash, direct"] = once(lambda: faiss_hash(database))
            flat, hashed = HammingIndex.build(codes), HammingIndex.build(codes, kind="hash")
            table, stored = hashed.prefix_table(), hashed.stored_codes()
            direct, direct_hash = faiss.IndexBinaryFlat(64), faiss_hash(database)
            direct.add(database)
            for n_queries in (100, 1000):
                picks = rng.integers(0, n, n_queries)
                q = database[picks].copy()
                q[:, 0] ^= 1
                queries = PackedCodes(q, 64)

                def report(task, rows):
                    for name, seconds in rows:
                        print(f"| {n:,} | {kind} | {n_queries} | {task} | {name} | "
                              f"{1000 * seconds / n_queries:.3f} | {seconds / rows[0][1]:.2f}x |")

                for k in (10, 1000):
                    rows = [("FAISS IndexBinaryFlat, direct", timed(lambda: direct.search(q, k))),
                            ("HammingIndex flat", timed(lambda: flat.search(queries, k)))]
                    if n_queries == 100:
                        m = args.numpy_queries
                        rows.append(("NumPy popcount scan", once(lambda: numpy_topk(database, q[:m], k))
                                     * n_queries / m))
                    report(f"top-{k}", rows)
                for radius in args.radii:
                    # FAISS keeps distances below the radius it is given: radius + 1
                    direct_hash.nflip = radius
                    rows = [("FAISS flat range search, direct", timed(lambda: direct.range_search(q, radius + 1))),
                            ("HammingIndex flat range_search", timed(lambda: flat.range_search(queries, radius))),
                            ("FAISS IndexBinaryHash, direct", timed(lambda: direct_hash.range_search(q, radius + 1))),
                            ("HammingIndex hash range_search", timed(lambda: hashed.range_search(queries, radius)))]
                    if table.probed_fraction(radius) >= MAX_PROBED_FRACTION:  # the index scanned: time its table
                        rows.append(("its prefix table, probed anyway",
                                     timed(lambda: table.range_search(stored, q, radius))))
                    report(f"radius {radius}", rows)
            for name, seconds in build.items():
                print(f"| {n:,} | {kind} | - | build | {name} | {1000 * seconds:.0f} ms in all | - |")
            for name in ("flat", "hash", "faiss-hash"):
                resident = index_memory(n, structured, name)
                label = "FAISS IndexBinaryHash, direct" if name == "faiss-hash" else f"HammingIndex {name}"
                print(f"| {n:,} | {kind} | - | memory | {label} | {resident:.1f} bytes per code in memory "
                      f"| {resident / 8:.2f}x the 8 code bytes |")


if __name__ == "__main__":
    main()
