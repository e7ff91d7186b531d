"""Train one method on one protocol; the same as ``ganhash-zoo train``.

    python scripts/train.py hashgan --dataset cifar10 --protocol cifar10-59k --bits 48 --epochs 30 --out runs/x

Interrupted runs continue from their last epoch when started again with the
same --out. On a GPU: KERAS_BACKEND=torch, --mixed-precision bfloat16.
"""

import sys

from ganhash_zoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
