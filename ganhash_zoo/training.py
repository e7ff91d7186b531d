"""Train one method on one protocol: data feeding, resumable checkpoints, evaluation, export.

Used by ``scripts/train.py``, ``ganhash-zoo train`` and ``scripts/train_zoo.py``.
Model selection data is the protocol's validation split (queried against
the rest of the labelled pool); the query set is touched once, at the end,
for the reported figures.

A run folder holds ``run.json`` (the :class:`TrainConfig` it was started
with), ``checkpoint.weights.h5`` + ``state.json`` (written atomically after
every epoch), ``log.csv``, and once finished ``encoder/`` and ``results.json``.
Starting the same config on the folder again resumes it; another config is
refused before anything is touched.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from . import papers
from .baselines import ITQ, LSH
from .config import ARCHITECTURE_FIELDS, TrainConfig
from .datasets import get_protocol, load_dataset, load_split
from .export import load_encoder, save_encoder
from .files import atomic_write_text
from .datasets.catalogue import IMAGE_SHAPES
from .retrieval import Evaluator

CHECKPOINT = "checkpoint.weights.h5"  # Keras saves the players' optimizers with the weights
STATE = "state.json"
RUN_CONFIG = "run.json"
RESULTS = "results.json"
STAGE_PREFIX = "stage"  # FakeReg trains its GAN in stage1/ before the hasher


class RunMismatchError(ValueError):
    """A run folder holds a run of another configuration than the one asked for."""


def describe_hardware() -> str:
    """What the run trained on, for the registry and the card: the GPU's name, else the CPU's and its cores."""
    import keras

    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)} (torch)"
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return f"{cpu}, {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores"


def claim_run_folder(config: TrainConfig, out: Path) -> None:
    """Create ``out`` for ``config`` or check that it holds a run of the same model; refuse anything else."""
    recorded_file = out / RUN_CONFIG
    if recorded_file.exists():
        recorded = TrainConfig.from_dict(json.loads(recorded_file.read_text()))  # older run.json: defaults
        differ = [f"{k}={getattr(recorded, k)!r} (asked {getattr(config, k)!r})" for k in ARCHITECTURE_FIELDS
                  if getattr(recorded, k) != getattr(config, k)]
        if differ:
            raise RunMismatchError(
                f"{out} holds a run made with other settings: {', '.join(differ)}. "
                "Choose another --out, or move that folder aside to start afresh (nothing was changed).")
    elif out.exists() and any(out.iterdir()) and not (out / STATE).exists():  # runs from before run.json resume
        raise RunMismatchError(f"{out} exists and is not a training run folder (no {RUN_CONFIG}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(recorded_file, json.dumps(config.to_dict(), indent=2))


def make_callbacks(model, out: Path, evaluator, eval_every: int, clock=lambda: 0.0, stop_by: float | None = None):
    import keras

    class ResumableCheckpoint(keras.callbacks.Callback):
        """Weights with every player's optimizer state, then the epoch and training seconds, written atomically."""

        def on_epoch_end(self, epoch, logs=None):
            weights_tmp = out / f"tmp.{CHECKPOINT}"
            model.save_weights(weights_tmp)
            os.replace(weights_tmp, out / CHECKPOINT)
            atomic_write_text(out / STATE, json.dumps({"epochs_done": epoch + 1, "train_seconds": clock()}))

    class ValidationRetrieval(keras.callbacks.Callback):
        """Adds val_mAP@... and val_precision@r2 to the logs every ``eval_every`` epochs.

        Both halves of the release bar are logged, on the validation split (never the queries),
        so a recipe can be chosen on each: a run can gain mAP while its radius-2 balls empty.
        """

        def on_epoch_end(self, epoch, logs=None):
            if evaluator is None or logs is None:
                return
            names = (f"mAP@{evaluator.cutoffs[0] or 'all'}", f"precision@r{evaluator.radius}")
            # NaN on skipped epochs keeps the columns in log.csv from the first epoch on
            metrics = (dict.fromkeys(names, float("nan")) if (epoch + 1) % eval_every
                       else evaluator.evaluate(model.encoder, name="val").metrics)
            logs.update({f"val_{name}": metrics[name] for name in names})

    class StopBeforeDeadline(keras.callbacks.Callback):
        """Ends ``fit`` after an epoch's checkpoint when one more epoch would not finish by ``stop_by``."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds = time.time() - self.epoch_started
            if time.time() + 1.2 * epoch_seconds > stop_by:
                self.model.stop_training = True

    callbacks = [ValidationRetrieval(), ResumableCheckpoint(),
                 keras.callbacks.CSVLogger(str(out / "log.csv"), append=True)]
    return callbacks + ([StopBeforeDeadline()] if stop_by else [])


def seconds_so_far(out: Path) -> float:
    """Training seconds recorded by earlier, interrupted runs in ``out`` or its stage folders.

    The clock is shared by every stage, so the latest checkpoint holds the largest count; a
    FakeReg run resumed after its GAN stage must start from the stage's count, not from zero.
    """
    states = [out / STATE, *(folder / STATE for folder in out.glob(f"{STAGE_PREFIX}*"))]
    return max((float(json.loads(s.read_text()).get("train_seconds", 0.0)) for s in states if s.exists()),
               default=0.0)


def epochs_done(out: Path) -> int:
    state_file = out / STATE
    return int(json.loads(state_file.read_text())["epochs_done"]) if state_file.exists() else 0


def restore(model, out: Path) -> int:
    """Load a checkpoint (weights and optimizer state) from ``out`` if there is one; returns the epochs done."""
    done = epochs_done(out)
    if done:
        model.load_weights(out / CHECKPOINT)  # after compile(): the optimizers' variables exist and are restored too
    return done


def validation_curve(out: Path) -> list[dict]:
    """The evaluated epochs of ``log.csv``: [{"epoch": 1-based, "val_mAP@...": value, ...}, ...]."""
    log = out / "log.csv"
    if not log.exists():
        return []
    curve = []
    with open(log, newline="") as f:
        for row in csv.DictReader(f):
            values = {key: round(float(value), 4) for key, value in row.items()
                      if key.startswith("val_") and value not in ("", "nan")}
            if values:
                curve.append({"epoch": int(row["epoch"]) + 1, **values})
    return curve


def last_logs(out: Path) -> dict:
    """The last epoch's losses from ``log.csv`` (so a resumed, already finished run keeps them)."""
    log = out / "log.csv"
    if not log.exists():
        return {}
    with open(log, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: float(v) for k, v in rows[-1].items() if k != "epoch" and v not in ("", "nan")} if rows else {}


def training_images(data, split, max_unlabeled: int | None = None, seed: int = 0) -> np.ndarray:
    """The unlabelled pool (or, where the protocol has none, the labelled images), subsampled to ``max_unlabeled``.

    The subset depends on ``seed`` only, so scripts/baselines.py fits on the same images a run trains on.
    """
    rng = np.random.default_rng(seed)
    pool = split.unlabeled if len(split.unlabeled) else split.train
    if max_unlabeled and len(pool) > max_unlabeled:
        pool = np.sort(rng.choice(pool, max_unlabeled, replace=False))
    return data.images[pool]


def images_seen(method, config: TrainConfig, pool_size: int, labeled_size: int) -> int:
    """Images fed through training: semi-supervised steps take a labelled and an unlabelled batch."""
    first_stage = pool_size * (config.gan_epochs or config.epochs) if method.first_stage else 0
    if method.learning == "supervised":
        return labeled_size * config.epochs + first_stage
    return first_stage + pool_size * config.epochs * (2 if method.learning == "semi-supervised" else 1)


def check_config(config: TrainConfig) -> None:
    """Refuse an unknown method, dataset or protocol before any folder or data is touched."""
    if config.method not in papers.METHODS:
        raise ValueError(f"unknown method {config.method!r}; choose from {', '.join(papers.METHODS)}")
    if config.dataset not in IMAGE_SHAPES:
        raise ValueError(f"unknown dataset {config.dataset!r}; choose from {', '.join(IMAGE_SHAPES)}")
    spec = get_protocol(config.protocol)
    if spec.dataset != config.dataset:
        raise ValueError(f"protocol {config.protocol} is defined on {spec.dataset}, not {config.dataset}")


def train(config: TrainConfig, out="runs/model", data_dir=None, verbose: int = 1,
          stop_by: float | None = None) -> dict:
    """Train, checkpoint each epoch (resuming if ``out`` has a checkpoint), evaluate, export.

    ``stop_by`` (a ``time.time()`` value) ends training at the last epoch that
    can finish before it; the run is then left resumable and the returned
    dict has ``"status": "paused"``. A finished run returns its results with
    ``"status": "finished"`` and writes them to ``results.json``.
    """
    import keras

    from .methods import METHODS  # Keras, imported only when training starts

    check_config(config)
    out = Path(out)
    data = load_dataset(config.dataset, data_dir=data_dir)  # before the folder: a missing dataset leaves nothing
    claim_run_folder(config, out)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    keras.utils.set_random_seed(config.seed)
    split = load_split(config.protocol, data)
    images = training_images(data, split, config.max_unlabeled, config.seed)
    method = METHODS[config.method]
    run = ResumableFit(config, verbose, stop_by, seconds_so_far(out))

    kwargs = dict(bits=config.bits, image_shape=data.images.shape[1:], width=config.width, seed=config.seed,
                  **config.method_options)
    if method.needs_labels():
        kwargs["num_classes"] = len(data.class_names)
    if method.first_stage:  # e.g. FakeReg's GAN, whose fakes regularise the hasher
        stage_dir = out / f"{STAGE_PREFIX}1"
        stage_dir.mkdir(exist_ok=True)
        stage = method.first_stage(image_shape=kwargs["image_shape"], width=config.width, seed=config.seed)
        stage.compile(learning_rate=config.learning_rate)
        if not run.fit(stage, stage_dir, config.gan_epochs or config.epochs, None,
                       lambda done: stage.fit_inputs(images, None, None, config.batch_size, config.seed, done)):
            return {"name": config.name, "status": "paused", "stage": "gan", "epochs_done": epochs_done(stage_dir)}
        kwargs.update(method.from_first_stage(stage))
    model = method(**kwargs).prepare(images, seed=config.seed)
    model.compile(learning_rate=config.learning_rate)
    val = Evaluator.validation(data, split)
    labeled, labels = data.images[split.train], data.labels[split.train]
    if not run.fit(model, out, config.epochs, val,
                   lambda done: model.fit_inputs(images, labeled, labels, config.batch_size, config.seed, done)):
        return {"name": config.name, "status": "paused", "epochs_done": epochs_done(out)}
    seconds = run.clock()
    return finish(config, method, model, out, data, split, images, seconds)


class ResumableFit:
    """``fit`` from a folder's checkpoint, with one clock of training seconds across stages and resumptions."""

    def __init__(self, config: TrainConfig, verbose: int, stop_by: float | None, earlier_seconds: float):
        self.config, self.verbose, self.stop_by = config, verbose, stop_by
        self.earlier, self.started = earlier_seconds, time.time()

    def clock(self) -> float:
        return round(self.earlier + time.time() - self.started, 1)

    def fit(self, model, folder: Path, epochs: int, evaluator, make_inputs) -> bool:
        """Fit to ``epochs``; False when stopped early (the run is resumable)."""
        done = restore(model, folder)
        if done < epochs:
            args, kw = make_inputs(done)  # data order depends on (seed, epoch): a resumed run repeats it
            callbacks = make_callbacks(model, folder, evaluator, self.config.eval_every, self.clock, self.stop_by)
            model.fit(*args, epochs=epochs, initial_epoch=done, verbose=self.verbose, callbacks=callbacks, **kw)
        return epochs_done(folder) >= epochs


def finish(config: TrainConfig, method, model, out: Path, data, split, images, train_seconds: float) -> dict:
    """Export the encoder, measure the shipped weights and LSH/ITQ on the test split, write results.json."""
    import keras

    test = Evaluator.from_split(data, split)
    files = save_encoder(model.encoder, out / "encoder", {
        "name": config.name, "method": config.method, "dataset": config.dataset, "protocol": config.protocol,
        "bits": config.bits,
    }, model=model)
    # figures of the shipped (float16) encoder, so `ganhash-zoo evaluate` reproduces them exactly
    result = test.evaluate(load_encoder(out / "encoder"), name=f"{config.method}-{config.bits}bit")
    baselines = {b.name: test.evaluate(b(config.bits, seed=config.seed).fit(images), name=b.name).metrics
                 for b in (LSH, ITQ)}
    seen = images_seen(method, config, len(images), len(split.train))
    summary = {
        "name": config.name, "status": "finished", **config.to_dict(),
        "split": split.summary(), "backend": keras.backend.backend(), "hardware": describe_hardware(),
        "command": config.command(), "train_images": len(images), "train_seconds": train_seconds,
        "images_seen": seen, "images_per_second": round(seen / max(train_seconds, 1e-9), 1),
        "metrics": result.metrics, "baselines": baselines, "files": files,
        "validation_curve": validation_curve(out), "final_logs": last_logs(out),
    }
    atomic_write_text(out / RESULTS, json.dumps(summary, indent=2))
    return summary
