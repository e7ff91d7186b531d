"""Draw the protocol splits once and write them into the package.

    python scripts/make_splits.py --data-dir ../shared/datasets

The test suite re-draws each split from its seed and compares it with the
shipped file, so this script only needs rerunning when a protocol changes.
"""

import argparse
from pathlib import Path

from ganhash_zoo.datasets import PROTOCOLS, load_dataset, make_split
from ganhash_zoo.datasets.protocols import save_split

OUT = Path(__file__).resolve().parents[1] / "ganhash_zoo" / "datasets" / "splits"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    for spec in PROTOCOLS.values():
        data = load_dataset(spec.dataset, data_dir=args.data_dir)
        split = make_split(spec, data.labels, data.parts)
        save_split(split, OUT / f"{spec.name}.npz")
        print(spec.name, split.summary())


if __name__ == "__main__":
    main()
