"""Retrieval protocols: fixed, shipped query / train / validation / database splits.

Public deep-hashing code re-draws its splits on every run, so two papers'
numbers on "the same protocol" come from different images. Here each split
is drawn once with a recorded seed and shipped as an index file under
``splits/``; ``make_split`` is the function that drew it, so the test suite
can check the shipped file is exactly what the seed gives.

Indices refer to the canonical image order of :mod:`ganhash_zoo.datasets.sources`
(train before test). Each split file stores a fingerprint of the labels it
was drawn from, so data loaded in another order is refused instead of
silently giving wrong figures.

Model selection uses ``val``: a part of the labelled training pool, queried
against the rest of the training data. Nothing is ever selected on ``query``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .sources import DatasetError, ImageData

SPLIT_SEED = 20261123


@dataclass(frozen=True)
class ProtocolSpec:
    """How to draw a split. Counts are per class; ``None`` means "the rest"."""

    name: str
    dataset: str
    query_per_class: int | None  # None: the original test part is the query set
    train_per_class: int | None  # labelled pool; None: the whole original train part
    val_per_class: int  # carved out of the labelled pool
    database: str  # "rest" (all but queries) or "rest-minus-train" or "train-part"
    unlabeled: str  # "database" or "none"
    map_cutoffs: tuple = (None,)  # cut-offs to report; None = whole database
    description: str = ""
    population: str = "all"  # "all" images, or only the original "train" part

    @property
    def headline_cutoff(self) -> int | None:
        """The cut-off a release is judged on: 1000 where reported, else the protocol's own."""
        return 1000 if 1000 in self.map_cutoffs else self.map_cutoffs[0]

    @property
    def headline_metric(self) -> str:
        return f"mAP@{self.headline_cutoff or 'all'}"


PROTOCOLS = {
    spec.name: spec
    for spec in [
        ProtocolSpec(
            "cifar10-54k", "cifar10", 100, 500, 50, "rest-minus-train", "none", (54000,),
            "1,000 queries (100/class), 5,000 labelled training images (500/class), "
            "the other 54,000 as database; mAP@54000.",
        ),
        ProtocolSpec(
            "cifar10-59k", "cifar10", 100, 500, 50, "rest", "database", (None, 1000),
            "1,000 queries (100/class), 59,000 database; 5,000 labelled training images "
            "drawn from the database, all 59,000 usable unlabelled; mAP over all and @1000.",
        ),
        ProtocolSpec(
            "cifar10-10k", "cifar10", None, None, 100, "train-part", "none", (1000,),
            "the 10,000 test images as queries, the 50,000 training images as training "
            "set and database; mAP@1000.",
        ),
        ProtocolSpec(
            "fashion_mnist-59k", "fashion_mnist", 100, 500, 50, "rest", "database", (None, 1000),
            "1,000 queries (100/class), 59,000 database; 5,000 labelled training images "
            "drawn from the database, all 59,000 usable unlabelled; mAP over all and @1000. "
            "Drawn from the 60,000 training images (the test file is not used).",
            population="train",
        ),
    ]
}


@dataclass
class Split:
    """Index arrays into a dataset's canonical order.

    ``train`` is the labelled pool minus ``val``; ``unlabeled`` is empty where
    the protocol allows no unlabelled data.
    """

    name: str
    query: np.ndarray
    database: np.ndarray
    train: np.ndarray
    val: np.ndarray
    unlabeled: np.ndarray
    seed: int
    labels_sha256: str
    map_cutoffs: tuple = field(default=(None,))

    def summary(self) -> dict:
        return {
            "protocol": self.name,
            "seed": self.seed,
            **{part: int(len(getattr(self, part))) for part in ("query", "database", "train", "val", "unlabeled")},
        }


def labels_fingerprint(labels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).tobytes()).hexdigest()


def _per_class(rng: np.random.Generator, labels: np.ndarray, pool: np.ndarray, count: int) -> np.ndarray:
    picked = []
    for cls in np.unique(labels):
        members = pool[labels[pool] == cls]
        if len(members) < count:
            raise DatasetError(f"class {cls} has {len(members)} images, the protocol needs {count}")
        picked.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(picked))


def make_split(spec: ProtocolSpec, labels: np.ndarray, parts: np.ndarray, seed: int = SPLIT_SEED) -> Split:
    """Draw the split of ``spec`` deterministically from ``seed``."""
    rng = np.random.default_rng(seed)
    everything = np.arange(len(labels))
    if spec.population == "train":
        everything = everything[parts == "train"]
    if spec.query_per_class is None:
        query = everything[parts == "test"]
        pool = everything[parts == "train"]
    else:
        query = _per_class(rng, labels, everything, spec.query_per_class)
        pool = np.setdiff1d(everything, query)
    labelled = pool if spec.train_per_class is None else _per_class(rng, labels, pool, spec.train_per_class)
    val = _per_class(rng, labels, labelled, spec.val_per_class)
    train = np.setdiff1d(labelled, val)
    database = np.setdiff1d(pool, labelled) if spec.database == "rest-minus-train" else pool
    unlabeled = database if spec.unlabeled == "database" else np.array([], dtype=np.int64)
    return Split(
        spec.name, query, database, train, val, unlabeled, seed, labels_fingerprint(labels), spec.map_cutoffs
    )


def save_split(split: Split, path) -> None:
    np.savez_compressed(
        path,
        **{k: getattr(split, k).astype(np.int32) for k in ("query", "database", "train", "val", "unlabeled")},
        seed=split.seed,
        labels_sha256=split.labels_sha256,
    )


def get_protocol(name: str) -> ProtocolSpec:
    if name not in PROTOCOLS:
        raise DatasetError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def load_split(name: str, data: ImageData | None = None) -> Split:
    """The shipped split ``name``; checks it against ``data``'s labels when given."""
    spec = get_protocol(name)
    ref = resources.files(__package__) / "splits" / f"{name}.npz"
    with resources.as_file(ref) as path, np.load(path) as f:
        split = Split(
            name,
            *(f[k].astype(np.int64) for k in ("query", "database", "train", "val", "unlabeled")),
            seed=int(f["seed"]),
            labels_sha256=str(f["labels_sha256"]),
            map_cutoffs=spec.map_cutoffs,
        )
    if data is not None and labels_fingerprint(data.labels) != split.labels_sha256:
        raise DatasetError(
            f"the loaded {spec.dataset} data is not in the order the {name} split was drawn "
            f"from ({len(data.labels)} labels, fingerprint differs). Load it with "
            "ganhash_zoo.datasets.load_dataset from one of the documented sources."
        )
    return split
