"""Released models on mirror-averaged features: would a mirror-invariant encoder find near-duplicates?

The near-duplicate check adds each query's copy, flipped left-right and
shifted 2 px, to the database. This probe gives every image the mean of the
backbone's pooled features of the image and of its mirror image (the
mirrors' features are computed once and cached like any features), so a
flip alone no longer moves a code, and prints each model's figures both
ways beside ITQ fitted on either kind of features.

    python scripts/probe_mirror.py hashgan-cifar10-48bit uspah-cifar10-48bit --data-dir ../shared/datasets
    python scripts/probe_mirror.py ./runs/sweep/X/encoder ...    # a run's encoder, written as a path

Models that read a backbone's maps (``tail_block``) are refused: their
mirrors' maps are not cached.
"""

import argparse

import numpy as np

from ganhash_zoo.baselines import ITQ
from ganhash_zoo.cli import load_model
from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.datasets.sources import ImageData
from ganhash_zoo.datasets.transforms import near_duplicates
from ganhash_zoo.feature_cache import model_inputs
from ganhash_zoo.retrieval import Evaluator

SHOWN = ("mAP@1000", "mAP@54000", "precision@r2", "distinct_codes", "copy_recall@10", "copy_median_rank")


def mirrored(images: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(images[:, :, ::-1])


def evaluators(protocol: str, backbone: str, data_dir) -> dict:
    """{"plain": the protocol's evaluator on pooled features, "mirror-averaged": the same on averaged ones}."""
    pixels, split = load_protocol(protocol, data_dir=data_dir)
    plain = model_inputs(pixels, backbone)
    mirror = model_inputs(ImageData(mirrored(pixels.images), pixels.labels, pixels.class_names, pixels.parts),
                          backbone)
    averaged = (plain.images + mirror.images) / 2
    copies = near_duplicates(pixels.images[split.query])
    extract = plain.extractor.features
    return {
        "plain": (Evaluator.from_split(plain, split), plain.images[split.database]),
        "mirror-averaged": (Evaluator(averaged[split.query], plain.labels[split.query], averaged[split.database],
                                      plain.labels[split.database], cutoffs=split.map_cutoffs, protocol=split.name,
                                      copies=(extract(copies) + extract(mirrored(copies))) / 2),
                            averaged[split.database]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="released models (or run encoder folders, written as paths) of "
                        "one protocol on a backbone's pooled features")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    hashers = [load_model(name) for name in args.models]
    if any(h.backbone is None or h.backbone.cut_block is not None for h in hashers):
        parser.error("every model must read a backbone's pooled features (not pixels, not maps)")
    if len({(h.entry.protocol, h.backbone.name, h.bits) for h in hashers}) != 1:
        parser.error("the models must share one protocol, backbone and bit length")
    first = hashers[0]
    rows = []
    for features, (evaluator, database) in evaluators(first.entry.protocol, first.backbone.name,
                                                      args.data_dir).items():
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
