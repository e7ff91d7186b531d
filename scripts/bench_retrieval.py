"""Speed of the evaluator against the per-query NumPy loop of public deep-hashing code.

    python scripts/bench_retrieval.py [--queries 10000 --database 50000 --bits 64]

Synthetic clustered codes (10 classes). The reference computes, per query,
Hamming distances by dot product, a stable argsort and AP@K, as DeepHash-style
code does (with kind="stable" so ties follow database index, as ours do);
it is timed on a subset of queries and extrapolated. A third row times
mAP@K alone through the FAISS index (``Evaluator.map_at_k_of_codes``). Prints
a table with the speed ratios and the differences between the mAP values.
"""

import argparse
import time

import numpy as np

from ganhash_zoo.retrieval import Evaluator, pack
from ganhash_zoo.retrieval.metrics import evaluate_ranking


def reference_map(q_signs, db_signs, q_labels, db_labels, topk):
    bits = q_signs.shape[1]
    aps = []
    for i in range(len(q_signs)):
        hamming = 0.5 * (bits - db_signs @ q_signs[i])
        order = np.argsort(hamming, kind="stable")
        relevant = (db_labels[order] == q_labels[i])[:topk]
        found = relevant.sum()
        if found == 0:
            aps.append(0.0)
            continue
        ranks = np.flatnonzero(relevant) + 1
        aps.append(np.mean(np.arange(1, found + 1) / ranks))
    return float(np.mean(aps))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10000)
    parser.add_argument("--database", type=int, default=50000)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--topk", type=int, default=1000)
    parser.add_argument("--reference-queries", type=int, default=500, help="queries the slow loop is timed on")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, args.bits))
    db_labels, q_labels = rng.integers(0, 10, args.database), rng.integers(0, 10, args.queries)
    db = pack(centres[db_labels] + 1.5 * rng.standard_normal((args.database, args.bits)))
    q = pack(centres[q_labels] + 1.5 * rng.standard_normal((args.queries, args.bits)))

    start = time.perf_counter()
    ours = evaluate_ranking(q, db, q_labels, db_labels, cutoffs=(args.topk, None))
    ours_s = time.perf_counter() - start

    n_ref = min(args.reference_queries, args.queries)
    start = time.perf_counter()
    ref = reference_map(q.to_signs()[:n_ref], db.to_signs(), q_labels[:n_ref], db_labels, args.topk)
    ref_s = (time.perf_counter() - start) * args.queries / n_ref

    start = time.perf_counter()
    evaluator = Evaluator(np.zeros(args.queries), q_labels, np.zeros(args.database), db_labels)
    via_index = evaluator.map_at_k_of_codes(q, db, args.topk)
    index_s = time.perf_counter() - start

    ours_sub = float(ours.ap[args.topk][:n_ref].mean())
    print(f"{args.queries} queries x {args.database} database x {args.bits} bits, mAP@{args.topk}")
    print(f"| implementation | seconds | speed-up | mAP@{args.topk} (first {n_ref} queries) |")
    print("|---|---|---|---|")
    print(f"| per-query NumPy loop (extrapolated from {n_ref}) | {ref_s:.1f} | 1.0x | {ref:.6f} |")
    print(f"| ganhash_zoo evaluate_ranking (all metrics) | {ours_s:.1f} | {ref_s / ours_s:.1f}x | {ours_sub:.6f} |")
    print(f"| Evaluator.map_at_k_of_codes (mAP@{args.topk} only, FAISS top-k) | {index_s:.1f} | "
          f"{ref_s / index_s:.1f}x | (all queries: {via_index:.6f}) |")
    print(f"max |difference| in mAP: loop vs ours {abs(ref - ours_sub):.2e}; "
          f"index vs ours, all queries {abs(via_index - float(ours.ap[args.topk].mean())):.2e}")


if __name__ == "__main__":
    main()
