"""The user-facing paths on Keras' three backends, on real Fashion-MNIST images.

TensorFlow runs :func:`user_paths.run_user_paths` in this process; torch and JAX run the same
function in a subprocess (the backend is fixed when Keras is imported). Codes, figures and search
results must agree with TensorFlow's; fine-tuning the encoder must work everywhere; GAN training
works on torch and is refused on JAX with a message that says what to do.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from user_paths import run_user_paths

pytestmark = pytest.mark.slow  # runs the user paths again under torch and JAX

SCRIPT = Path(__file__).with_name("user_paths.py")


@pytest.fixture(scope="module")
def tensorflow_report(tmp_path_factory):
    if not (SHARED_DATA / "fashion-mnist").exists():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return run_user_paths(SHARED_DATA, tmp_path_factory.mktemp("tensorflow"))


def codes_agree(a, b, max_differing_bits=0.002):
    """Packed codes equal up to a few bits whose relaxed value sits at the sign threshold (float round-off)."""
    a, b = np.asarray(a, np.uint8), np.asarray(b, np.uint8)
    differing = np.unpackbits(a ^ b).mean()
    return a.shape == b.shape and differing <= max_differing_bits


def test_tensorflow_user_paths(tensorflow_report):
    report = tensorflow_report
    assert report["backend"] == "tensorflow" and report["released"]
    assert report["cli_rc"] == [0, 0, 0, 0]
    assert codes_agree(report["cli_codes"], report["codes"][:8])
    assert report["metrics"]["mAP@all"] > 0.3  # a trained encoder on 50 queries vs 250 images; random codes give 0.1
    assert np.isfinite(report["fine_tune_loss"]) and report["fine_tune_changed"]
    assert all(np.isfinite(v) for v in report["gan"].values())


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_other_backends_match_tensorflow(backend, tensorflow_report, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install {backend})")
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(Path(__file__).parent)}
    run = subprocess.run([sys.executable, str(SCRIPT), str(SHARED_DATA), str(tmp_path), str(tmp_path / "r.json")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report, expected = json.loads((tmp_path / "r.json").read_text()), tensorflow_report
    assert report["backend"] == backend and report["cli_rc"] == [0, 0, 0, 0]
    assert codes_agree(report["codes"], expected["codes"])
    assert codes_agree(report["cli_codes"], expected["cli_codes"])
    for metric, value in expected["metrics"].items():
        assert abs(report["metrics"][metric] - value) < 0.01, metric
    assert report["search"]["distances"] == expected["search"]["distances"]
    assert np.isfinite(report["fine_tune_loss"]) and report["fine_tune_changed"]
    if backend == "jax":
        assert report["gan"].startswith("refused:") and "KERAS_BACKEND=tensorflow" in report["gan"]
    else:
        assert all(np.isfinite(v) for v in report["gan"].values())
