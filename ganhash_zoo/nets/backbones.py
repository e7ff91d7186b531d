"""Convolutional trunks and the encoder (image -> relaxed code in [-1, 1])."""

from __future__ import annotations

import keras
from keras import layers


def num_halvings(size: int, smallest: int = 4) -> int:
    """How many stride-2 steps take ``size`` down towards ``smallest`` (32 -> 3, 28 -> 2, 8 -> 1)."""
    n = 0
    while size % 2 == 0 and size // 2 >= smallest:
        size //= 2
        n += 1
    return max(n, 1)


def dcgan_backbone(image_shape, width: int = 64, norm: str | None = "layer", name: str = "backbone") -> keras.Model:
    """DCGAN-style trunk: strided 4x4 convs (width, 2*width, ...), LeakyReLU(0.2), flat features.

    ``norm="layer"`` (default) normalises each sample on its own, so a trunk
    shared by real and generated batches (HashGAN's E/D, DSH-GAN's CNN) has no
    batch statistics to mix up between training and retrieval.
    """
    inputs = keras.Input(tuple(image_shape), name="images")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_unit_range")(inputs)
    for i in range(num_halvings(image_shape[0])):
        x = layers.Conv2D(width * 2**i, 4, strides=2, padding="same", name=f"conv{i}")(x)
        if norm == "layer" and i > 0:
            x = layers.LayerNormalization(axis=(1, 2, 3), name=f"norm{i}")(x)
        elif norm == "batch" and i > 0:
            x = layers.BatchNormalization(name=f"norm{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"act{i}")(x)
    x = layers.Flatten(name="features")(x)
    return keras.Model(inputs, x, name=name)


def build_encoder(backbone: keras.Model, bits: int, name: str = "encoder", head=None) -> keras.Model:
    """Backbone + hash head (a linear layer unless ``head`` is given) + tanh: the exported retrieval model.

    Methods that think in sigmoid probabilities use t = (h + 1) / 2, which is
    sigmoid of twice the hash logits, so every exported encoder thresholds at 0.
    """
    inputs = keras.Input(backbone.input_shape[1:], name="images")
    logits = (head or layers.Dense(bits, name="hash_logits"))(backbone(inputs))
    codes = layers.Activation("tanh", dtype="float32", name="codes")(logits)
    return keras.Model(inputs, codes, name=name)
