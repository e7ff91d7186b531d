"""The only backend-specific code: gradients of a loss over chosen variables.

Keras 3 has no backend-agnostic gradient API, and a GAN needs one gradient
computation per player. TensorFlow records on a GradientTape; torch uses
autograd and must apply updates under ``torch.no_grad()``. JAX is stateless
and would need every method's ``train_step`` rewritten around
``stateless_call``: GAN training refuses it with :class:`TrainingBackendError`,
while everything that only runs networks forward (encode, evaluate, search)
and plain ``fit`` of the encoder alone work on JAX too.
"""

from __future__ import annotations

import keras

BACKEND = keras.backend.backend()
TRAINING_BACKENDS = ("tensorflow", "torch")


class TrainingBackendError(RuntimeError):
    """GAN training was asked of a Keras backend this shim has no gradient call for."""


def check_training_backend(what: str) -> None:
    if BACKEND not in TRAINING_BACKENDS:
        raise TrainingBackendError(
            f"{what} trains each player with its own gradients, which ganhash_zoo computes on the "
            f"{' or '.join(TRAINING_BACKENDS)} backend; Keras runs on {BACKEND!r} here. Set KERAS_BACKEND=tensorflow "
            "(or torch) before importing keras to train or fine-tune the GAN. On this backend, encode, evaluate, "
            "search and fine-tuning the encoder alone (hasher.encoder.compile(...); hasher.encoder.fit(...)) work.")


def value_and_gradients(loss_fn, variables, optimizer):
    """Run ``loss_fn() -> (loss, logs)`` and differentiate ``optimizer.scale_loss(loss)``.

    ``scale_loss`` is the identity for plain optimizers and multiplies by the
    dynamic loss scale for a LossScaleOptimizer (mixed_float16), whose
    ``apply`` then unscales the gradients.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, logs = loss_fn()
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
    else:
        import torch

        loss, logs = loss_fn()
        scaled = optimizer.scale_loss(loss)
        grads = torch.autograd.grad(scaled, [v.value for v in variables], allow_unused=True)
    grads = [keras.ops.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
    return loss, logs, grads


def apply_gradients(optimizer, grads, variables):
    if BACKEND == "torch":
        import torch

        with torch.no_grad():
            optimizer.apply(grads, variables)
    else:
        optimizer.apply(grads, variables)
