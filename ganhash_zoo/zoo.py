"""Model registry, ``load(name)``, and where weights come from and why they are trusted.

Names are ``{method}-{dataset}-{bits}bit``. The registry lists every planned
model (each method at 16/32/48/64 bits on CIFAR-10, 48 bits on
Fashion-MNIST); ``released.json`` adds, for the models trained so far, their
weight files with sha256, Hub revision and measured figures.

Weights resolve from, in order: ``GANHASH_ZOO_WEIGHTS`` or the ``weights/``
folder of a source checkout; the Hugging Face cache; the Hub. Every file's
sha256 is checked against the registry before Keras reads it.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from . import papers

WEIGHTS_ENV = "GANHASH_ZOO_WEIGHTS"
HUB_ORG = "ganhash-zoo"
CIFAR10_BITS = (16, 32, 48, 64)
FASHION_BITS = (48,)
IMAGE_SHAPES = {"cifar10": (32, 32, 3), "fashion_mnist": (28, 28, 1)}


class UnknownModelError(KeyError):
    def __str__(self):  # KeyError would quote the message
        return str(self.args[0])


class WeightsNotAvailableError(RuntimeError):
    """The model is planned but its weights are not released (or not reachable)."""


class WeightIntegrityError(RuntimeError):
    """A weight file's sha256 differs from the registry: corrupt or tampered."""


@dataclass
class ModelEntry:
    name: str
    method: str
    dataset: str
    bits: int
    protocol: str
    hub_repo: str
    revision: str | None = None
    seed: int | None = None
    files: dict = field(default_factory=dict)  # filename -> sha256
    metrics: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    @property
    def released(self) -> bool:
        return bool(self.files)

    @property
    def image_shape(self) -> tuple:
        return IMAGE_SHAPES[self.dataset]

    @property
    def paper(self) -> dict:
        return papers.METHODS[self.method]

    @property
    def train_command(self) -> str:
        return (f"python scripts/train.py {self.method} --dataset {self.dataset} "
                f"--protocol {self.protocol} --bits {self.bits} --out runs/{self.name}")

    def to_dict(self) -> dict:
        paper = self.paper
        return {
            "name": self.name, "method": self.method, "dataset": self.dataset, "bits": self.bits,
            "protocol": self.protocol, "paper": f"{paper['authors']}, \"{paper['title']}\", {paper['venue']}",
            "learning": paper["learning"], "released": self.released, "hub_repo": self.hub_repo,
            "revision": self.revision, "seed": self.seed, "files": self.files, "metrics": self.metrics,
            "baselines": self.baselines, "training": self.training, "train_command": self.train_command,
        }


def _planned() -> dict[str, ModelEntry]:
    entries = {}
    for method, meta in papers.METHODS.items():
        for dataset, bit_list, protocol in (
            ("cifar10", CIFAR10_BITS, meta["protocol"]),
            ("fashion_mnist", FASHION_BITS, papers.FASHION_PROTOCOL),
        ):
            for bits in bit_list:
                name = f"{method}-{dataset.replace('_', '-')}-{bits}bit"
                entries[name] = ModelEntry(name, method, dataset, bits, protocol, f"{HUB_ORG}/{name}")
    return entries


def released_file() -> Path:
    return Path(str(resources.files(__package__) / "released.json"))


def registry() -> dict[str, ModelEntry]:
    """All planned models, with release data merged in from released.json."""
    entries = _planned()
    path = released_file()
    released = json.loads(path.read_text()) if path.exists() else {}
    for name, data in released.items():
        if name not in entries:
            raise ValueError(f"released.json names {name!r}, which is not a planned model")
        for key, value in data.items():
            setattr(entries[name], key, value)
    return entries


def list_models(pattern: str = "*", released_only: bool = False) -> list[str]:
    """Model names matching a glob ``pattern`` (e.g. ``"hashgan-*"``)."""
    return sorted(n for n, e in registry().items() if fnmatch.fnmatch(n, pattern) and (e.released or not released_only))


def get_entry(name: str) -> ModelEntry:
    if not isinstance(name, str):
        raise UnknownModelError(f"a model name is a string such as 'hashgan-cifar10-48bit', got {name!r}; "
                                "ganhash_zoo.list_models() lists every name.")
    entries = registry()
    if name not in entries:
        close = difflib.get_close_matches(name, entries, n=4, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}.{hint} ganhash_zoo.list_models() lists every name.")
    return entries[name]


def info(name: str) -> dict:
    """Everything the registry knows about one model, as plain data."""
    return get_entry(name).to_dict()


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(entry: ModelEntry, folder: Path) -> None:
    """Raise unless every registered file is in ``folder`` with its sha256."""
    for filename, expected in entry.files.items():
        path = folder / filename
        if not path.exists():
            raise WeightsNotAvailableError(f"{entry.name}: {path} is missing")
        actual = sha256_of(path)
        if actual != expected:
            remedy = ("move it aside and load again to fetch a fresh copy from the Hub" if entry.revision else
                      "this model is not on the Hub yet, so restore the file from the ganhash-zoo repository "
                      f"(git checkout -- weights/{entry.name}) or retrain it")
            raise WeightIntegrityError(
                f"{path} has sha256 {actual}, but the registry expects {expected} for {entry.name}: "
                f"the file is corrupt or was modified. It was not loaded and has not been touched; {remedy}."
            )


def bundled_weights_dir() -> Path:
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "weights"


def resolve_weights(entry: ModelEntry) -> Path:
    """A folder holding the entry's verified files: bundled, then HF cache, then Hub."""
    if not entry.released:
        raise WeightsNotAvailableError(
            f"{entry.name} is in the registry but its weights are not released yet. "
            f"Train it yourself with:\n  {entry.train_command}\n"
            f"then load the run with ganhash_zoo.load_run('runs/{entry.name}')."
        )
    bundled = bundled_weights_dir() / entry.name
    if bundled.is_dir() and all((bundled / f).exists() for f in entry.files):
        verify_files(entry, bundled)
        return bundled
    if not entry.revision:  # nowhere else to get it from: say exactly what is missing
        missing = [str(bundled / f) for f in entry.files if not (bundled / f).exists()]
        where = (f"{WEIGHTS_ENV}={os.environ[WEIGHTS_ENV]} does not exist" if WEIGHTS_ENV in os.environ
                 and not bundled_weights_dir().is_dir() else f"missing: {', '.join(missing)}")
        raise WeightsNotAvailableError(
            f"{entry.name} is released but not published on the Hub yet, and its bundled weights are not there "
            f"({where}). Point {WEIGHTS_ENV} at a weights/ folder of a ganhash-zoo checkout, whose "
            f"{WEIGHTS_ENV}/{entry.name}/ holds {', '.join(entry.files)}.")
    from .hub import download

    folder = download(entry)
    verify_files(entry, folder)
    return folder


def prepare_images(images, image_shape: tuple) -> np.ndarray:
    """Validate a batch and return float32 pixels in [0, 255], shape (N, *image_shape).

    The rule: integer arrays (any integer dtype) hold pixel values 0..255; float arrays hold 0..1.
    Values outside the range of the dtype's kind are refused, never rescaled.
    A single image, or grey images without a channel axis, are accepted.
    """
    images = np.asarray(images)
    if images.dtype == object or images.dtype.kind not in "uif":
        raise TypeError(f"images must be a numeric array (uint8 0..255 or float 0..1), got dtype {images.dtype}")
    h, w, c = image_shape
    if images.shape == (h, w, c) or (c == 1 and images.shape == (h, w)):
        images = images.reshape(1, h, w, c)
    elif c == 1 and images.ndim == 3 and images.shape[1:] == (h, w):
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != (h, w, c):
        raise ValueError(
            f"expected images of shape (N, {h}, {w}, {c}), got {images.shape}; "
            "resize/convert them to the model's input size first"
        )
    if images.dtype.kind in "ui":
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(f"integer images must hold pixel values 0..255 (got {images.min()}..{images.max()}); "
                             "pass floats in [0, 1] for normalised images")
        return images.astype(np.float32)
    images = images.astype(np.float32)
    if images.size and not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinity")
    if images.size and (images.min() < 0 or images.max() > 1.0 + 1e-6):
        raise ValueError(
            f"float images must be in [0, 1] (got {images.min():.3g}..{images.max():.3g}); "
            "pass integer (e.g. uint8) arrays for 0..255 pixel values"
        )
    return images * 255.0


class PretrainedHasher:
    """A ready encoder: ``encode(images)`` gives packed codes; ``evaluator`` its protocol's."""

    def __init__(self, encoder, entry: ModelEntry, batch_size: int = 256, folder: Path | None = None):
        self.encoder, self.entry, self.batch_size, self.folder = encoder, entry, batch_size, folder
        self.name, self.bits = entry.name, entry.bits
        self.image_shape = tuple(encoder.input_shape[1:])
        self._evaluators = {}  # data_dir -> Evaluator: another data_dir is another evaluation

    def relaxed_codes(self, images) -> np.ndarray:
        """The network's real-valued codes in [-1, 1] (before the sign)."""
        x = prepare_images(images, self.image_shape)
        out = [np.asarray(self.encoder.predict_on_batch(x[i : i + self.batch_size]), dtype=np.float32)
               for i in range(0, len(x), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.bits), np.float32)

    def encode(self, images):
        from .retrieval import pack

        return pack(self.relaxed_codes(images), threshold=0.0)

    def identity(self) -> dict:
        """What a HammingIndex records to refuse codes of another encoder."""
        weights = self.folder / "encoder.weights.h5" if self.folder else None
        return {"name": self.name, "bits": self.bits, "source": str(self.folder or ""),
                "encoder_sha256": sha256_of(weights) if weights and weights.exists() else None}

    def index(self, images, ids=None, kind: str = "flat"):
        """A :class:`~ganhash_zoo.retrieval.HammingIndex` of ``images`` (ids default to 0..N-1)."""
        from .retrieval import HammingIndex

        return HammingIndex.build(self.encode(images), ids, kind=kind, model=self.identity())

    def search(self, index, images, k: int = 10):
        """(ids, distances) of each image's ``k`` nearest codes in ``index``, built by this same encoder."""
        index.check_model(self.identity())
        return index.search(self.encode(images), k)

    def trainable_model(self):
        """The method's whole GAN at the released weights, for ``compile()`` + ``fit()`` fine-tuning."""
        from .export import load_trainable_model

        if self.folder is None:
            raise FileNotFoundError(f"{self.name} was not loaded from a folder; nothing to fine-tune from")
        return load_trainable_model(self.folder)

    def evaluator(self, data_dir=None):
        from .retrieval import Evaluator

        key = str(Path(data_dir).resolve()) if data_dir else None
        if key not in self._evaluators:
            self._evaluators[key] = Evaluator.for_protocol(self.entry.protocol, data_dir=data_dir)
        return self._evaluators[key]

    def evaluate(self, data_dir=None):
        return self.evaluator(data_dir).evaluate(self, name=self.name)

    def __repr__(self):
        return f"PretrainedHasher({self.name!r}, bits={self.bits}, input={self.image_shape})"


def load(name: str, batch_size: int = 256) -> PretrainedHasher:
    """Load a released model by name, e.g. ``load("hashgan-cifar10-48bit")``."""
    from .export import load_encoder

    entry = get_entry(name)
    folder = resolve_weights(entry)
    return PretrainedHasher(load_encoder(folder), entry, batch_size, folder)


def load_run(folder, batch_size: int = 256) -> PretrainedHasher:
    """Load an encoder exported by ``scripts/train.py`` (no registry entry needed)."""
    from .export import load_encoder, read_export_config

    folder = Path(folder)
    config = read_export_config(folder)
    entry = ModelEntry(config.get("name", folder.name), config["method"], config.get("dataset", ""),
                       config["bits"], config.get("protocol", ""), hub_repo="")
    return PretrainedHasher(load_encoder(folder), entry, batch_size, folder)
