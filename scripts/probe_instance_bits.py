"""Supervised codes with fixed bits: can one 48-bit code keep its classes and find copies too?

A supervised code gathers each class into a few nearby codes, so a query's
near-duplicate ties with hundreds of images of its class. This probe keeps
the first ``code bits - T - K`` bits of a model's code, then appends T
*feature bits* (``--feature-bits``: ITQ on the model's own pooled features,
its fine-tuned tail's output) and K *instance bits* that no class loss
reached: ITQ (``--invariant``: InvariantITQ, which also reads their
augmented views) on features of the frozen backbone -- the model's own
input maps (``tail_block`` models), average-pooled, or a preset's pooled
features -- or (``--features own``) on the model's own pooled features.
Both are fitted on the protocol's labelled training images. For each
(T, K) it prints the headline mAP and near-duplicate figures of the
test queries, or with ``--split val`` of the validation queries (mAP
against the labelled pool, copies against the database without them, as
``probe_copies.py``): a record of the trade (RESULTS.md); recipes are
chosen on validation only.

    python scripts/probe_instance_bits.py dshgan-cifar10-48bit --instance-bits 0 8 16 24 \\
        --data-dir ../shared/datasets
    python scripts/probe_instance_bits.py dshgan-cifar10-48bit --features efficientnet-lite0-mirror ...
    python scripts/probe_instance_bits.py ./runs/dsh24/encoder --code-bits 48 --instance-bits 24 ...
    python scripts/probe_instance_bits.py dshgan-cifar10-48bit --invariant --instance-bits 16 20 ...
    python scripts/probe_instance_bits.py dshgan-cifar10-48bit --invariant --feature-bits 0 12 16 \\
        --instance-bits 16 20 --split val ...
"""

import argparse
import itertools

import numpy as np

from ganhash_zoo.baselines import ITQ, InvariantITQ
from ganhash_zoo.cli import load_model
from ganhash_zoo.datasets import get_protocol, load_protocol
from ganhash_zoo.feature_cache import model_inputs
from ganhash_zoo.nets import InstanceBits
from ganhash_zoo.retrieval import Evaluator, encode_images
from ganhash_zoo.retrieval.code_quality import near_duplicate_figures
from ganhash_zoo.retrieval.codes import pack, unpack

MAPS = "maps"
OWN = "own"
SHOWN = ("precision@r2", "copy_recall@10", "copy_median_rank", "distinct_codes")


def signs(hasher, inputs) -> np.ndarray:
    """The model's codes as ±1 floats."""
    return unpack(encode_images(hasher.encoder, inputs)).astype(np.float32) * 2 - 1


def own_features(hasher, inputs) -> np.ndarray:
    """The model's pooled features of its inputs: its fine-tuned tail's output, or the inputs themselves."""
    tail = next((layer for layer in hasher.encoder.layers if "from_block" in layer.name), None)
    return np.asarray(inputs, np.float32) if tail is None else tail.predict(inputs, batch_size=512, verbose=0)


def per_rows(rows: dict, inputs: dict, compute) -> dict:
    """``compute`` of each kind's inputs, once for kinds that name the same rows (the test database twice)."""
    done, out = {}, {}
    for kind, x in inputs.items():
        key = id(rows[kind]) if kind in rows else kind
        if key not in done:
            done[key] = compute(x)
        out[kind] = done[key]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a released model (or a run's encoder folder, written as a path)")
    parser.add_argument("--instance-bits", type=int, nargs="+", default=[0, 8, 16, 24])
    parser.add_argument("--feature-bits", type=int, nargs="+", default=[0], help="ITQ bits of the model's own "
                        "pooled features, placed before the instance bits")
    parser.add_argument("--features", default=MAPS, help=f"'{MAPS}' (the model's input maps, average-pooled), "
                        f"'{OWN}' (the model's own pooled features) or a backbone preset whose pooled features the "
                        "instance bits read")
    parser.add_argument("--code-bits", type=int, default=None, help="the code's length (default: the model's)")
    parser.add_argument("--invariant", action="store_true", help="InvariantITQ, fitted on the training images and "
                        "their augmented views, instead of ITQ")
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    hasher = load_model(args.model)
    code_bits = args.code_bits or hasher.bits
    mixes = list(itertools.product(args.feature_bits, args.instance_bits))
    if any(not 0 <= code_bits - t - k <= hasher.bits for t, k in mixes):
        parser.error(f"{args.model} has {hasher.bits} bits: a {code_bits}-bit code takes "
                     f"{max(code_bits - hasher.bits, 0)}-{code_bits} feature and instance bits")
    backbone, cut_block = hasher.reads
    if args.features == MAPS and cut_block is None:
        parser.error(f"{args.model} reads pooled features, not maps: name a backbone preset with --features")
    pixels, split = load_protocol(hasher.entry.protocol, data_dir=args.data_dir)
    if args.split == "val":  # as Evaluator.validation and probe_copies.py
        rows = {"query": split.val, "database": split.train, "copy_database": np.setdiff1d(split.database, split.val)}
    else:
        rows = {"query": split.query, "database": split.database, "copy_database": split.database}
    data = model_inputs(pixels, backbone, cut_block=cut_block)
    inputs = {kind: data.images[index] for kind, index in rows.items()}
    inputs["copies"] = data.copies_of(rows["query"])
    model_signs = per_rows(rows, inputs, lambda x: signs(hasher, x))
    if args.features in (MAPS, OWN):
        source = data
        pooled = InstanceBits(data.images.shape[-1], 1).features_of if args.features == MAPS \
            else (lambda x: own_features(hasher, x))
    else:
        source, pooled = model_inputs(pixels, args.features), np.asarray
    with_train = {**rows, "train": split.train}
    instance_inputs = {kind: source.images[index] for kind, index in with_train.items()}
    instance_inputs["copies"] = source.copies_of(rows["query"])
    if args.invariant:
        instance_inputs["views"] = source.views_of(split.train)
    instance_features = per_rows(with_train, instance_inputs, pooled)
    # the model's own features run its tail over the database: once, whichever bits read them
    if args.features == OWN:
        own = instance_features
    elif any(args.feature_bits):
        own = per_rows(with_train, {**inputs, "train": data.images[split.train]}, lambda x: own_features(hasher, x))
    else:
        own = {}
    if args.split == "val":  # the validation figures a run logs: the headline cut-off scaled to the smaller pool
        cutoffs = Evaluator.validation(data, split).cutoffs
        headline = f"mAP@{cutoffs[0] or len(rows['database'])}"
    else:
        cutoffs = split.map_cutoffs
        headline = f"mAP@{get_protocol(split.name).headline_cutoff or len(rows['database'])}"
    evaluator = Evaluator(pack(model_signs["query"]), data.labels[rows["query"]], pack(model_signs["database"]),
                          data.labels[rows["database"]], cutoffs=cutoffs, protocol=split.name)
    instance_class, fit_on = (InvariantITQ, ("train", "views")) if args.invariant else (ITQ, ("train",))
    print(f"{args.model} on {split.name}, {args.split} queries: the first bits of its code, then T ITQ bits of its own "
          f"pooled features, then K {instance_class.__name__} bits of "
          + {MAPS: f"its block-{cut_block} input maps, average-pooled", OWN: "its own pooled features"}.get(
              args.features, args.features))
    print(f"| feature bits T | instance bits K | model bits kept | {headline} | " + " | ".join(SHOWN) + " |")
    print("|---|---|---|---|" + "---|" * len(SHOWN))
    for t, k in mixes:
        feature_itq = ITQ(t, seed=0, features=np.asarray).fit(own["train"]) if t else None
        instance_itq = instance_class(k, seed=0, features=np.asarray).fit(
            *(instance_features[kind] for kind in fit_on)) if k else None

        def codes(kind):
            parts = [model_signs[kind][:, :code_bits - t - k]]
            parts += [feature_itq.project(own[kind])] if feature_itq else []
            parts += [instance_itq.project(instance_features[kind])] if instance_itq else []
            return pack(np.concatenate(parts, axis=1), threshold=0.0)

        metrics = {**evaluator.evaluate_codes(codes("query"), codes("database")).metrics,
                   **near_duplicate_figures(codes("query"), codes("copies"), codes("copy_database"))}
        print(f"| {t} | {k} | {code_bits - t - k} | {metrics[headline]:.4f} | " + " | ".join(
            f"{metrics[key]:,.0f}" if key in ("distinct_codes", "copy_median_rank") else f"{metrics[key]:.3f}"
            for key in SHOWN) + " |", flush=True)


if __name__ == "__main__":
    main()
