"""Feeding labelled and unlabelled images to ``fit`` on any backend (no tf.data needed)."""

from __future__ import annotations

import math

import keras
import numpy as np


class SemiSupervisedBatches(keras.utils.PyDataset):
    """Batches ``({"labeled": xl, "unlabeled": xu}, yl)``: one pass over the unlabelled
    images per epoch, the (usually fewer) labelled images cycled and reshuffled.

    Images stay uint8 until the model casts them, so 59,000 CIFAR-10 images
    cost 180 MB rather than 720 MB.
    """

    def __init__(self, labeled, labels, unlabeled, batch_size=128, labeled_batch_size=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        if len(labeled) != len(labels):
            raise ValueError(f"{len(labeled)} labelled images but {len(labels)} labels")
        if len(labeled) == 0 or len(unlabeled) == 0:
            raise ValueError("both the labelled and the unlabelled set need images")
        self.labeled, self.labels, self.unlabeled = labeled, np.asarray(labels), unlabeled
        self.batch_size = batch_size
        self.labeled_batch_size = labeled_batch_size or batch_size
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.unlabeled) / self.batch_size)

    def on_epoch_end(self):
        self.unlabeled_order = self.rng.permutation(len(self.unlabeled))
        repeats = math.ceil(len(self) * self.labeled_batch_size / len(self.labeled))
        self.labeled_order = np.concatenate([self.rng.permutation(len(self.labeled)) for _ in range(repeats)])

    def __getitem__(self, index):
        u = np.sort(self.unlabeled_order[index * self.batch_size : (index + 1) * self.batch_size])
        lab = self.labeled_order[index * self.labeled_batch_size : (index + 1) * self.labeled_batch_size]
        return {"labeled": self.labeled[lab], "unlabeled": self.unlabeled[u]}, self.labels[lab]


def fit_inputs(learning: str, unlabeled, labeled, labels, batch_size: int, seed: int = 0):
    """``(args, kwargs)`` for ``model.fit`` with the data a method of this kind of learning takes.

    ``learning`` is a value of ``ganhash_zoo.methods.LEARNING``; unsupervised
    methods see only ``unlabeled``, supervised ones ``labeled`` with ``labels``.
    """
    if learning == "unsupervised":
        return (unlabeled,), {"batch_size": batch_size}
    if learning == "supervised":
        return (labeled, labels), {"batch_size": batch_size}
    if learning == "semi-supervised":
        return (SemiSupervisedBatches(labeled, labels, unlabeled, batch_size=batch_size, seed=seed),), {}
    raise ValueError(f"unknown kind of learning {learning!r}")
