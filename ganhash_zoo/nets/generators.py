"""DCGAN-style generator: vector -> image in [0, 255]."""

from __future__ import annotations

import keras
from keras import layers

from .backbones import num_halvings


def dcgan_generator(input_dim: int, image_shape, width: int = 64, name: str = "generator") -> keras.Model:
    """Dense to a small map, transposed convs halving the width each time, tanh, rescale.

    For 32x32 the map grows 4 -> 8 -> 16 -> 32; for 28x28 7 -> 14 -> 28.
    """
    h, w, c = image_shape
    n_up = num_halvings(h)
    start_h, start_w = h // 2**n_up, w // 2**n_up
    inputs = keras.Input((input_dim,), name="latent")
    x = layers.Dense(start_h * start_w * width * 2**n_up, name="project")(inputs)
    x = layers.Reshape((start_h, start_w, width * 2**n_up))(x)
    x = layers.BatchNormalization(name="bn_project")(x)
    x = layers.ReLU()(x)
    for i in range(n_up):
        x = layers.Conv2DTranspose(width * 2 ** (n_up - 1 - i), 4, strides=2, padding="same", name=f"up{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU()(x)
    x = layers.Conv2D(c, 3, padding="same", name="to_image")(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    outputs = layers.Rescaling(127.5, offset=127.5, name="to_pixels")(x)
    return keras.Model(inputs, outputs, name=name)
