"""Release finished training runs: weights into weights/NAME/, figures into the registry, cards regenerated.

    python scripts/release.py runs/dshgan-fashion-mnist-48bit [more runs] [--overwrite]

Each run folder is what scripts/train.py wrote (results.json + encoder/).
The registry entry's figures are the run's own measurements on the
protocol's queries; publish with scripts/publish.py afterwards.
"""

import argparse
from pathlib import Path

from ganhash_zoo.cards import write_cards
from ganhash_zoo.releases import release_run
from ganhash_zoo.registry import bundled_weights_dir, released_file


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--overwrite", action="store_true", help="replace an already released model")
    args = parser.parse_args(argv)
    for run in args.runs:
        entry = release_run(run, bundled_weights_dir(), released_file(), overwrite=args.overwrite)
        figures = ", ".join(f"{k} {v:.4f}" for k, v in entry["metrics"].items() if k.startswith("mAP"))
        print(f"released {run.name}: {figures}")
    cards = Path(__file__).resolve().parents[1] / "model_cards"
    print(f"wrote {write_cards(cards)} card(s) to {cards}")


if __name__ == "__main__":
    main()
