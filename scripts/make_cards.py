"""Write model_cards/NAME.md for every released model, from the registry's measured figures.

    python scripts/make_cards.py            # (re)write the cards
    python scripts/make_cards.py --check    # exit 1 if any card is stale, missing or extra

Cards are never edited by hand: change ganhash_zoo/cards.py or the registry and rerun.
"""

import argparse
import sys
from pathlib import Path

from ganhash_zoo.cards import stale_cards, write_cards

CARDS_DIR = Path(__file__).resolve().parents[1] / "model_cards"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--out", type=Path, default=CARDS_DIR)
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_cards(args.out)
        for name in stale:
            print(f"stale: {args.out / name} (rerun python scripts/make_cards.py)")
        return 1 if stale else 0
    print(f"wrote {write_cards(args.out)} card(s) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
