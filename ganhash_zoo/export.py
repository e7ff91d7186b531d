"""The shipped model format: ``config.json``, a float16 ``encoder.weights.h5``
and, optionally, the whole trainable GAN as a float16 ``model.weights.h5``.

Weight files are Keras' own ``.weights.h5`` with every float dataset stored
as float16 (Keras casts back to the variable dtype on load, on every
backend), halving the download. The architectures travel in ``config.json``
(the encoder's JSON config and the method's ``get_config``) with
mixed-precision policies replaced by float32, so a model trained under
``mixed_bfloat16`` on a GPU loads as a plain float32 model. ``load()`` needs
only the encoder; ``model.weights.h5`` lets ``model.fit`` fine-tune the
generator and discriminator too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

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


def compact_weight_file(source, dest, half: bool = True) -> None:
    """Copy a Keras .weights.h5 with float32 datasets as float16 and without optimizer state.

    A fresh copy, not an in-place edit: HDF5 does not give back the space of
    deleted datasets. The optimizer moments are dropped because fine-tuning
    compiles new optimizers; Keras loads the rest by name.
    """
    import h5py

    with h5py.File(source, "r") as src, h5py.File(dest, "w") as dst:
        dst.attrs.update(src.attrs)

        def copy(name, obj):
            if name.split("/")[0] == OPTIMIZER_GROUP:
                return
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(obj.attrs)
                return
            data = obj[()]
            if half and obj.dtype == np.float32:
                data = data.astype(np.float16)
            dst.create_dataset(name, data=data).attrs.update(obj.attrs)

        src.visititems(copy)


def _write_weights(model, path: Path, half: bool) -> None:
    full = path.with_name(f".{path.name}.full.weights.h5")
    tmp = path.with_name(f".{path.name}.tmp.weights.h5")
    model.save_weights(full)
    compact_weight_file(full, tmp, half)
    full.unlink()
    os.replace(tmp, path)  # never leave a half-written file under the real name


def save_encoder(encoder, folder, meta: dict, half: bool = True, model=None) -> dict:
    """Write the encoder (and the full GAN ``model`` if given) into ``folder``; returns ``{filename: sha256}``."""
    import keras


    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT_VERSION, **meta, "encoder": _float32_policies(json.loads(encoder.to_json()))}
    names = [CONFIG_FILE, ENCODER_FILE]
    _write_weights(encoder, folder / ENCODER_FILE, half)
    if model is not None:
        serialized = keras.saving.serialize_keras_object(model)
        serialized.pop("compile_config", None)  # per-player optimizers: users compile() with their own rates
        config["model"] = _float32_policies(serialized)
        _write_weights(model, folder / MODEL_FILE, half)
        names.append(MODEL_FILE)
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return {name: sha256_of(folder / name) for name in names}


def read_export_config(folder) -> dict:
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: not an exported ganhash-zoo encoder folder")
    config = json.loads(path.read_text())
    if config.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} has format {config.get('format')!r}; this version reads {FORMAT_VERSION}")
    return config


def load_encoder(folder):
    """Rebuild the encoder from ``config.json`` and load its weights."""
    import keras

    from . import nets  # noqa: F401  registers the custom layers

    config = read_export_config(folder)
    encoder = keras.models.model_from_json(json.dumps(config["encoder"]))
    try:
        encoder.load_weights(Path(folder) / ENCODER_FILE)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{Path(folder) / ENCODER_FILE} does not fit the encoder in config.json: {error}") from error
    return encoder


def load_trainable_model(folder):
    """Rebuild the method's whole GAN from ``config.json`` with ``model.weights.h5`` loaded, ready to compile and fit."""
    import keras

    from . import methods  # noqa: F401  registers the method classes

    folder = Path(folder)
    config = read_export_config(folder)
    if "model" not in config or not (folder / MODEL_FILE).exists():
        raise FileNotFoundError(
            f"{folder} holds the encoder only (no {MODEL_FILE}); fine-tune the encoder as a plain keras.Model, "
            "or train the method from scratch with scripts/train.py"
        )
    model = keras.saving.deserialize_keras_object(config["model"])
    try:
        model.load_weights(folder / MODEL_FILE)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{folder / MODEL_FILE} does not fit the model in config.json: {error}") from error
    return model
