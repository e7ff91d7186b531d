"""Shared fixtures: the real datasets in ../shared/datasets (never copied into the repo)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ganhash_zoo import list_models

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GANHASH_ZOO_DATA", REPO.parent / "shared" / "datasets"))
os.environ.setdefault("GANHASH_ZOO_DATA", str(SHARED_DATA))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# the released models whose registry figures the suite reproduces unless --releases says otherwise: every method
# and every kind of shipped head, on the two feature sets that cost the most to compute once (block-12 maps of
# CIFAR-10 for the fine-tuned models with int8 blocks, feature and instance bits; Fashion-MNIST's pooled features).
# The other CIFAR-10 models read pooled and mirror-averaged features: `--releases '*'` checks them too
DEFAULT_RELEASES = ("dshgan-cifar10-48bit", "fakereg-cifar10-48bit", "ssah-cifar10-48bit",
                    *(f"{method}-fashion-mnist-48bit" for method in ("dshgan", "fakereg", "hashgan", "ssah", "uspah")))


def pytest_addoption(parser):
    parser.addoption("--learning-seeds", default="1",
                     help="comma-separated seeds for the learning tests (to measure their spread)")
    parser.addoption("--releases", default=None,
                     help="glob of the released models whose figures to reproduce ('*' before a release; "
                          f"default: {', '.join(DEFAULT_RELEASES)})")


def pytest_generate_tests(metafunc):
    if "learning_seed" in metafunc.fixturenames:
        seeds = [int(s) for s in metafunc.config.getoption("learning_seeds").split(",")]
        metafunc.parametrize("learning_seed", seeds, ids=[f"seed{s}" for s in seeds])
    if "released_name" in metafunc.fixturenames:
        pattern = metafunc.config.getoption("releases")
        names = list(DEFAULT_RELEASES) if pattern is None else list_models(pattern, released_only=True)
        if not names:
            raise pytest.UsageError(f"--releases {pattern!r} matches no released model (`ganhash-zoo list`)")
        metafunc.parametrize("released_name", names)


@pytest.fixture(autouse=True)
def deterministic(request):
    """Every test starts from the same seeds; with op determinism, a machine repeats its results exactly."""
    import keras

    seed = request.node.callspec.params.get("learning_seed", 1) if hasattr(request.node, "callspec") else 1
    keras.utils.set_random_seed(seed)


def pytest_configure(config):
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def _need(path):
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set GANHASH_ZOO_DATA)")


@pytest.fixture(scope="session")
def fashion():
    from ganhash_zoo.datasets import load_protocol

    _need(SHARED_DATA / "fashion-mnist")
    return load_protocol("fashion_mnist-59k", data_dir=SHARED_DATA)


@pytest.fixture(scope="session")
def cifar():
    from ganhash_zoo.datasets import load_protocol

    _need(SHARED_DATA / "cifar10-jpeg.tar.gz")
    return load_protocol("cifar10-59k", data_dir=SHARED_DATA)


@pytest.fixture(scope="session")
def fashion_task(fashion):
    """A small real retrieval task on Fashion-MNIST for learning tests (minutes on 2 cores)."""
    from ganhash_zoo.retrieval import Evaluator

    data, split = fashion
    rng = np.random.default_rng(0)
    queries = split.query[::2]
    database = np.sort(rng.choice(split.database, 6000, replace=False))
    unlabeled = data.images[np.sort(rng.choice(split.unlabeled, 6000, replace=False))]
    evaluator = Evaluator(data.images[queries], data.labels[queries], data.images[database],
                          data.labels[database], cutoffs=(None, 1000), protocol="fashion-subset")
    return {
        "evaluator": evaluator,
        "unlabeled": unlabeled,
        "labeled": data.images[split.train],
        "labels": data.labels[split.train],
    }


@pytest.fixture(scope="session")
def finished_run(fashion, tmp_path_factory):
    """A real (tiny) fakereg training on Fashion-MNIST pixels, interrupted after one epoch and resumed for a
    second: the release, card and Hub mechanics, with the whole GAN exported (pixel runs ship it)."""
    from ganhash_zoo.config import TrainConfig
    from ganhash_zoo.training import train

    out = tmp_path_factory.mktemp("runs") / "fakereg-fashion-mnist-48bit"
    common = dict(method="fakereg", dataset="fashion_mnist", protocol="fashion_mnist-59k", bits=48, width=8,
                  batch_size=128, max_unlabeled=512, eval_every=1, backbone="dcgan")
    first = train(TrainConfig(epochs=1, **common), out=out, verbose=0)
    epochs_after_first = json.loads((out / "state.json").read_text())["epochs_done"]
    second = train(TrainConfig(epochs=2, **common), out=out, verbose=0)
    return {"out": out, "first": first, "second": second, "epochs_after_first": epochs_after_first}


@pytest.fixture
def withhold(monkeypatch, tmp_path):
    """``withhold(name)``: the registry sees ``name`` as planned but not released, whatever the zoo ships."""
    from ganhash_zoo import registry

    def withhold_name(name):
        released = json.loads(registry.released_file().read_text())
        released.pop(name, None)
        view = tmp_path / "released-view.json"
        view.write_text(json.dumps(released))
        monkeypatch.setattr(registry, "released_file", lambda: view)

    return withhold_name
