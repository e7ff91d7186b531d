"""Registry, load() with integrity checks, input validation, the CLI, and resumable training."""

import functools
import itertools
import json
import runpy
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import ganhash_zoo
from ganhash_zoo import cli, registry, zoo
from ganhash_zoo.datasets import get_protocol
from ganhash_zoo.export import save_encoder


def test_registry_names_every_planned_model():
    names = ganhash_zoo.list_models()
    assert len(names) == 25 and "hashgan-cifar10-48bit" in names and "ssah-fashion-mnist-48bit" in names
    assert ganhash_zoo.list_models("uspah-cifar10-*") == [f"uspah-cifar10-{b}bit" for b in (16, 32, 48, 64)]
    entry = ganhash_zoo.info("dshgan-cifar10-16bit")
    assert entry["protocol"] == "cifar10-54k" and "SIGIR 2017" in entry["paper"]


def test_released_models_were_trained_with_their_recipe():
    """train_zoo.py retrains from recipes.py: a recipe changed after a release would not rebuild it."""
    released = [entry for entry in registry.registry().values() if entry.released]
    assert released
    for entry in released:
        assert entry.training["command"] == entry.recipe.command(), entry.name


def test_unknown_name_suggests_close_names():
    with pytest.raises(zoo.UnknownModelError, match="hashgan-cifar10-48bit"):
        ganhash_zoo.load("hashgan-cifar-48bit")


def test_unreleased_model_says_how_to_train_it(withhold):
    withhold("hashgan-cifar10-48bit")
    with pytest.raises(zoo.WeightsNotAvailableError, match="scripts/train.py hashgan .*--out runs/hashgan-cifar10-48bit"):
        ganhash_zoo.load("hashgan-cifar10-48bit")


@pytest.fixture
def released_model(tmp_path, monkeypatch):
    """A released entry backed by a freshly exported (untrained) encoder."""
    from ganhash_zoo.methods import HashGAN

    model = HashGAN(bits=16, image_shape=(28, 28, 1), width=8, seed=0)
    name = "hashgan-fashion-mnist-48bit"
    files = save_encoder(model.encoder, tmp_path / "weights" / name, {"name": name, "method": "hashgan", "bits": 16})
    released = tmp_path / "released.json"
    released.write_text(json.dumps({name: {"files": files, "bits": 16}}))
    monkeypatch.setattr(registry, "released_file", lambda: released)
    monkeypatch.setenv(zoo.WEIGHTS_ENV, str(tmp_path / "weights"))
    return name, model, tmp_path / "weights" / name


def test_load_encodes_uint8_and_float_images_alike(released_model):
    name, model, _ = released_model
    hasher = ganhash_zoo.load(name)
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    codes = hasher.encode(images)
    assert codes.bits == 16 and codes.packed.shape == (5, 2)
    np.testing.assert_array_equal(hasher.encode(images / 255.0).packed, codes.packed)
    np.testing.assert_array_equal(hasher.encode(images[..., 0]).packed, codes.packed)  # no channel axis
    # float16 on disk: outputs agree with the float32 original to half precision
    np.testing.assert_allclose(hasher.relaxed_codes(images), model.encoder(images.astype("float32")), atol=2e-2)


def test_bad_images_get_clear_errors(released_model):
    hasher = ganhash_zoo.load(released_model[0])
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        hasher.encode(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        hasher.encode(np.full((2, 28, 28, 1), 200.0))
    with pytest.raises(TypeError, match="numeric"):
        hasher.encode(np.array([["a"]]))
    with pytest.raises(ValueError, match="NaN"):
        hasher.encode(np.full((1, 28, 28, 1), np.nan))


def test_tampered_weights_are_refused_and_left_in_place(released_model):
    name, _, folder = released_model
    weights = folder / "encoder.weights.h5"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(zoo.WeightIntegrityError, match="corrupt or was modified"):
        ganhash_zoo.load(name)
    assert weights.read_bytes() == bytes(data)  # the user's file is not deleted or rewritten


def test_cli_list_info_encode_and_errors(released_model, tmp_path, capsys):
    name = released_model[0]
    assert cli.main(["list", "hashgan-*"]) == 0
    assert "hashgan-cifar10-64bit" in capsys.readouterr().out
    assert cli.main(["info", name]) == 0
    assert json.loads(capsys.readouterr().out)["released"] is True
    images = tmp_path / "x.npy"
    np.save(images, np.zeros((3, 28, 28), np.uint8))
    assert cli.main(["encode", name, str(images), "--out", str(tmp_path / "c.npz")]) == 0
    with np.load(tmp_path / "c.npz") as f:
        assert f["packed"].shape == (3, 2) and int(f["bits"]) == 16
    assert cli.main(["encode", name, str(images), "--out", str(tmp_path / "c.npz")]) == 2
    assert "--overwrite" in capsys.readouterr().err  # an existing output is never replaced silently
    assert cli.main(["info", "no-such-model"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_training_resumes_from_its_checkpoint(finished_run):
    out, first, second = finished_run["out"], finished_run["first"], finished_run["second"]
    assert finished_run["epochs_after_first"] == 1
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == [0, 1]  # epoch 0 not repeated
    # the release bar on validation; mAP@1000 of 59,000 images scaled to the 4,500 of the validation pool
    logged = {"val_mAP@76", "val_precision@r2", "val_copy_recall@10", "val_distinct_codes"}
    assert logged <= set(log[1])  # evaluated every epoch here
    assert set(second["metrics"]) == set(first["metrics"]) and "lsh" in second["baselines"]
    assert "--max-unlabeled 512" in second["command"]
    assert second["train_seconds"] > first["train_seconds"]  # the resumed run adds to the first one's time
    hasher = ganhash_zoo.load_run(out / "encoder")
    assert hasher.encode(np.zeros((2, 28, 28, 1), np.uint8)).bits == 48


def test_released_but_unpublished_model_says_where_to_put_the_files(released_model, tmp_path, monkeypatch):
    name = released_model[0]
    monkeypatch.setenv(zoo.WEIGHTS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(zoo.WeightsNotAvailableError, match=f"GANHASH_ZOO_WEIGHTS/{name}"):
        ganhash_zoo.load(name)


@pytest.fixture(scope="module")
def protocol_evaluators():
    """One evaluator a (protocol, backbone), shared by the models on it: what ``hasher.evaluate()`` builds
    for each model (about 9 s to read a protocol's cached features), built once."""
    return functools.cache(zoo.protocol_evaluator)


@pytest.mark.slow  # released models (conftest.py's DEFAULT_RELEASES, or --releases GLOB) on their whole protocol
def test_released_model_reproduces_its_registry_figures(released_name, request, protocol_evaluators):
    """The bundled weights, loaded as a user would, give the figures in the registry and the card.

    Exactly on the machine that released them; elsewhere the backbone's features carry round-off of its
    own kernels (measured: Keras' graph against the TensorFlow Lite copy differ by up to 4.4e-5 per
    feature, which moved hashgan-cifar10-48bit's mAP@1000 by 1.8e-6 and no code count), so figures
    must agree to 1e-4, counts to 0.1% and the copies' median rank to one place.
    """
    name = released_name
    entry = zoo.get_entry(name)
    request.getfixturevalue({"fashion_mnist": "fashion", "cifar10": "cifar"}[entry.dataset])  # skips without data
    hasher = ganhash_zoo.load(name)
    evaluator = protocol_evaluators(entry.protocol, hasher.backbone.name, cut_block=hasher.backbone.cut_block)
    measured = evaluator.evaluate(hasher.encoder, name=name).metrics
    assert measured.keys() == entry.metrics.keys()
    for key, value in entry.metrics.items():
        if isinstance(value, int):
            assert abs(measured[key] - value) <= max(1, 0.001 * value), key
        else:
            assert measured[key] == pytest.approx(value, abs=1.0 if key == "copy_median_rank" else 1e-4), key
    headline = get_protocol(entry.protocol).headline_metric
    assert entry.metrics[headline] > entry.baselines["itq"][headline]


def test_resuming_with_other_settings_is_refused_before_anything_changes(finished_run):
    from ganhash_zoo.config import TrainConfig
    from ganhash_zoo.training import RunMismatchError, train

    out = finished_run["out"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    other = TrainConfig("fakereg", "fashion_mnist", "fashion_mnist-59k", 48, epochs=2, width=16, max_unlabeled=512)
    with pytest.raises(RunMismatchError, match=r"width=8 \(asked 16\)"):
        train(other, out=out, verbose=0)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


@pytest.mark.slow  # the backbone's features of a whole dataset, then training
def test_training_budget_pauses_at_a_checkpoint_and_the_run_resumes(fashion, tmp_path, monkeypatch):
    from ganhash_zoo import training
    from ganhash_zoo.config import TrainConfig
    from ganhash_zoo.training import train

    config = TrainConfig("dshgan", "fashion_mnist", "fashion_mnist-59k", 16, epochs=2, width=8, max_unlabeled=256,
                         eval_every=1)
    paused = train(config, out=tmp_path / "run", verbose=0, stop_by=time.time())  # no time for a second epoch
    assert paused == {"name": "dshgan-fashion-mnist-16bit", "status": "paused", "epochs_done": 1}
    assert not (tmp_path / "run" / "results.json").exists()
    # each reading of the run's clock 0.3 s after the one before, as on a loaded machine: the recorded time is
    # the last checkpoint's, whatever fit does after it
    with monkeypatch.context() as patch:
        patch.setattr(training, "time", SimpleNamespace(time=itertools.count(time.time(), 0.3).__next__))
        finished = train(config, out=tmp_path / "run", verbose=0)
    assert finished["status"] == "finished" and [p["epoch"] for p in finished["validation_curve"]] == [1, 2]
    assert all(set(point) == {"epoch", "val_mAP@76", "val_precision@r2", "val_copy_recall@10", "val_distinct_codes"}
               for point in finished["validation_curve"])
    assert finished["final_logs"] and finished["images_seen"] == 2 * 2 * 256  # labelled + unlabelled batches
    again = train(config, out=tmp_path / "run", verbose=0)  # a finished run keeps its last losses and its time
    assert again["final_logs"] == finished["final_logs"] and again["metrics"] == finished["metrics"]
    assert again["train_seconds"] == finished["train_seconds"] == json.loads(
        (tmp_path / "run" / "state.json").read_text())["train_seconds"]
    # killed during export: results.json and part of the encoder folder never written
    (tmp_path / "run" / "results.json").unlink()
    (tmp_path / "run" / "encoder" / "encoder.weights.h5").unlink()
    exported_again = train(config, out=tmp_path / "run", verbose=0)
    assert exported_again["metrics"] == finished["metrics"] and (tmp_path / "run" / "results.json").exists()


def test_bad_training_arguments_leave_no_run_folder(tmp_path):
    from ganhash_zoo.config import TrainConfig
    from ganhash_zoo.training import train

    with pytest.raises(ValueError, match="bits must be a positive integer"):
        TrainConfig("dshgan", "fashion_mnist", "fashion_mnist-59k", 0)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; choose from cifar10, fashion_mnist"):
        train(TrainConfig("dshgan", "mnist", "fashion_mnist-59k", 16), out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _weight_arrays(path):
    import h5py

    arrays = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


@pytest.mark.slow  # the backbone's features of a whole dataset, then training
@pytest.mark.parametrize("method", ["hashgan", "ssah", "fakereg"])  # augmentation; A-Net + schedule; 2 stages
def test_a_run_stopped_at_a_checkpoint_resumes_to_the_uninterrupted_weights(method, fashion, tmp_path):
    """Killed mid-epoch, a run restarts from its last checkpoint; stopped there, the resumed run draws the
    same batches, noise and augmentations (seed states and step counter are checkpointed) and ends with
    exactly the weights of an uninterrupted run (TensorFlow op determinism is on, conftest.py)."""
    from ganhash_zoo.config import TrainConfig
    from ganhash_zoo.training import train

    config = TrainConfig(method, "fashion_mnist", "fashion_mnist-59k", 16, epochs=2, width=8, max_unlabeled=256,
                         eval_every=2)
    whole = train(config, out=tmp_path / "whole", verbose=0)
    assert train(config, out=tmp_path / "cut", verbose=0, stop_by=time.time())["status"] == "paused"
    resumed = train(config, out=tmp_path / "cut", verbose=0)
    expected, actual = (_weight_arrays(tmp_path / run / "checkpoint.weights.h5") for run in ("whole", "cut"))
    assert expected.keys() == actual.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
    assert resumed["metrics"] == whole["metrics"]


@pytest.mark.slow  # the backbone's features of a whole dataset, then training
def test_a_run_killed_mid_epoch_resumes_from_its_last_checkpoint_to_the_same_weights(fashion, tmp_path):
    """SIGKILL in the middle of epoch 2 (as a lost machine would), then the same command again: the run
    resumes from its last checkpoint and ends with the weights of an uninterrupted run. Every run is a
    fresh ``ganhash-zoo train`` process with TensorFlow's deterministic ops."""
    import os
    import signal
    import subprocess
    import sys

    from ganhash_zoo.config import TrainConfig

    config = TrainConfig("dshgan", "fashion_mnist", "fashion_mnist-59k", 16, epochs=3, width=8, max_unlabeled=2048,
                         eval_every=3)

    def command(out):
        return subprocess.Popen([sys.executable, "-m", "ganhash_zoo.cli", "train", *config.cli_args(),
                                 "--eval-every", "3", "--out", str(out), "--verbose", "0"],
                                env={**os.environ, "TF_DETERMINISTIC_OPS": "1"}, stdout=subprocess.DEVNULL)

    assert command(tmp_path / "whole").wait(timeout=600) == 0
    run = tmp_path / "killed"
    child = command(run)
    deadline = time.time() + 300
    while not (run / "state.json").exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # into the second epoch
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert json.loads((run / "state.json").read_text())["epochs_done"] in (1, 2)
    assert not (run / "results.json").exists()
    assert command(run).wait(timeout=600) == 0
    expected, actual = (_weight_arrays(folder / "checkpoint.weights.h5") for folder in (tmp_path / "whole", run))
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
    whole, resumed = (json.loads((folder / "results.json").read_text()) for folder in (tmp_path / "whole", run))
    assert resumed["metrics"] == whole["metrics"]


def test_missing_data_dir_leaves_no_run_folder(tmp_path):
    from ganhash_zoo.datasets import DatasetError
    from ganhash_zoo.config import TrainConfig
    from ganhash_zoo.training import train

    with pytest.raises(DatasetError, match="does not exist"):
        train(TrainConfig("dshgan", "fashion_mnist", "fashion_mnist-59k", 16), out=tmp_path / "run",
              data_dir=tmp_path / "no-data")
    assert not (tmp_path / "run").exists()


def test_cli_keeps_tensorflows_start_up_lines_quiet(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "from ganhash_zoo.cli import start_keras; start_keras(); print('ready')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "ready"
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower(), result.stderr[-500:]


def test_method_options_travel_through_the_command_line_and_run_folder(tmp_path):
    from ganhash_zoo.cli import build_parser, resolve_train_defaults, train_config
    from ganhash_zoo.config import TrainConfig
    from ganhash_zoo.training import RUN_CONFIG, RunMismatchError, claim_run_folder

    config = TrainConfig("uspah", "cifar10", "cifar10-59k", 48, method_options={"features": "patches", "centroids": 128})
    args = resolve_train_defaults(build_parser().parse_args(["train", *config.cli_args()]))
    assert train_config(args).method_options == config.method_options
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="KEY=VALUE"):
        TrainConfig.parse_option("features")
    # a run folder from before method_options existed resumes with none, and refuses others
    plain = TrainConfig("uspah", "cifar10", "cifar10-59k", 48)
    (tmp_path / RUN_CONFIG).write_text(json.dumps({k: v for k, v in plain.to_dict().items() if k != "method_options"}))
    claim_run_folder(plain, tmp_path)
    with pytest.raises(RunMismatchError, match="method_options"):
        claim_run_folder(config, tmp_path)


@pytest.mark.slow  # the backbone's features of a whole dataset, then training
def test_sweep_trains_each_variant_and_tabulates_the_bar_on_validation(fashion, tmp_path, capsys):
    sweep = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "sweep.py"))
    sweep["main"](["hashgan", "--dataset", "fashion_mnist", "--bits", "8", "--epochs", "1", "--width", "8",
                   "--max-unlabeled", "128", "--eval-every", "1", "--verbose", "0",
                   "--vary", "decorrelation_weight=1.0,0.3", "--out", str(tmp_path)])
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert table[0] == ("| variant | epoch | val mAP@76 | val mAP@all | val precision@r2 | val distinct_codes "
                        "| val copy_recall@10 |")
    assert table[1].startswith("| ITQ | - | 0.")
    assert [row.split(" | ")[:2] for row in table[2:]] == [["| decorrelation_weight=1.0", "1"],
                                                            ["| decorrelation_weight=0.3", "1"]]
    assert all(row.split(" | ")[2] != "-" for row in table[2:])  # each run logged the headline it is chosen on
    runs = {json.loads((tmp_path / name / "run.json").read_text())["method_options"]["decorrelation_weight"]
            for name in ("decorrelation_weight-1.0", "decorrelation_weight-0.3")}
    assert runs == {1.0, 0.3}
