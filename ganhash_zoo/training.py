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

import fcntl
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from . import papers
from .baselines import ITQ, LSH, LinearCE
from .config import ARCHITECTURE_FIELDS, TrainConfig
from .datasets import get_protocol, load_dataset, load_split
from .export import load_encoder, save_encoder
from .feature_cache import PIXELS, FeatureData, feature_data, model_inputs
from .files import atomic_write_text
from .datasets.catalogue import IMAGE_SHAPES
from .pretrained import load_backbone
from .retrieval import Evaluator
from .quiet import start_keras
from .retrieval.code_quality import COPY_TOP

CHECKPOINT = "checkpoint.weights.h5"  # Keras saves the players' optimizers with the weights
STATE = "state.json"
RUN_CONFIG = "run.json"
RESULTS = "results.json"
LOG = "log.jsonl"
LOCK = ".lock"
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


class RunBusyError(RuntimeError):
    """Another process is training in the run folder."""


_LOCKS = {}  # run folder -> its open lock file, held while this process lives


def lock_run_folder(out: Path) -> None:
    """Hold an exclusive lock on ``out`` for the rest of this process, or refuse at once if another has it."""
    key = str(out.resolve())
    if key in _LOCKS:
        return
    handle = open(out / LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RunBusyError(f"{out} is being trained by another process; wait for it to finish, or choose another "
                           "--out") from None
    _LOCKS[key] = handle


def claim_run_folder(config: TrainConfig, out: Path) -> None:
    """Create and lock ``out`` for ``config``, or check that it holds a run of the same model; refuse anything
    else (a run of other settings, a folder that is not a run, a run another process is training)."""
    recorded_file = out / RUN_CONFIG
    if recorded_file.exists():
        recorded = TrainConfig.from_dict(json.loads(recorded_file.read_text()))  # older run.json: defaults
        differ = [f"{k}={getattr(recorded, k)!r} (asked {getattr(config, k)!r})" for k in ARCHITECTURE_FIELDS
                  if getattr(recorded, k) != getattr(config, k)]
        if differ:
            raise RunMismatchError(
                f"{out} holds a run made with other settings: {', '.join(differ)}. "
                "Choose another --out, or move that folder aside to start afresh (nothing was changed).")
    elif out.exists() and not out.is_dir():
        raise RunMismatchError(f"{out} is a file, not a run folder; choose another --out")
    elif out.exists() and any(out.iterdir()) and not (out / STATE).exists():  # runs from before run.json resume
        raise RunMismatchError(f"{out} exists and is not a training run folder (no {RUN_CONFIG}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    lock_run_folder(out)
    atomic_write_text(recorded_file, json.dumps(config.to_dict(), indent=2))


def validation_metric_names(evaluator) -> tuple:
    """The validation figures a run logs: headline mAP, precision@r2, near-duplicate recall, distinct codes."""
    return (f"mAP@{evaluator.cutoffs[0] or 'all'}", f"precision@r{evaluator.radius}", f"copy_recall@{COPY_TOP}",
            "distinct_codes")


def make_callbacks(model, out: Path, evaluator, eval_every: int, clock=lambda: 0.0, stop_by: float | None = None,
                   before_validation=lambda: None):
    """``before_validation`` refits what is fitted on the trained network (feature bits) before it is measured."""
    import keras

    class ResumableCheckpoint(keras.callbacks.Callback):
        """Weights with every player's optimizer state, then the epoch and training seconds, written atomically."""

        def on_epoch_end(self, epoch, logs=None):
            weights_tmp = out / f"tmp.{CHECKPOINT}"
            model.save_weights(weights_tmp)
            os.replace(weights_tmp, out / CHECKPOINT)
            atomic_write_text(out / STATE, json.dumps({"epochs_done": epoch + 1, "train_seconds": clock()}))

    class ValidationRetrieval(keras.callbacks.Callback):
        """Adds the validation figures of the release bar to the logs every ``eval_every`` epochs.

        Validation queries (never the test queries) against the labelled training pool: the headline
        mAP, precision within radius 2, near-duplicate recall and distinct codes, so a recipe is chosen on
        each (a run can gain mAP while its radius-2 balls empty or its codes collapse onto the classes).
        """

        def on_epoch_end(self, epoch, logs=None):
            if evaluator is None or logs is None or (epoch + 1) % eval_every:
                return
            before_validation()
            metrics = evaluator.evaluate(model.encoder, name="val").metrics
            logs.update({f"val_{name}": metrics[name] for name in validation_metric_names(evaluator)
                         if name in metrics})

    class StopBeforeDeadline(keras.callbacks.Callback):
        """Ends ``fit`` after an epoch's checkpoint when one more epoch would not finish by ``stop_by``."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds = time.time() - self.epoch_started
            if time.time() + 1.2 * epoch_seconds > stop_by:
                self.model.stop_training = True

    class EpochLog(keras.callbacks.Callback):
        """One JSON line per epoch in log.jsonl: the losses, and the validation figures where measured."""

        def on_epoch_end(self, epoch, logs=None):
            with open(out / LOG, "a") as f:
                f.write(json.dumps({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}) + "\n")

    callbacks = [ValidationRetrieval(), EpochLog(), ResumableCheckpoint()]
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


def logged_epochs(out: Path) -> list[dict]:
    """Each epoch's line of log.jsonl (the last one written for an epoch a resumed run repeated)."""
    log = out / LOG
    if not log.exists():
        return []
    epochs = {}
    for line in log.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        epochs[int(row.pop("epoch"))] = row
    return [{"epoch": epoch, **epochs[epoch]} for epoch in sorted(epochs)]


def validation_curve(out: Path) -> list[dict]:
    """The evaluated epochs: [{"epoch": 1-based, "val_mAP@...": value, ...}, ...]."""
    return [{"epoch": row["epoch"] + 1, **{k: round(v, 4) for k, v in row.items() if k.startswith("val_")}}
            for row in logged_epochs(out) if any(k.startswith("val_") for k in row)]


def last_logs(out: Path) -> dict:
    """The last epoch's losses (so a resumed, already finished run keeps them)."""
    rows = logged_epochs(out)
    return {k: v for k, v in rows[-1].items() if k != "epoch"} if rows else {}


def training_pool(split, max_unlabeled: int | None = None, seed: int = 0) -> np.ndarray:
    """Indices of the unlabelled pool (or, where the protocol has none, the labelled images), subsampled to
    ``max_unlabeled``.

    The subset depends on ``seed`` only, so scripts/baselines.py fits on the same images a run trains on.
    """
    rng = np.random.default_rng(seed)
    pool = split.unlabeled if len(split.unlabeled) else split.train
    if max_unlabeled and len(pool) > max_unlabeled:
        pool = np.sort(rng.choice(pool, max_unlabeled, replace=False))
    return pool


def training_images(data, split, max_unlabeled: int | None = None, seed: int = 0) -> np.ndarray:
    """The model inputs (pixels, or a backbone's features) of the training pool: what baselines fit on."""
    return data.images[training_pool(split, max_unlabeled, seed)]


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
    if config.method_options.get("tail_block") is not None and config.backbone == PIXELS:
        raise ValueError(f"tail_block fine-tunes a pretrained backbone's last blocks; the {PIXELS!r} pixel trunk has "
                         f"none: choose --backbone efficientnet-lite0")


def train(config: TrainConfig, out="runs/model", data_dir=None, verbose: int = 1,
          stop_by: float | None = None) -> dict:
    """Train, checkpoint each epoch (resuming if ``out`` has a checkpoint), evaluate, export.

    ``stop_by`` (a ``time.time()`` value) ends training at the last epoch that
    can finish before it; the run is then left resumable and the returned
    dict has ``"status": "paused"``. A finished run returns its results with
    ``"status": "finished"`` and writes them to ``results.json``.
    """
    start_keras()
    check_config(config)
    pixels = load_dataset(config.dataset, data_dir=data_dir)  # before the folder: a missing dataset leaves nothing
    data = model_inputs(pixels, config.backbone, progress=verbose > 0,  # cached features: the folder untouched
                        cut_block=config.method_options.get("tail_block"))
    return train_on(config, data, out, verbose, stop_by)


def train_on(config: TrainConfig, data, out="runs/model", verbose: int = 1, stop_by: float | None = None) -> dict:
    """:func:`train` on the dataset's model inputs already loaded: its pixels (ImageData) or features
    (FeatureData; a probe may pass those of a modified backbone, whose extractor the export records).

    With the method option ``tail_block`` the inputs are the backbone's maps at that block: the method
    fine-tunes the blocks from there on, starting from the pretrained weights, while its first stage and
    the baselines read the backbone's pooled features, as every other model's do.
    """
    start_keras()
    import keras

    from .methods import METHODS  # Keras, imported only when training starts
    from .nets.efficientnet_lite import set_tail_weights

    check_config(config)
    out = Path(out)
    split = load_split(config.protocol, data)
    method = METHODS[config.method]
    tail_block = config.method_options.get("tail_block")
    pooled = data if tail_block is None else pooled_features(data, tail_block)
    kwargs = dict(bits=config.bits, image_shape=pooled.images.shape[1:], width=config.width, seed=config.seed,
                  **config.method_options)
    if method.needs_labels():
        kwargs["num_classes"] = len(data.class_names)
    try:  # every method option is checked before the folder is claimed
        method(**kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{config.method} refuses its options {config.method_options}: {error}") from error
    claim_run_folder(config, out)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    keras.utils.set_random_seed(config.seed)
    pool = training_pool(split, config.max_unlabeled, config.seed)
    images = data.training_inputs(pool)
    run = ResumableFit(config, verbose, stop_by, seconds_so_far(out))
    if method.first_stage:  # e.g. FakeReg's GAN, whose fakes regularise the hasher
        stage_dir = out / f"{STAGE_PREFIX}1"
        stage_dir.mkdir(exist_ok=True)
        stage = method.first_stage(image_shape=kwargs["image_shape"], width=config.width, seed=config.seed)
        stage_images = images if pooled is data else pooled.training_inputs(pool)  # a GAN on pooled features
        stage.compile(learning_rate=config.learning_rate)
        if not run.fit(stage, stage_dir, config.gan_epochs or config.epochs, None,
                       lambda done: stage.fit_inputs(stage_images, None, None, config.batch_size, config.seed, done)):
            return {"name": config.name, "status": "paused", "stage": "gan", "epochs_done": epochs_done(stage_dir)}
        kwargs.update(method.from_first_stage(stage))
    model = method(**kwargs)
    # on a backbone, training inputs pair each image with its augmented view; instance bits are fitted on both
    model.prepare(data.images[pool], seed=config.seed, views=images[:, 1] if model.instance_bits else None)
    if model.tail is not None:  # restore() below replaces these with a resumed run's
        set_tail_weights(model.tail, load_backbone(data.extractor.name, data.extractor.resolution).network)
    model.compile(learning_rate=config.learning_rate)
    val = Evaluator.validation(data, split)
    labeled, labels = data.training_inputs(split.train), data.labels[split.train]
    # images[:, 0] is the pool's own inputs, already in memory: no copy of the pool at each validation
    refit_feature_bits = lambda: model.fit_feature_bits(images[:, 0], seed=config.seed)  # noqa: E731
    if not run.fit(model, out, config.epochs, val,
                   lambda done: model.fit_inputs(images, labeled, labels, config.batch_size, config.seed, done),
                   refit_feature_bits):
        return {"name": config.name, "status": "paused", "epochs_done": epochs_done(out)}
    refit_feature_bits()  # the exported encoder's feature bits quantise the trained network's features
    # the time the last checkpoint recorded, not the clock now (fit's teardown comes after it), so results.json
    # and state.json agree however often a finished run is rerun
    return finish(config, method, model, out, data, split, pool, seconds_so_far(out), pooled)


def pooled_features(maps: FeatureData, block: int) -> FeatureData:
    """The pooled features of the images whose block-``block`` maps ``maps`` holds (refused for other inputs)."""
    extractor = getattr(maps, "extractor", None)
    if extractor is None or extractor.cut_block != block:
        raise ValueError(f"tail_block={block} trains on the backbone's maps at block {block} "
                         f"(model_inputs(..., cut_block={block})), got {extractor or 'pixels'}")
    return feature_data(maps.pixel_data(), load_backbone(extractor.name, extractor.resolution), maps.progress)


class ResumableFit:
    """``fit`` from a folder's checkpoint, with one clock of training seconds across stages and resumptions."""

    def __init__(self, config: TrainConfig, verbose: int, stop_by: float | None, earlier_seconds: float):
        self.config, self.verbose, self.stop_by = config, verbose, stop_by
        self.earlier, self.started = earlier_seconds, time.time()

    def clock(self) -> float:
        """Training seconds so far: the earlier invocations' and this one's (read at each checkpoint)."""
        return round(self.earlier + time.time() - self.started, 1)

    def fit(self, model, folder: Path, epochs: int, evaluator, make_inputs, before_validation=lambda: None) -> bool:
        """Fit to ``epochs``; False when stopped early (the run is resumable)."""
        done = restore(model, folder)
        if done < epochs:
            args, kw = make_inputs(done)  # data order depends on (seed, epoch): a resumed run repeats it
            callbacks = make_callbacks(model, folder, evaluator, self.config.eval_every, self.clock, self.stop_by,
                                       before_validation)
            model.fit(*args, epochs=epochs, initial_epoch=done, verbose=self.verbose, callbacks=callbacks, **kw)
        return epochs_done(folder) >= epochs


def finish(config: TrainConfig, method, model, out: Path, data, split, pool, train_seconds: float,
           pooled=None) -> dict:
    """Export the encoder, measure the shipped weights and the baselines on the test split, write results.json.

    LSH and ITQ are fitted on the same training pool and inputs as the model (on a backbone, its
    pooled features: ``pooled``, where the model reads maps), the supervised LinearCE on the same
    labelled images; ITQ on pixels is measured too, as the reference of models on a backbone.
    """
    import keras

    test = Evaluator.from_split(data, split)
    on_backbone = isinstance(data, FeatureData)
    # on a backbone the encoder alone ships (weights/ holds every model's); trainable_model() starts the
    # other players afresh from the method's config
    files = save_encoder(model.encoder, out / "encoder", {
        "name": config.name, "method": config.method, "dataset": config.dataset, "protocol": config.protocol,
        "bits": config.bits, **({"backbone": data.extractor.spec()} if on_backbone else {}),
    }, model=model, model_weights=not on_backbone)
    # figures of the shipped (float16) encoder, so `ganhash-zoo evaluate` reproduces them exactly
    result = test.evaluate(load_encoder(out / "encoder"), name=f"{config.method}-{config.bits}bit")
    pooled = data if pooled is None else pooled
    pooled_test = test if pooled is data else Evaluator.from_split(pooled, split)
    baselines = {b.name: pooled_test.evaluate(b(config.bits, seed=config.seed).fit(pooled.images[pool]),
                                              name=b.name).metrics for b in (LSH, ITQ)}
    if method.needs_labels():  # the plain classifier a supervised GAN method must beat, on the same labels
        linear = LinearCE(config.bits, seed=config.seed).fit(pooled.images[split.train], pooled.labels[split.train])
        baselines[linear.name] = pooled_test.evaluate(linear, name=linear.name).metrics
    if on_backbone:  # pixel ITQ as the reference
        pixels = Evaluator.from_split(data.pixel_data(), split)
        baselines["itq-pixels"] = pixels.evaluate(ITQ(config.bits, seed=config.seed).fit(data.pixels[pool]),
                                                  name="itq-pixels").metrics
    seen = images_seen(method, config, len(pool), len(split.train))
    summary = {
        "name": config.name, "status": "finished", **config.to_dict(),
        "split": split.summary(), "backend": keras.backend.backend(), "hardware": describe_hardware(),
        "command": config.command(), "train_images": len(pool), "train_seconds": train_seconds,
        "images_seen": seen, "images_per_second": round(seen / max(train_seconds, 1e-9), 1),
        "metrics": result.metrics, "baselines": baselines, "files": files,
        "validation_curve": validation_curve(out), "final_logs": last_logs(out),
    }
    atomic_write_text(out / RESULTS, json.dumps(summary, indent=2))
    return summary
