"""Write model_cards/NAME.md for every released model, and the README's released-models table,
from the registry's measured figures.

    python scripts/make_cards.py            # (re)write the cards and the README table
    python scripts/make_cards.py --check    # exit 1 if any card or the table is stale, missing or extra

Cards are never edited by hand: change ganhash_zoo/cards.py or the registry and rerun.
"""

import argparse
import sys
from pathlib import Path

from ganhash_zoo.cards import readme_with_table, stale_cards, write_cards

CARDS_DIR = Path(__file__).resolve().parents[1] / "model_cards"
README = Path(__file__).resolve().parents[1] / "README.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--out", type=Path, default=CARDS_DIR)
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_cards(args.out)
        readme = README.read_text()
        stale += ["README.md (released-models table)"] if readme_with_table(readme) != readme else []
        for name in stale:
            print(f"stale: {name} (rerun python scripts/make_cards.py)")
        return 1 if stale else 0
    print(f"wrote {write_cards(args.out)} card(s) to {args.out}")
    README.write_text(readme_with_table(README.read_text()))
    print(f"updated the released-models table in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
