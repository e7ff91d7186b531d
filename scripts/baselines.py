"""LSH and ITQ for a protocol at several code lengths, on a backbone's features or pixels: the zoo's floor.

    python scripts/baselines.py --protocol cifar10-59k --bits 16 32 48 64 --data-dir ../shared/datasets
    python scripts/baselines.py --protocol cifar10-59k --bits 48 --backbone dcgan ...    # on pixels
    python scripts/baselines.py --protocol cifar10-59k --bits 48 --split val --max-unlabeled 20000 ...

``--split test`` (default) measures the protocol's queries against its database, as the
registry does; ``--split val`` measures the validation queries against the labelled
training pool, as a run's ``val_mAP@all`` does, so recipes are compared with the
baselines without touching the queries. ``--max-unlabeled`` fits on the same random
subset of the unlabelled pool that ``train --max-unlabeled`` trains on.
"""

import argparse

from ganhash_zoo.baselines import ITQ, LSH
from ganhash_zoo.config import BACKBONE_CHOICES
from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.feature_cache import model_inputs
from ganhash_zoo.pretrained import DEFAULT_BACKBONE
from ganhash_zoo.retrieval import Evaluator
from ganhash_zoo.training import training_images


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="cifar10-59k")
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--split", choices=["test", "val"], default="test")
    parser.add_argument("--max-unlabeled", type=int, default=None, help="fit on this many training images")
    parser.add_argument("--seed", type=int, default=0, help="the subset's seed (train's --seed)")
    parser.add_argument("--backbone", choices=BACKBONE_CHOICES, default=DEFAULT_BACKBONE,
                        help="fit on this backbone's features (default), or dcgan: on pixels")
    args = parser.parse_args()
    pixels, split = load_protocol(args.protocol, data_dir=args.data_dir)
    data = model_inputs(pixels, args.backbone)
    evaluator = Evaluator.validation(data, split) if args.split == "val" else Evaluator.from_split(data, split)
    fit_on = training_images(data, split, args.max_unlabeled, args.seed)
    keys = None
    for cls in (LSH, ITQ):
        for bits in args.bits:
            metrics = evaluator.evaluate(cls(bits).fit(fit_on), name=cls.name).metrics
            if keys is None:
                keys = list(metrics)
                print("| hasher | bits | " + " | ".join(keys) + " |")
                print("|---" * (len(keys) + 2) + "|")
            print(f"| {cls.name} | {bits} | " + " | ".join(f"{metrics[k]:.4f}" if isinstance(metrics[k], float)
                                                         else str(metrics[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
