"""Each planned model's recipe: the TrainConfig the zoo trains it with.

A recipe is the :class:`~ganhash_zoo.config.TrainConfig` of a model, set
per (method, dataset) and shared by every bit length. Recipes are chosen on
the protocol's validation split (``val_mAP`` in each run's log), never on the
queries; each released run records its own in the registry and its card.

CIFAR-10 recipes are sized for a 2-core CPU (width 32, the labelled 4,500
images of cifar10-54k or a 20,000-image subset of cifar10-59k); a GPU run
can raise ``width`` and ``epochs`` and set ``mixed_precision``.
"""

from __future__ import annotations

from .config import TrainConfig

RECIPES = {
    # cifar10-54k: 4,500 labelled images per epoch (+ as many again in the semi-supervised stream)
    ("dshgan", "cifar10"): dict(epochs=60, width=32, learning_rate=5e-4, eval_every=5),
    ("ssah", "cifar10"): dict(epochs=60, width=32, learning_rate=5e-4, eval_every=5),
    ("fakereg", "cifar10"): dict(epochs=60, gan_epochs=30, width=32, learning_rate=5e-4, eval_every=5),
    # cifar10-59k: unsupervised on a 20,000-image subset of the 59,000
    # validation mAP of hashgan-cifar10-48bit by epoch: 0.1468 0.1474 0.1558 0.1550 (ITQ 0.1431): 4 epochs
    ("hashgan", "cifar10"): dict(epochs=4, width=32, learning_rate=5e-4, max_unlabeled=20000, eval_every=1),
    # USPAH's graph on k-means patch features: their neighbours share the class more often than pixels'
    ("uspah", "cifar10"): dict(epochs=15, width=32, learning_rate=5e-4, max_unlabeled=20000, eval_every=3,
                               method_options={"features": "patches"}),
    # fashion_mnist-59k: the recipe of the released DSH-GAN and HashGAN models
    **{(method, "fashion_mnist"): dict(epochs=10, width=16, learning_rate=1e-3, max_unlabeled=12000, eval_every=1)
       for method in ("hashgan", "uspah", "dshgan", "fakereg", "ssah")},
}


def recipe(method: str, dataset: str, protocol: str, bits: int) -> TrainConfig:
    """The TrainConfig the zoo trains ``method`` on ``dataset`` at ``bits`` with."""
    return TrainConfig(method, dataset, protocol, bits, **RECIPES[method, dataset])
