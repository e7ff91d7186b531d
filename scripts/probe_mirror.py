"""Models on plain and on mirror-averaged features: does a mirror-invariant encoder find near-duplicates?

The near-duplicate check adds each query's copy, flipped left-right and
shifted 2 px, to the database. The ``efficientnet-lite0-mirror`` backbone
gives every image the mean of the pooled features of the image and of its
mirror image, so a flip alone no longer moves a code. This probe evaluates
each model on both backbones' features of its protocol (computed once and
cached like any features) and prints the figures beside ITQ fitted on each.

    python scripts/probe_mirror.py uspah-cifar10-48bit --data-dir ../shared/datasets
    python scripts/probe_mirror.py ./runs/sweep/X/encoder ...    # a run's encoder, written as a path

Models that read a backbone's maps (``tail_block``) are refused: maps are not mirror-averaged.
"""

import argparse

from ganhash_zoo.baselines import ITQ
from ganhash_zoo.cli import load_model
from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.feature_cache import model_inputs
from ganhash_zoo.retrieval import Evaluator

BACKBONES = {"plain": "efficientnet-lite0", "mirror-averaged": "efficientnet-lite0-mirror"}
SHOWN = ("mAP@1000", "mAP@54000", "precision@r2", "distinct_codes", "copy_recall@10", "copy_median_rank")


def evaluators(protocol: str, data_dir) -> dict:
    """{kind: (the protocol's evaluator on that backbone's features, the database's features)}."""
    pixels, split = load_protocol(protocol, data_dir=data_dir)
    inputs = {kind: model_inputs(pixels, backbone) for kind, backbone in BACKBONES.items()}
    return {kind: (Evaluator.from_split(data, split), data.images[split.database]) for kind, data in inputs.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="released models (or run encoder folders, written as paths) of "
                        "one protocol on a backbone's pooled features")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    hashers = [load_model(name) for name in args.models]
    if any(h.reads not in {(backbone, None) for backbone in BACKBONES.values()} for h in hashers):
        parser.error(f"every model must read the pooled features of {' or '.join(BACKBONES.values())}")
    if len({(h.entry.protocol, h.bits) for h in hashers}) != 1:
        parser.error("the models must share one protocol and bit length")
    first = hashers[0]
    rows = []
    for features, (evaluator, database) in evaluators(first.entry.protocol, args.data_dir).items():
        for label, hasher in zip(args.models, hashers):  # as given: a run carries its model's name
            rows.append((label, features, evaluator.evaluate(hasher.encoder, name=label).metrics))
        itq = ITQ(first.bits, seed=0).fit(database)  # ITQ fitted on the database's features of that kind
        rows.append((f"ITQ ({first.bits} bits)", features, evaluator.evaluate(itq, name="itq").metrics))
    shown = [key for key in SHOWN if key in rows[0][2]]
    print("| model | features | " + " | ".join(shown) + " |")
    print("|---|---|" + "---|" * len(shown))
    for name, features, metrics in sorted(rows, key=lambda row: row[0]):
        print(f"| {name} | {features} | " + " | ".join(
            f"{metrics[key]:,.0f}" if key in ("distinct_codes", "copy_median_rank") else f"{metrics[key]:.4f}"
            for key in shown) + " |")


if __name__ == "__main__":
    main()
