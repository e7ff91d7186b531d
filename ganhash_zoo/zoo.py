"""``load(name)``: a released model, its weights resolved and verified, ready to encode and evaluate.

Weights resolve from, in order: ``GANHASH_ZOO_WEIGHTS`` or the ``weights/``
folder of a source checkout; the Hugging Face cache; the Hub. Every file's
sha256 is checked against the registry (registry.py) before Keras reads it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from .export import ENCODER_FILE, load_encoder, load_trainable_model, read_export_config
from .hub import download
from .retrieval import Evaluator, HammingIndex, pack
from .registry import (  # noqa: F401  the registry's public names, re-exported for ganhash_zoo.zoo users
    IMAGE_SHAPES, WEIGHTS_ENV, ModelEntry, UnknownModelError, WeightIntegrityError, WeightsNotAvailableError,
    bundled_weights_dir, get_entry, info, list_models, registry, sha256_of, verify_files,
)

def resolve_weights(entry: ModelEntry) -> Path:
    """A folder holding the entry's verified files: bundled, then HF cache, then Hub."""
    if not entry.released:
        raise WeightsNotAvailableError(
            f"{entry.name} is in the registry but its weights are not released yet. "
            f"Train it yourself with:\n  {entry.train_command()}\n"
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
        return pack(self.relaxed_codes(images), threshold=0.0)

    @functools.cached_property
    def _encoder_sha256(self) -> str | None:
        """The registry's hash of a released encoder (already verified by load); a run's is hashed once."""
        if ENCODER_FILE in self.entry.files:
            return self.entry.files[ENCODER_FILE]
        weights = self.folder / ENCODER_FILE if self.folder else None
        return sha256_of(weights) if weights and weights.exists() else None

    def identity(self) -> dict:
        """What a HammingIndex records to refuse codes of another encoder."""
        return {"name": self.name, "bits": self.bits, "source": str(self.folder or ""),
                "encoder_sha256": self._encoder_sha256}

    def index(self, images, ids=None, kind: str = "flat"):
        """A :class:`~ganhash_zoo.retrieval.HammingIndex` of ``images`` (ids default to 0..N-1)."""
        return HammingIndex.build(self.encode(images), ids, kind=kind, model=self.identity())

    def search(self, index, images, k: int = 10):
        """(ids, distances) of each image's ``k`` nearest codes in ``index``, built by this same encoder."""
        index.check_model(self.identity())
        return index.search(self.encode(images), k)

    def trainable_model(self):
        """The method's whole GAN at the released weights, for ``compile()`` + ``fit()`` fine-tuning."""
        if self.folder is None:
            raise FileNotFoundError(f"{self.name} was not loaded from a folder; nothing to fine-tune from")
        return load_trainable_model(self.folder)

    def evaluator(self, data_dir=None):
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
    entry = get_entry(name)
    folder = resolve_weights(entry)
    return PretrainedHasher(load_encoder(folder), entry, batch_size, folder)


def load_run(folder, batch_size: int = 256) -> PretrainedHasher:
    """Load an encoder exported by ``scripts/train.py`` (no registry entry needed)."""
    folder = Path(folder)
    config = read_export_config(folder)
    entry = ModelEntry(config.get("name", folder.name), config["method"], config.get("dataset", ""),
                       config["bits"], config.get("protocol", ""), hub_repo="")
    return PretrainedHasher(load_encoder(folder), entry, batch_size, folder)
