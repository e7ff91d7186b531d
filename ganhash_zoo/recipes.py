"""The zoo's training plan: the order planned models are trained in, and each one's recipe.

A recipe is the :class:`~ganhash_zoo.training.TrainConfig` of a model, set
per (method, dataset) and shared by every bit length. Recipes are chosen on
the protocol's validation split (``val_mAP`` in each run's log), never on the
queries; each released run records its own in the registry and its card.

CIFAR-10 recipes are sized for a 2-core CPU (width 32, the labelled 4,500
images of cifar10-54k or a 20,000-image subset of cifar10-59k); a GPU run
can raise ``width`` and ``epochs`` and set ``mixed_precision``.
"""

from __future__ import annotations

import fnmatch

from .training import TrainConfig
from .registry import CIFAR10_BITS, registry

RECIPES = {
    # cifar10-54k: 4,500 labelled images per epoch (+ as many again in the semi-supervised stream)
    ("dshgan", "cifar10"): dict(epochs=60, width=32, learning_rate=5e-4, eval_every=5),
    ("ssah", "cifar10"): dict(epochs=60, width=32, learning_rate=5e-4, eval_every=5),
    ("fakereg", "cifar10"): dict(epochs=60, gan_epochs=30, width=32, learning_rate=5e-4, eval_every=5),
    # cifar10-59k: unsupervised on a 20,000-image subset of the 59,000
    ("hashgan", "cifar10"): dict(epochs=15, width=32, learning_rate=5e-4, max_unlabeled=20000, eval_every=3),
    ("uspah", "cifar10"): dict(epochs=15, width=32, learning_rate=5e-4, max_unlabeled=20000, eval_every=3),
    # fashion_mnist-59k: the recipe of the released DSH-GAN and HashGAN models
    **{(method, "fashion_mnist"): dict(epochs=10, width=16, learning_rate=1e-3, max_unlabeled=12000, eval_every=1)
       for method in ("hashgan", "uspah", "dshgan", "fakereg", "ssah")},
}
METHOD_ORDER = ("hashgan", "uspah", "dshgan", "fakereg", "ssah")
CIFAR10_BIT_ORDER = (48, 32, 64, 16)
assert sorted(CIFAR10_BIT_ORDER) == sorted(CIFAR10_BITS)


def recipe(name: str) -> TrainConfig:
    """The TrainConfig the zoo trains a planned model with."""
    entry = registry()[name]
    return TrainConfig(entry.method, entry.dataset, entry.protocol, entry.bits, **RECIPES[entry.method, entry.dataset])


def zoo_order() -> list[str]:
    """Every planned model: CIFAR-10 at 48 bits for each method, then 32, 64 and 16 bits, then Fashion-MNIST."""
    entries = registry()
    cifar = [f"{m}-cifar10-{b}bit" for b in CIFAR10_BIT_ORDER for m in METHOD_ORDER]
    rest = sorted((n for n in entries if n not in cifar), key=lambda n: METHOD_ORDER.index(entries[n].method))
    return cifar + rest


def planned_unreleased(patterns=("*",)) -> list[str]:
    """Names in zoo order that match any glob in ``patterns`` and have no released weights."""
    entries = registry()
    return [n for n in zoo_order() if not entries[n].released and any(fnmatch.fnmatch(n, p) for p in patterns)]
