"""Heads on trunk features, and the (image, code) pair discriminator of USPAH."""

from __future__ import annotations

import keras
from keras import layers


def mlp_head(input_dim: int, units: int, hidden: int = 0, name: str = "head") -> keras.Model:
    """Features -> (optional hidden LeakyReLU layer) -> ``units`` float32 logits."""
    inputs = keras.Input((input_dim,))
    x = inputs
    if hidden:
        x = layers.LeakyReLU(0.2)(layers.Dense(hidden)(x))
    outputs = layers.Dense(units, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def pair_discriminator(backbone: keras.Model, bits: int, hidden: int = 512, name: str = "pair_discriminator"):
    """Logit that (image, code) is a real pair (x, E(x)) rather than a generated (G(b), b)."""
    images = keras.Input(backbone.input_shape[1:], name="images")
    codes = keras.Input((bits,), name="codes")
    x = layers.Concatenate()([backbone(images), layers.Dense(hidden // 2)(codes)])
    x = layers.Dropout(0.2)(layers.LeakyReLU(0.2)(layers.Dense(hidden)(x)))
    outputs = layers.Dense(1, dtype="float32")(x)
    return keras.Model([images, codes], outputs, name=name)
