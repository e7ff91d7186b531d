"""The plain classifier baseline of supervised hashing: a linear tanh hash layer trained with cross-entropy.

h = tanh(W x + b) on standardised inputs, a softmax classifier on h, Adam on
the labelled images; the code is sign(W x + b). A supervised GAN method that
does not beat this on the same labels and inputs has not earned its GAN.
"""

from __future__ import annotations

import numpy as np

from .base import ProjectionHasher


class LinearCE(ProjectionHasher):
    """Linear tanh hash layer + softmax classifier, trained with cross-entropy (needs labels)."""

    name = "linear-ce"

    def __init__(self, bits, seed=0, epochs: int = 60, learning_rate: float = 1e-3, batch_size: int = 128, **kwargs):
        super().__init__(bits, seed, **kwargs)
        self.epochs, self.learning_rate, self.batch_size = epochs, learning_rate, batch_size
        self.scale_ = self.bias_ = None

    def fit(self, images, labels=None) -> "LinearCE":
        import keras

        if labels is None:
            raise ValueError("LinearCE is supervised: fit(features, labels)")
        x = self.features(images)
        labels = np.asarray(labels)
        self.mean_, self.scale_ = x.mean(0), x.std(0) + 1e-6
        keras.utils.set_random_seed(self.seed)
        inputs = keras.Input((x.shape[1],))
        hash_layer = keras.layers.Dense(self.bits, name="hash")
        codes = keras.layers.Activation("tanh")(hash_layer(inputs))
        logits = keras.layers.Dense(int(labels.max()) + 1)(codes)
        model = keras.Model(inputs, logits)
        model.compile(keras.optimizers.Adam(self.learning_rate),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit((x - self.mean_) / self.scale_, labels, epochs=self.epochs, batch_size=self.batch_size, verbose=0)
        kernel, bias = hash_layer.get_weights()
        self.projection_, self.bias_ = (kernel / self.scale_[:, None]).astype(np.float32), bias.astype(np.float32)
        return self

    def project(self, images) -> np.ndarray:
        if self.projection_ is None:
            raise RuntimeError("LinearCE is not fitted: call fit(features, labels) first")
        return (self.features(images) - self.mean_) @ self.projection_ + self.bias_
