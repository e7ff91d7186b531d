"""LSH and ITQ on pixels for a protocol at several code lengths: the floor of the zoo.

    python scripts/baselines.py --protocol cifar10-59k --bits 16 32 64 --data-dir ../shared/datasets
"""

import argparse

from ganhash_zoo.baselines import ITQ, LSH
from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.retrieval import Evaluator


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="cifar10-59k")
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    data, split = load_protocol(args.protocol, data_dir=args.data_dir)
    evaluator = Evaluator.from_split(data, split)
    fit_on = data.images[split.unlabeled if len(split.unlabeled) else split.train]
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
