"""Choose a recipe on the validation split: train variants of one run, print their validation curves.

    python scripts/sweep.py uspah --dataset fashion_mnist --bits 48 --epochs 4 --width 16 --learning-rate 1e-3 \\
        --max-unlabeled 12000 --eval-every 1 --vary far_fraction=1.0,0.5 --data-dir ../shared/datasets --out runs/sweep

Takes ``train``'s arguments plus ``--vary KEY=V1,V2,...`` (a method option, repeatable: the variants
are their product). Each variant trains in its own folder under ``--out`` and resumes there. The
table has, per variant and evaluated epoch, validation mAP and precision@r2 (the validation queries
against the rest of the labelled pool, as logged during training) under ITQ fitted on the same
training images, the recall of near-duplicate copies and the distinct codes of the validation database: the
release bar, without touching the test queries.
"""

import argparse
import dataclasses
import itertools
from pathlib import Path

from ganhash_zoo.baselines import ITQ
from ganhash_zoo.cli import add_train_arguments, resolve_train_defaults, train_config
from ganhash_zoo.config import TrainConfig
from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.feature_cache import model_inputs
from ganhash_zoo.retrieval import Evaluator
from ganhash_zoo.training import train, training_images, validation_curve, validation_metric_names


def variants(vary: list[str]) -> list[dict]:
    """The product of ``KEY=V1,V2`` lists, as method-option dicts (values read like ``--option``)."""
    axes = []
    for text in vary:
        key, _, values = text.partition("=")
        axes.append([TrainConfig.parse_option(f"{key}={value}") for value in values.split(",")])
    return [dict(choice) for choice in itertools.product(*axes)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_train_arguments(parser)
    parser.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                        help="method option values to compare; repeatable")
    args = resolve_train_defaults(parser.parse_args(argv))
    base = train_config(args)
    pixels, split = load_protocol(base.protocol, data_dir=args.data_dir)
    data = model_inputs(pixels, base.backbone)
    validation = Evaluator.validation(data, split)
    itq = validation.evaluate(
        ITQ(base.bits, seed=base.seed).fit(training_images(data, split, base.max_unlabeled, base.seed)), name="itq")
    rows = [("ITQ", "-", itq.metrics)]
    for options in variants(args.vary) or [{}]:
        config = dataclasses.replace(base, method_options={**base.method_options, **options})
        label = " ".join(f"{k}={v}" for k, v in options.items()) or "base"
        out = Path(args.out) / label.replace(" ", "_").replace("=", "-")
        train(config, out=out, data_dir=args.data_dir, verbose=args.verbose)
        rows += [(label, point["epoch"], {k.removeprefix("val_"): v for k, v in point.items()})
                 for point in validation_curve(out)]
    # the figures each run logs, with ITQ's other mAP cut-offs beside them
    logged = validation_metric_names(validation)
    metrics = [m for m in itq.metrics if m.startswith("mAP@") or m in logged]
    print("| variant | epoch | " + " | ".join(f"val {m}" for m in metrics) + " |")
    print("|---" * (len(metrics) + 2) + "|")
    for label, epoch, values in rows:
        cells = ["-" if m not in values else f"{values[m]:,.0f}" if m == "distinct_codes" else f"{values[m]:.4f}"
                 for m in metrics]
        print(f"| {label} | {epoch} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
