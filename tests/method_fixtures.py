"""Tiny model and data builders shared by the TensorFlow tests and the torch subprocess."""

import numpy as np

from ganhash_zoo.methods import METHODS


def tiny_data(n=64):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (n, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, n)


def probe_images():
    return np.random.default_rng(1).uniform(0, 255, (4, 28, 28, 1)).astype("float32")


def build_model(name, bits=16, width=8):
    extra = {"feature_dim": 16} if name == "uspah" else {}  # PCA needs more samples than dimensions
    model = METHODS[name](bits=bits, image_shape=(28, 28, 1), width=width, seed=0, **extra)
    return model.prepare(tiny_data()[0])


def fit_once(model, name, epochs=1):
    """fit() with the kind of data the method learns from (tiny random images)."""
    x, y = tiny_data()
    labeled = 32 if model.learning == "semi-supervised" else len(x)
    args, kwargs = model.fit_inputs(x, x[:labeled], y[:labeled], batch_size=16)
    return model.fit(*args, epochs=epochs, verbose=0, **kwargs)
