"""Instance bits: code bits that no class loss reaches, read from the frozen backbone's features.

A supervised code gathers each class into a few nearby codes, so a photo's
near-duplicate ties with its class. Bits fitted once on the frozen features
(a projection hasher's mean and projection, e.g. baselines.InvariantITQ) and
appended to the learned code tell the images of a class apart. The same
layer computes a method's *feature bits*: ITQ of its trained network's
pooled features, fitted after training (GANHasher.fit_feature_bits).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable("ganhash_zoo")
class InstanceBits(layers.Layer):
    """tanh((pooled inputs - mean) @ projection), fixed: maps (B, H, W, C) are average-pooled first,
    feature vectors (B, F) read as they are. Fitted from outside by :meth:`set_projection`."""

    def __init__(self, feature_dim, bits, **kwargs):
        super().__init__(**{**kwargs, "trainable": False, "dtype": "float32"})
        self.feature_dim, self.bits = int(feature_dim), int(bits)
        self.mean = self.add_weight(shape=(self.feature_dim,), initializer="zeros", trainable=False, name="mean")
        self.projection = self.add_weight(shape=(self.feature_dim, self.bits), initializer="zeros", trainable=False,
                                          name="projection")

    def pooled(self, inputs):
        x = ops.cast(inputs, "float32")
        return ops.mean(x, axis=(1, 2)) if len(x.shape) == 4 else x

    def features_of(self, inputs, batch_size: int = 2048) -> np.ndarray:
        """The pooled features of many inputs as NumPy, in batches: what the projection is fitted on."""
        return np.concatenate([ops.convert_to_numpy(self.pooled(inputs[start:start + batch_size]))
                               for start in range(0, len(inputs), batch_size)])

    def set_projection(self, mean, projection) -> None:
        self.mean.assign(mean)
        self.projection.assign(projection)

    def call(self, inputs):
        return ops.tanh(ops.matmul(self.pooled(inputs) - self.mean, self.projection))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bits)

    def get_config(self):
        return {**super().get_config(), "feature_dim": self.feature_dim, "bits": self.bits}
