"""The shipped model format: ``config.json``, a float16 ``encoder.weights.h5``
and, optionally, the whole trainable GAN as a float16 ``model.weights.h5``.

Weight files are Keras' own ``.weights.h5`` with every float dataset stored
as float16 (Keras casts back to the variable dtype on load, on every
backend), halving the download. An encoder that carries fine-tuned backbone
blocks stores its kernels as int8 with a scale per output channel instead
(``ships_int8_kernels``); loading turns them back into floats in memory
before Keras reads the file. The architectures travel in ``config.json``
(the encoder's JSON config and the method's ``get_config``) with
mixed-precision policies replaced by float32, so a model trained under
``mixed_bfloat16`` on a GPU loads as a plain float32 model. ``load()`` needs
only the encoder; ``model.weights.h5`` lets ``model.fit`` fine-tune the
generator and discriminator too.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .files import read_regular_file
from .registry import sha256_of

CONFIG_FILE = "config.json"
ENCODER_FILE = "encoder.weights.h5"
MODEL_FILE = "model.weights.h5"
FORMAT_VERSION = 1


def _float32_policies(obj):
    """Replace every serialized DTypePolicy in a config tree with 'float32'."""
    if isinstance(obj, dict):
        if "DTypePolicy" in str(obj.get("class_name", "")):
            return "float32"
        return {k: _float32_policies(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_float32_policies(v) for v in obj]
    return obj


OPTIMIZER_GROUP = "player_optimizers"  # where Keras saves GANHasher's per-player Adam moments
INT8_SCALE, INT8_AXIS = "int8_scale", "int8_axis"  # the attributes of a kernel stored as int8


def ships_int8_kernels(backbone_spec: dict | None) -> bool:
    """Whether an encoder stores its kernels as int8: one that carries fine-tuned backbone blocks (``cut_block``
    in its backbone's spec): those blocks' 2.5M weights take 4.9 MB in float16, 2.5 MB in int8."""
    return bool(backbone_spec) and backbone_spec.get("cut_block") is not None


def int8_kernel(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(int8 values, float32 scales, axis): symmetric quantization with a scale per output channel, the last
    axis with more than one entry (a depthwise kernel's (kh, kw, C, 1) has its channels on axis 2)."""
    axis = max((i for i, n in enumerate(kernel.shape) if n > 1), default=kernel.ndim - 1)
    others = tuple(i for i in range(kernel.ndim) if i != axis)
    scale = (np.abs(kernel).max(axis=others) / 127).astype(np.float32)
    scale[scale == 0] = 1.0  # an all-zero channel: any scale gives back zeros
    values = np.clip(np.round(kernel / _along(scale, axis, kernel.ndim)), -127, 127).astype(np.int8)
    return values, scale, axis


def _along(scale: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """``scale`` shaped to broadcast along ``axis`` of an ``ndim``-d kernel."""
    return scale.reshape([-1 if i == axis else 1 for i in range(ndim)])


def _copy_weight_file(src, dst, convert) -> None:
    """Copy an open HDF5 weights file dataset by dataset; ``convert(name, dataset)`` gives the stored
    (data, extra attributes), or None to leave the dataset out."""
    import h5py

    dst.attrs.update(src.attrs)

    def copy(name, obj):
        if isinstance(obj, h5py.Group):
            dst.require_group(name).attrs.update(obj.attrs)
            return
        converted = convert(name, obj)
        if converted is not None:
            data, attrs = converted
            stored = dst.create_dataset(name, data=data)
            stored.attrs.update({k: v for k, v in obj.attrs.items() if k not in (INT8_SCALE, INT8_AXIS)})
            stored.attrs.update(attrs)

    src.visititems(copy)


def compact_weight_file(source, dest, half: bool = True, int8_kernels: bool = False) -> None:
    """Copy a Keras .weights.h5 with float32 datasets as float16 (kernels as int8 with ``int8_kernels``) and
    without optimizer state.

    A fresh copy, not an in-place edit: HDF5 does not give back the space of
    deleted datasets. The optimizer moments are dropped because fine-tuning
    compiles new optimizers; Keras loads the rest by name.
    """
    import h5py

    def convert(name, dataset):
        if name.split("/")[0] == OPTIMIZER_GROUP:
            return None
        data = dataset[()]
        if dataset.dtype != np.float32:
            return data, {}
        if int8_kernels and data.ndim >= 2:
            values, scale, axis = int8_kernel(data)
            return values, {INT8_SCALE: scale, INT8_AXIS: axis}
        return (data.astype(np.float16) if half else data), {}

    with h5py.File(source, "r") as src, h5py.File(dest, "w") as dst:
        _copy_weight_file(src, dst, convert)


def expanded_weight_file(data: bytes, where) -> bytes:
    """The bytes of a weights file with its int8 kernels back in float32, as Keras reads them (a file
    without any: the same bytes)."""
    import h5py

    def convert(name, dataset):
        if INT8_SCALE not in dataset.attrs:
            return dataset[()], {}
        scale, axis = np.asarray(dataset.attrs[INT8_SCALE]), dataset.attrs.get(INT8_AXIS)
        if (dataset.dtype != np.int8 or not isinstance(axis, (int, np.integer)) or not 0 <= axis < dataset.ndim
                or scale.shape != (dataset.shape[axis],)):
            raise ValueError(f"{where}: {name} is not a valid int8 kernel (int8 values, one scale per entry of "
                             f"its axis); the file is damaged: restore it or re-export the run")
        return dataset[()].astype(np.float32) * _along(scale.astype(np.float32), int(axis), dataset.ndim), {}

    with h5py.File(io.BytesIO(data), "r") as src:
        quantized = []
        src.visititems(lambda name, obj: quantized.append(name) if INT8_SCALE in obj.attrs else None)
        if not quantized:
            return data
        out = io.BytesIO()
        with h5py.File(out, "w") as dst:
            _copy_weight_file(src, dst, convert)
    return out.getvalue()


def _write_weights(model, path: Path, half: bool, int8_kernels: bool = False) -> None:
    full = path.with_name(f".{path.name}.full.weights.h5")
    tmp = path.with_name(f".{path.name}.tmp.weights.h5")
    model.save_weights(full)
    compact_weight_file(full, tmp, half, int8_kernels)
    full.unlink()
    os.replace(tmp, path)  # never leave a half-written file under the real name


def save_encoder(encoder, folder, meta: dict, half: bool = True, model=None, model_weights: bool = True) -> dict:
    """Write the encoder into ``folder``, with the method's config if ``model`` is given and, if
    ``model_weights``, its whole GAN's weights too; returns ``{filename: sha256}``. ``half=False`` stores
    every weight as float32 (neither float16 nor int8)."""
    import keras

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT_VERSION, **meta, "encoder": _float32_policies(json.loads(encoder.to_json()))}
    names = [CONFIG_FILE, ENCODER_FILE]
    _write_weights(encoder, folder / ENCODER_FILE, half, half and ships_int8_kernels(meta.get("backbone")))
    if model is not None:
        serialized = keras.saving.serialize_keras_object(model)
        serialized.pop("compile_config", None)  # per-player optimizers: users compile() with their own rates
        config["model"] = _float32_policies(serialized)
        if model_weights:
            _write_weights(model, folder / MODEL_FILE, half)
            names.append(MODEL_FILE)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return {name: sha256_of(folder / name) for name in names}


def read_export_files(folder, names=(CONFIG_FILE, ENCODER_FILE)) -> dict[str, bytes]:
    """The bytes of an export folder's files (regular files only), for a caller that parses them as read."""
    folder = Path(folder)
    if not (folder / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{folder / CONFIG_FILE} not found: not an exported ganhash-zoo encoder folder")
    return {name: read_regular_file(folder / name) for name in names if (folder / name).exists()}


def parse_export_config(data: bytes, where) -> dict:
    try:
        config = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{where} is not valid JSON: {error}") from error
    if not isinstance(config, dict) or config.get("format") != FORMAT_VERSION:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{where} has format {found!r}; this version reads {FORMAT_VERSION}")
    for key in ("encoder", "bits", "method"):
        if key not in config:
            raise ValueError(f"{where} has no {key!r}: not a ganhash-zoo export (re-export the run or restore it)")
    return config


def load_weights_from_bytes(model, data: bytes, where) -> None:
    """Load a .weights.h5 held in memory into ``model`` (the bytes a caller read, and maybe verified, once).

    Keras' public ``load_weights`` takes only a path, which would be opened a second time; its own
    loader reads an in-memory file through the same store it uses for paths. Where that internal
    loader is not there (another Keras release), the bytes go to a private temporary file first.
    """
    try:
        data = expanded_weight_file(data, where)
    except OSError as error:
        raise ValueError(f"{where} is not an HDF5 weights file: {error}") from error
    try:
        from keras.src.saving.saving_lib import H5IOStore, _load_state
    except ImportError:
        return _load_weights_via_private_file(model, data, where)
    store = H5IOStore(io.BytesIO(data), mode="r")
    failed, errors = set(), {}
    try:
        _load_state(model, weights_store=store, assets_store=None, inner_path="",
                    visited_saveables=set(), failed_saveables=failed, error_msgs=errors)
    except TypeError:  # another signature: the public path, on a private copy of the same bytes
        return _load_weights_via_private_file(model, data, where)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{where} does not fit the network in config.json: {error}") from error
    finally:
        store.close()
    if failed:
        raise ValueError(f"{where} does not fit the network in config.json ({len(errors)} parts could not be loaded)")


def _load_weights_via_private_file(model, data: bytes, where) -> None:
    with tempfile.TemporaryDirectory(prefix="ganhash-zoo-") as private:  # created 0700: no one else can swap it
        path = Path(private) / "verified.weights.h5"
        path.write_bytes(data)
        try:
            model.load_weights(path)
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"{where} does not fit the network in config.json: {error}") from error


def encoder_from(config: dict, weights: bytes, where):
    """The encoder network of an export config with its weights."""
    import keras

    from . import nets  # noqa: F401  registers the custom layers

    encoder = keras.models.model_from_json(json.dumps(config["encoder"]))
    load_weights_from_bytes(encoder, weights, where)
    return encoder


def load_encoder(folder):
    """Rebuild the encoder of an export folder (a run's own, unverified: the registry's go through zoo.load)."""
    files = read_export_files(folder)
    return encoder_from(parse_export_config(files[CONFIG_FILE], Path(folder) / CONFIG_FILE), files[ENCODER_FILE],
                        Path(folder) / ENCODER_FILE)


def trainable_model_from(config: dict, files: dict[str, bytes], where):
    """The method's whole GAN of an export, ready to compile and fit.

    With ``model.weights.h5`` every player starts from its exported weights; without it (releases on a
    backbone ship the encoder alone) the encoder does, and the other players start afresh.
    """
    import keras

    from . import methods  # noqa: F401  registers the method classes

    if "model" not in config:
        raise FileNotFoundError(
            f"{where} holds the encoder only (no method config); fine-tune the encoder as a plain keras.Model, "
            "or train the method from scratch with scripts/train.py")
    model = keras.saving.deserialize_keras_object(config["model"])
    if MODEL_FILE in files:
        model.build()
        load_weights_from_bytes(model, files[MODEL_FILE], Path(where) / MODEL_FILE)
    else:
        load_weights_from_bytes(model.encoder, files[ENCODER_FILE], Path(where) / ENCODER_FILE)
    return model


def load_trainable_model(folder):
    """The whole GAN of an export folder (a run's own), ready to compile and fit."""
    files = read_export_files(folder, (CONFIG_FILE, ENCODER_FILE, MODEL_FILE))
    return trainable_model_from(parse_export_config(files[CONFIG_FILE], Path(folder) / CONFIG_FILE), files, folder)
