"""Feeding labelled and unlabelled images to ``fit`` on any backend (no tf.data needed)."""

from __future__ import annotations

import math

import keras
import numpy as np


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The batch order of one epoch depends on (seed, epoch) alone, so a resumed run draws what an
    uninterrupted one would have drawn."""
    return np.random.default_rng([int(seed), int(epoch)])


class ShuffledBatches(keras.utils.PyDataset):
    """Batches of ``images`` (or ``(images, labels)``), reshuffled each epoch from (seed, epoch).

    ``start_epoch`` is the epoch ``fit`` resumes at (its ``initial_epoch``).
    """

    def __init__(self, images, labels=None, batch_size=128, seed=0, start_epoch=0, **kwargs):
        super().__init__(**kwargs)
        if labels is not None and len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if len(images) == 0:
            raise ValueError("no training images")
        self.images, self.labels = images, None if labels is None else np.asarray(labels)
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), int(start_epoch)
        self.order = epoch_rng(self.seed, self.epoch).permutation(len(images))

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        self.order = epoch_rng(self.seed, self.epoch).permutation(len(self.images))

    def __getitem__(self, index):
        ids = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        return self.images[ids] if self.labels is None else (self.images[ids], self.labels[ids])


class NeighbourBatches(keras.utils.PyDataset):
    """Batches of ``batch_size // 2`` anchors, each with one of its ``graph`` neighbours (drawn per epoch),
    and, given ``targets`` (one row per image), ``(images, targets)``.

    An epoch takes every image once as an anchor, in an order drawn from (seed, epoch).
    """

    def __init__(self, images, graph, batch_size=128, seed=0, start_epoch=0, targets=None, **kwargs):
        super().__init__(**kwargs)
        if len(images) != len(graph):
            raise ValueError(f"{len(images)} images but a neighbour graph of {len(graph)}")
        if targets is not None and len(targets) != len(images):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images, self.graph, self.targets = images, np.asarray(graph), targets
        self.anchors_per_batch, self.seed, self.epoch = max(1, int(batch_size) // 2), int(seed), int(start_epoch) - 1
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.images) / self.anchors_per_batch)

    def on_epoch_end(self):
        self.epoch += 1
        rng = epoch_rng(self.seed, self.epoch)
        self.order = rng.permutation(len(self.images))
        self.partner = self.graph[np.arange(len(self.graph)), rng.integers(0, self.graph.shape[1], len(self.graph))]

    def __getitem__(self, index):
        anchors = self.order[index * self.anchors_per_batch : (index + 1) * self.anchors_per_batch]
        ids = np.concatenate([anchors, self.partner[anchors]])
        return self.images[ids] if self.targets is None else (self.images[ids], self.targets[ids])


class SemiSupervisedBatches(keras.utils.PyDataset):
    """Batches ``({"labeled": xl, "unlabeled": xu}, yl)``: one pass over the unlabelled
    images per epoch, the (usually fewer) labelled images cycled and reshuffled.

    Images stay uint8 until the model casts them, so 59,000 CIFAR-10 images
    cost 180 MB rather than 720 MB.
    """

    def __init__(self, labeled, labels, unlabeled, batch_size=128, labeled_batch_size=None, seed=0, start_epoch=0,
                 **kwargs):
        super().__init__(**kwargs)
        if len(labeled) != len(labels):
            raise ValueError(f"{len(labeled)} labelled images but {len(labels)} labels")
        if len(labeled) == 0 or len(unlabeled) == 0:
            raise ValueError("both the labelled and the unlabelled set need images")
        self.labeled, self.labels, self.unlabeled = labeled, np.asarray(labels), unlabeled
        self.batch_size = batch_size
        self.labeled_batch_size = labeled_batch_size or batch_size
        self.seed, self.epoch = int(seed), int(start_epoch) - 1
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.unlabeled) / self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        rng = epoch_rng(self.seed, self.epoch)
        self.unlabeled_order = rng.permutation(len(self.unlabeled))
        repeats = math.ceil(len(self) * self.labeled_batch_size / len(self.labeled))
        self.labeled_order = np.concatenate([rng.permutation(len(self.labeled)) for _ in range(repeats)])

    def __getitem__(self, index):
        u = np.sort(self.unlabeled_order[index * self.batch_size : (index + 1) * self.batch_size])
        lab = self.labeled_order[index * self.labeled_batch_size : (index + 1) * self.labeled_batch_size]
        return {"labeled": self.labeled[lab], "unlabeled": self.unlabeled[u]}, self.labels[lab]


def fit_inputs(learning: str, unlabeled, labeled, labels, batch_size: int, seed: int = 0, start_epoch: int = 0):
    """``(args, kwargs)`` for ``model.fit`` with the data a method of this kind of learning takes.

    ``learning`` is a method's kind (``GANHasher.learning``); unsupervised
    methods see only ``unlabeled``, supervised ones ``labeled`` with ``labels``.
    """
    # the batches draw their own order from (seed, epoch); fit's shuffle would reorder them with Python's
    # global RNG, which a resumed run cannot restore
    if learning == "unsupervised":
        return (ShuffledBatches(unlabeled, None, batch_size, seed, start_epoch),), {"shuffle": False}
    if learning == "supervised":
        return (ShuffledBatches(labeled, labels, batch_size, seed, start_epoch),), {"shuffle": False}
    if learning == "semi-supervised":
        return (SemiSupervisedBatches(labeled, labels, unlabeled, batch_size=batch_size, seed=seed,
                                      start_epoch=start_epoch),), {"shuffle": False}
    raise ValueError(f"unknown kind of learning {learning!r}")
