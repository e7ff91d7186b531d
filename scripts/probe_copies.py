"""Near-duplicate recall on the validation queries, ranked against a database as large as the test's.

A run's log measures copy recall@10 of its validation queries against the
labelled pool (4,500-5,000 images), where a copy has a tenth of the test
database's images to lose to, so that figure can run far above the test
figure (RESULTS.md, "Copies judged against the whole database"). This probe adds each
validation query's copy (flipped left-right, shifted 2 px) to the
protocol's database minus the validation images themselves, as the test
check does for the test queries: copies are judged on the database's
images (no labels are read) and never on the test queries, so recipes may be
chosen on it.

    python scripts/probe_copies.py uspah-cifar10-48bit ./runs/sweep/X/encoder --data-dir ../shared/datasets
"""

import argparse

import numpy as np

from ganhash_zoo.cli import load_model
from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.feature_cache import model_inputs
from ganhash_zoo.retrieval import encode_images
from ganhash_zoo.retrieval.code_quality import code_spread, near_duplicate_figures

SHOWN = ("copy_recall@10", "copy_median_rank", "distinct_codes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="released models (or run encoder folders, written as paths) of "
                        "one protocol")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    hashers = [load_model(name) for name in args.models]
    if len({h.entry.protocol for h in hashers}) != 1:
        parser.error("the models must share one protocol")
    pixels, split = load_protocol(hashers[0].entry.protocol, data_dir=args.data_dir)
    database = np.setdiff1d(split.database, split.val)
    inputs = {}  # what a model reads -> (those inputs, the validation copies' inputs): shared by models reading it
    print(f"{hashers[0].entry.protocol}: {len(split.val)} validation queries and their copies, "
          f"{len(database):,} database images")
    print("| model | " + " | ".join(SHOWN) + " |")
    print("|---|" + "---|" * len(SHOWN))
    for label, hasher in zip(args.models, hashers):
        if hasher.reads not in inputs:
            backbone, cut_block = hasher.reads
            data = model_inputs(pixels, backbone, cut_block=cut_block)
            inputs[hasher.reads] = data, data.copies_of(split.val)  # the copies' features are computed, not cached
        data, copy_inputs = inputs[hasher.reads]
        queries = encode_images(hasher.encoder, data.images[split.val], desc="encoding queries")
        copies = encode_images(hasher.encoder, copy_inputs, desc="encoding copies")
        db_codes = encode_images(hasher.encoder, data.images[database], desc="encoding database")
        metrics = {**near_duplicate_figures(queries, copies, db_codes), **code_spread(db_codes)}
        print(f"| {label} | " + " | ".join(
            f"{metrics[key]:,.0f}" if key in ("distinct_codes", "copy_median_rank") else f"{metrics[key]:.3f}"
            for key in SHOWN) + " |")


if __name__ == "__main__":
    main()
