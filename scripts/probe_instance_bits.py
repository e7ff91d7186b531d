"""Supervised codes with instance bits: can one 48-bit code keep its classes and find copies too?

A supervised code gathers each class into a few nearby codes, so a query's
near-duplicate ties with hundreds of images of its class. This probe keeps
the first ``code bits - K`` bits of a model's code and appends K bits that
no class loss reached: ITQ (``--invariant``: InvariantITQ, which also reads
their augmented views), fitted on the protocol's labelled training images,
on features of the frozen backbone -- the model's own input maps
(``tail_block`` models), average-pooled, or a preset's pooled features. For
each K it prints the test protocol's headline mAP and near-duplicate
figures: a record of the trade (RESULTS.md), not a recipe chosen on test data.

    python scripts/probe_instance_bits.py dshgan-cifar10-48bit --instance-bits 0 8 16 24 \\
        --data-dir ../shared/datasets
    python scripts/probe_instance_bits.py dshgan-cifar10-48bit --features efficientnet-lite0-mirror ...
    python scripts/probe_instance_bits.py ./runs/dsh24/encoder --code-bits 48 --instance-bits 24 ...
    python scripts/probe_instance_bits.py dshgan-cifar10-48bit --invariant --instance-bits 16 20 ...
"""

import argparse

import numpy as np

from ganhash_zoo.baselines import ITQ, InvariantITQ
from ganhash_zoo.cli import load_model
from ganhash_zoo.datasets import get_protocol, load_protocol
from ganhash_zoo.feature_cache import model_inputs
from ganhash_zoo.retrieval import Evaluator, encode_images
from ganhash_zoo.retrieval.codes import pack, unpack

MAPS = "maps"
SHOWN = ("precision@r2", "copy_recall@10", "copy_median_rank", "distinct_codes")


def pooled_maps(maps) -> np.ndarray:
    return np.asarray(maps, np.float32).mean(axis=(1, 2))


def signs(hasher, inputs) -> np.ndarray:
    """The model's codes as ±1 floats."""
    return unpack(encode_images(hasher.encoder, inputs)).astype(np.float32) * 2 - 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a released model (or a run's encoder folder, written as a path)")
    parser.add_argument("--instance-bits", type=int, nargs="+", default=[0, 8, 16, 24])
    parser.add_argument("--features", default=MAPS, help=f"'{MAPS}' (the model's input maps, average-pooled) or a "
                        "backbone preset whose pooled features the instance bits read")
    parser.add_argument("--code-bits", type=int, default=None, help="the code's length (default: the model's)")
    parser.add_argument("--invariant", action="store_true", help="InvariantITQ, fitted on the training images and "
                        "their augmented views, instead of ITQ")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    hasher = load_model(args.model)
    code_bits = args.code_bits or hasher.bits
    if any(not 0 <= code_bits - k <= hasher.bits for k in args.instance_bits):
        parser.error(f"{args.model} has {hasher.bits} bits: a {code_bits}-bit code takes "
                     f"{max(code_bits - hasher.bits, 0)}-{code_bits} instance bits")
    backbone, cut_block = hasher.reads
    if args.features == MAPS and cut_block is None:
        parser.error(f"{args.model} reads pooled features, not maps: name a backbone preset with --features")
    pixels, split = load_protocol(hasher.entry.protocol, data_dir=args.data_dir)
    data = model_inputs(pixels, backbone, cut_block=cut_block)
    query, database, copies = (signs(hasher, inputs) for inputs in
                               (data.images[split.query], data.images[split.database], data.copies_of(split.query)))
    source, pool = (data, pooled_maps) if args.features == MAPS else (model_inputs(pixels, args.features), np.asarray)
    features = {"train": source.images[split.train], "query": source.images[split.query],
                "database": source.images[split.database], "copies": source.copies_of(split.query)}
    if args.invariant:
        features["views"] = source.views_of(split.train)
    features = {kind: pool(inputs) for kind, inputs in features.items()}
    evaluator = Evaluator(pack(query), data.labels[split.query], pack(database), data.labels[split.database],
                          cutoffs=split.map_cutoffs, protocol=split.name)
    hasher_name = "InvariantITQ" if args.invariant else "ITQ"
    headline = f"mAP@{get_protocol(split.name).headline_cutoff or len(split.database)}"
    print(f"{args.model} on {split.name}: the first bits of its code, then K {hasher_name} bits of "
          f"{args.features if args.features != MAPS else f'its block-{cut_block} input maps, average-pooled'}")
    print(f"| instance bits K | model bits kept | {headline} | " + " | ".join(SHOWN) + " |")
    print("|---|---|---|" + "---|" * len(SHOWN))
    for k in args.instance_bits:
        hasher_class, fit_on = (InvariantITQ, ("train", "views")) if args.invariant else (ITQ, ("train",))
        itq = hasher_class(k, seed=0, features=np.asarray).fit(*(features[kind] for kind in fit_on)) if k else None

        def codes(model_signs, kind):
            kept = model_signs[:, :code_bits - k]
            return pack(kept if itq is None else np.concatenate([kept, itq.project(features[kind])], axis=1),
                        threshold=0.0)

        metrics = evaluator.evaluate_codes(codes(query, "query"), codes(database, "database"),
                                           copy_codes=codes(copies, "copies")).metrics
        print(f"| {k} | {code_bits - k} | {metrics[headline]:.4f} | " + " | ".join(
            f"{metrics[key]:,.0f}" if key in ("distinct_codes", "copy_median_rank") else f"{metrics[key]:.3f}"
            for key in SHOWN) + " |", flush=True)


if __name__ == "__main__":
    main()
