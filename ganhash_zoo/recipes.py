"""Each planned model's recipe: the TrainConfig the zoo trains it with.

A recipe is the :class:`~ganhash_zoo.config.TrainConfig` of a model, set
per (method, dataset) and shared by every bit length unless ``BY_BITS``
overrides it for one. Recipes are chosen on the protocol's validation split
(``val_mAP`` and ``val_precision@r2`` in each run's log; ``scripts/sweep.py``
compares variants), never on the queries; each released run records its own
in the registry and its card.

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
    # USPAH's graph on k-means patch features (their neighbours share the class more often than
    # pixels'), pushing apart only each row's far half. Validation at 48 bits, 3 epochs over 10,000
    # images, mAP@76 / precision@r2: far_fraction 0.5 0.256 / 0.080, 1.0 0.249 / 0.029, 0.5 with
    # 8 neighbours (2 epochs) 0.245 / 0.189; ITQ 0.245 / 0.032. scripts/sweep.py uspah --bits 48
    # --epochs 3 --width 32 --learning-rate 5e-4 --max-unlabeled 10000 --option features=patches
    # --vary far_fraction=0.5,1.0
    # 20,000 images rather than 10,000 (the 48- and 64-bit models were released with 10,000): at 16
    # bits, 10,000 gave 0.254 / 0.171 at epoch 3 (ITQ 0.243 / 0.181), 20,000 0.274 / 0.195 (ITQ 0.240
    # / 0.171); at 32 bits 0.251 / 0.169 and 0.271 / 0.160 (ITQ 0.244 / 0.089). The same sweep.py
    # command with --bits 16 or 32 and --max-unlabeled 20000
    ("uspah", "cifar10"): dict(epochs=3, width=32, learning_rate=5e-4, max_unlabeled=20000, eval_every=1,
                               method_options={"features": "patches", "far_fraction": 0.5}),
    # fashion_mnist-59k: the recipe of the released DSH-GAN, FakeReg and SSAH models
    **{(method, "fashion_mnist"): dict(epochs=10, width=16, learning_rate=1e-3, max_unlabeled=12000, eval_every=1)
       for method in ("dshgan", "fakereg", "ssah")},
    # HashGAN on Fashion-MNIST needs width 48 to pass ITQ on both halves of the bar: narrower, decorrelation
    # trades one half for the other. Validation mAP@76 / precision@r2 at epoch 10 (ITQ 0.687 / 0.537):
    # width 48, decorrelation 1.0 0.720 / 0.577 (0.704 / 0.538 at epoch 4), 0.75 0.696 / 0.565; width 32,
    # 1.0 0.696 / 0.504, 0.75 0.682 / 0.552, 0.5 0.667 / 0.581; width 16 (the first release's), 0.3 and
    # 0.7 over up to 20 epochs, at most 0.673. Width 32, 0.75 over the whole 59,000-image pool (8 epochs):
    # 0.690 / 0.563 against ITQ fitted on it, 0.694 / 0.566. scripts/sweep.py hashgan --dataset fashion_mnist
    # --bits 48 --epochs 10 --width 48 --learning-rate 1e-3 --max-unlabeled 12000 --eval-every 2
    # --vary decorrelation_weight=1.0,0.75
    ("hashgan", "fashion_mnist"): dict(epochs=10, width=48, learning_rate=1e-3, max_unlabeled=12000, eval_every=2),
    # USPAH on Fashion-MNIST needs HashGAN's decorrelation term to pass ITQ at the top of the ranking,
    # and stops early: it trades radius-2 precision for mAP by epoch. Validation (48 bits, patches, 8
    # neighbours, far_fraction 0.5, width 32), mAP@76 / precision@r2 at epochs 1..5: decorrelation 0.5
    # 0.692 / 0.549, 0.698 / 0.561, 0.698 / 0.509, 0.700 / 0.496, 0.704 / 0.492; decorrelation 0 0.632 /
    # 0.565, 0.652 / 0.603, 0.645 / 0.569, ...; ITQ 0.687 / 0.537. Width 16, pixels or 3 neighbours
    # stayed below ITQ's mAP@76 (0.628-0.679). scripts/sweep.py uspah --dataset fashion_mnist --bits 48
    # --epochs 5 --width 32 --learning-rate 1e-3 --max-unlabeled 12000 --option features=patches
    # --option far_fraction=0.5 --option neighbours=8 --vary decorrelation_weight=0.0,0.5
    ("uspah", "fashion_mnist"): dict(epochs=2, width=32, learning_rate=1e-3, max_unlabeled=12000, eval_every=1,
                                     method_options={"features": "patches", "far_fraction": 0.5, "neighbours": 8,
                                                     "decorrelation_weight": 0.5}),
}

# one bit length's departures from its (method, dataset) recipe, with the validation runs that chose them
BY_BITS = {
    # 64 bits: decorrelated bits spread the codes so evenly that radius-2 balls empty. Validation
    # precision@r2 by epoch, decorrelation 1.0: 0.004 0.008 (stopped); 0.3: 0.052 0.060 0.068 0.085
    # (ITQ 0.018); mAP 0.151 0.154 against 0.145 0.148 0.152 0.151 (ITQ 0.144). scripts/sweep.py
    # hashgan --bits 64 with the recipe above and --vary decorrelation_weight=1.0,0.3
    ("hashgan", "cifar10", 64): dict(method_options={"decorrelation_weight": 0.3}),
    # 16 bits: without a balance term the real codes drew into one radius-2 ball. Validation
    # precision@r2 at epochs 5, 10, ..., balance 0: 0.100 0.100 (stopped; the class prior); 0.1:
    # 0.150 0.187 0.225 ... 0.378 at 60 (ITQ 0.166); mAP 0.190 0.190 against 0.144 0.182 0.207
    # ... 0.350 (ITQ 0.138). scripts/sweep.py dshgan --bits 16 with the recipe above and
    # --vary balance_weight=0.0,0.1
    ("dshgan", "cifar10", 16): dict(method_options={"balance_weight": 0.1}),
}


def recipe(method: str, dataset: str, protocol: str, bits: int) -> TrainConfig:
    """The TrainConfig the zoo trains ``method`` on ``dataset`` at ``bits`` with."""
    return TrainConfig(method, dataset, protocol, bits,
                       **{**RECIPES[method, dataset], **BY_BITS.get((method, dataset, bits), {})})
