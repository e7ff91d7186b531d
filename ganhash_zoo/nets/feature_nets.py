"""Networks on a frozen backbone's pooled features: the feature-space counterparts of the DCGAN nets.

A method on a pretrained backbone sees each image as its feature vector
(EfficientNet-Lite0: 1,280 averages of ReLU6 activations, in [0, 6]). Its
trunk is a normalised dense layer, its generator makes feature vectors in
the same range, and its discriminators judge feature vectors.
"""

from __future__ import annotations

import keras
from keras import layers

FEATURE_MAX = 6.0  # ReLU6 activations, averaged: generated features live in [0, 6] as real ones do


def feature_trunk(input_dim: int, width: int = 1024, name: str = "trunk") -> keras.Model:
    """LayerNorm -> dense ``width`` -> LeakyReLU(0.2): per-sample normalised, like the pixel trunk."""
    inputs = keras.Input((input_dim,), name="features")
    x = layers.LayerNormalization(name="normalize")(inputs)
    x = layers.Dense(width, name="hidden")(x)
    x = layers.LeakyReLU(0.2, name="hidden_act")(x)
    return keras.Model(inputs, x, name=name)


def feature_generator(input_dim: int, feature_dim: int, width: int = 1024, name: str = "generator") -> keras.Model:
    """Latent vector -> two batch-normalised ReLU layers -> ``feature_dim`` values in [0, FEATURE_MAX]."""
    inputs = keras.Input((input_dim,), name="latent")
    x = inputs
    for i in range(2):
        x = layers.Dense(width, name=f"dense{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.Dense(feature_dim, name="to_features")(x)
    x = layers.Activation("sigmoid", dtype="float32")(x)
    outputs = layers.Rescaling(FEATURE_MAX, name="to_feature_range")(x)
    return keras.Model(inputs, outputs, name=name)
