"""Train one method on one protocol: data feeding, resumable checkpoints, evaluation, export.

Used by ``scripts/train.py`` and ``ganhash-zoo train``. Model selection data
is the protocol's validation split (queried against the rest of the
labelled pool); the query set is touched once, at the end, for the reported
figures.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

CHECKPOINT = "checkpoint.weights.h5"  # Keras saves the players' optimizers with the weights
STATE = "state.json"


def atomic_write_text(path: Path, text: str):
    """Replace ``path`` in one step, so an interruption never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def make_callbacks(model, out: Path, evaluator, eval_every: int, clock=lambda: 0.0):
    import keras

    class ResumableCheckpoint(keras.callbacks.Callback):
        """Weights with every player's optimizer state, then the epoch and training seconds, written atomically."""

        def on_epoch_end(self, epoch, logs=None):
            weights_tmp = out / f"tmp.{CHECKPOINT}"
            model.save_weights(weights_tmp)
            os.replace(weights_tmp, out / CHECKPOINT)
            atomic_write_text(out / STATE, json.dumps({"epochs_done": epoch + 1, "train_seconds": clock()}))

    class ValidationRetrieval(keras.callbacks.Callback):
        """Adds val_mAP@... to the logs every ``eval_every`` epochs (validation split, never queries)."""

        def on_epoch_end(self, epoch, logs=None):
            if evaluator is None or logs is None:
                return
            metric = f"mAP@{evaluator.cutoffs[0] or 'all'}"
            # NaN on skipped epochs keeps the column in log.csv from the first epoch on
            logs[f"val_{metric}"] = (float("nan") if (epoch + 1) % eval_every
                                     else evaluator.evaluate(model.encoder, name="val").metrics[metric])

    return [ValidationRetrieval(), ResumableCheckpoint(), keras.callbacks.CSVLogger(str(out / "log.csv"), append=True)]


def seconds_so_far(out: Path) -> float:
    """Training seconds recorded by earlier, interrupted runs in ``out``."""
    state_file = out / STATE
    return float(json.loads(state_file.read_text()).get("train_seconds", 0.0)) if state_file.exists() else 0.0


def restore(model, out: Path) -> int:
    """Load a checkpoint (weights and optimizer state) from ``out`` if there is one; returns the epochs done."""
    state_file = out / STATE
    if not state_file.exists():
        return 0
    model.load_weights(out / CHECKPOINT)  # after compile(): the optimizers' variables exist and are restored too
    return int(json.loads(state_file.read_text())["epochs_done"])


def training_inputs(method: str, data, split, max_unlabeled: int | None, batch_size: int, seed: int):
    """(fit args, fit kwargs, unlabelled-or-all training images) for the method's kind of learning."""
    from .methods import LEARNING, fit_inputs

    rng = np.random.default_rng(seed)
    pool = split.unlabeled if len(split.unlabeled) else split.train
    if max_unlabeled and len(pool) > max_unlabeled:
        pool = np.sort(rng.choice(pool, max_unlabeled, replace=False))
    images = data.images[pool]
    args, kwargs = fit_inputs(LEARNING[method], images, data.images[split.train], data.labels[split.train],
                              batch_size, seed)
    return args, kwargs, images


def train_command(method, dataset, protocol, bits, epochs, batch_size, width, learning_rate, seed,
                  mixed_precision=None, max_unlabeled=None, gan_epochs=None) -> str:
    """The ``scripts/train.py`` line that reruns a training (data and output folders left to the user)."""
    parts = [f"python scripts/train.py {method} --dataset {dataset} --protocol {protocol} --bits {bits}",
             f"--epochs {epochs} --batch-size {batch_size} --width {width} --learning-rate {learning_rate:g}"]
    for flag, value in (("--gan-epochs", gan_epochs), ("--max-unlabeled", max_unlabeled),
                        ("--mixed-precision", mixed_precision)):
        if value:
            parts.append(f"{flag} {value}")
    parts.append(f"--seed {seed}")
    return " ".join(parts)


def train(method: str, dataset: str, protocol: str, bits: int, epochs: int = 10, batch_size: int = 128,
          width: int = 64, out="runs/model", data_dir=None, mixed_precision: str | None = None,
          eval_every: int = 2, max_unlabeled: int | None = None, gan_epochs: int | None = None,
          learning_rate: float = 2e-4, seed: int = 0, verbose: int = 1) -> dict:
    """Train, checkpoint each epoch (resuming if ``out`` has a checkpoint), evaluate, export."""
    import keras

    if mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{mixed_precision}")
    keras.utils.set_random_seed(seed)
    from .baselines import ITQ, LSH
    from .datasets import get_protocol, load_dataset, load_split
    from .export import load_encoder, save_encoder
    from .methods import METHODS, FakeRegGAN
    from .retrieval import Evaluator

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    spec = get_protocol(protocol)
    if spec.dataset != dataset.replace("-", "_"):
        raise ValueError(f"protocol {protocol} is defined on {spec.dataset}, not {dataset}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(dataset, data_dir=data_dir)
    split = load_split(protocol, data)
    image_shape = data.images.shape[1:]
    num_classes = len(data.class_names)
    fit_args, fit_kwargs, images = training_inputs(method, data, split, max_unlabeled, batch_size, seed)

    kwargs = dict(bits=bits, image_shape=image_shape, width=width, seed=seed)
    if method in ("dshgan", "fakereg", "ssah"):
        kwargs["num_classes"] = num_classes
    earlier, started = seconds_so_far(out), time.time()

    def clock():  # training seconds of this run folder, across resumptions
        return round(earlier + time.time() - started, 1)

    if method == "fakereg":  # stage 1: the GAN whose fakes regularise stage 2
        gan_dir = out / "stage1"
        gan_dir.mkdir(exist_ok=True)
        gan = FakeRegGAN(image_shape=image_shape, width=width, seed=seed)
        gan.compile(learning_rate=learning_rate)
        done = restore(gan, gan_dir)
        gan.fit(images, batch_size=batch_size, epochs=gan_epochs or epochs, initial_epoch=done, verbose=verbose,
                callbacks=make_callbacks(gan, gan_dir, None, eval_every, clock))
        kwargs["generator"] = gan.generator
    model = METHODS[method](**kwargs)
    if method == "uspah":
        model.adapt(images, seed=seed)
    model.compile(learning_rate=learning_rate)
    val = Evaluator(data.images[split.val], data.labels[split.val], data.images[split.train],
                    data.labels[split.train], cutoffs=(None,), protocol=f"{protocol}/val")
    done = restore(model, out)
    history = model.fit(*fit_args, epochs=epochs, initial_epoch=done, verbose=verbose,
                        callbacks=make_callbacks(model, out, val, eval_every, clock), **fit_kwargs)
    train_seconds = clock()

    test = Evaluator.from_split(data, split)
    name = f"{method}-{dataset.replace('_', '-')}-{bits}bit"
    files = save_encoder(model.encoder, out / "encoder", {
        "name": name, "method": method, "dataset": spec.dataset, "protocol": protocol, "bits": bits,
    }, model=model)
    # figures of the shipped (float16) encoder, so `ganhash-zoo evaluate` reproduces them exactly
    result = test.evaluate(load_encoder(out / "encoder"), name=f"{method}-{bits}bit")
    baselines = {b.name: test.evaluate(b(bits, seed=seed).fit(images), name=b.name).metrics for b in (LSH, ITQ)}
    summary = {
        "name": name, "method": method, "dataset": spec.dataset, "protocol": protocol, "bits": bits, "seed": seed,
        "split": split.summary(), "epochs": epochs, "batch_size": batch_size, "width": width,
        "learning_rate": learning_rate, "max_unlabeled": max_unlabeled, "gan_epochs": gan_epochs,
        "mixed_precision": mixed_precision, "backend": keras.backend.backend(),
        "command": train_command(method, spec.dataset, protocol, bits, epochs, batch_size, width, learning_rate,
                                 seed, mixed_precision, max_unlabeled, gan_epochs),
        "train_images": len(images), "train_seconds": train_seconds,
        "images_per_second": round(len(images) * epochs / max(train_seconds, 1e-9), 1),
        "metrics": result.metrics, "baselines": baselines, "files": files,
        "final_logs": {k: float(v[-1]) for k, v in history.history.items()},
    }
    atomic_write_text(out / "results.json", json.dumps(summary, indent=2))
    return summary
