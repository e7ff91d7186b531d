"""Hashing and adversarial loss terms, in keras.ops so they run on every backend.

Conventions: ``h`` is a relaxed code in [-1, 1] (tanh), ``t = (h + 1) / 2``
the per-bit probability of a 1. Every function returns a float32 scalar and
casts its inputs first, so mixed-precision activations are safe.
"""

from __future__ import annotations

import math

from keras import ops

EPS = 1e-6


def _f32(x):
    return ops.cast(x, "float32")


def _binary_entropy(t):
    t = ops.clip(_f32(t), EPS, 1 - EPS)
    return -(t * ops.log(t) + (1 - t) * ops.log(1 - t))


def bit_entropy(t):
    """Mean binary entropy of each bit (nats). Minimising it pushes bits to 0 or 1 (HashGAN)."""
    return ops.mean(_binary_entropy(t))


def bit_balance(t):
    """sum_k f_k log f_k + (1-f_k) log(1-f_k), f_k the batch mean of bit k, per bit.

    Minimising it makes every bit fire for half of the batch (HashGAN's
    uniform-frequency term); its minimum is -log 2.
    """
    return -ops.mean(_binary_entropy(ops.mean(_f32(t), axis=0)))


def maximum_entropy(t):
    """log 2 - mean bit entropy: zero when every bit is maximally uncertain (FakeReg, on fakes)."""
    return math.log(2.0) - bit_entropy(t)


def quantization(h):
    """Mean (|h| - 1)^2: distance of relaxed codes from the hypercube corners."""
    return ops.mean(ops.square(ops.abs(_f32(h)) - 1))


def independence(kernel):
    """||W^T W - I||^2 / K^2 for the (features, K) hash-layer kernel: decorrelated bits."""
    w = _f32(kernel)
    w = w / (ops.norm(w, axis=0, keepdims=True) + EPS)
    k = ops.shape(w)[1]
    return ops.sum(ops.square(ops.matmul(ops.transpose(w), w) - ops.eye(k))) / (k * k)


def bit_decorrelation(h):
    """Mean squared correlation between different bits over the batch.

    Weight orthogonality (``independence``) does not stop two bits from
    computing the same function of the trunk's features; this penalises it
    on the codes themselves, so K bits carry K different splits of the data.
    """
    h = _f32(h)
    h = h - ops.mean(h, axis=0, keepdims=True)
    h = h / (ops.sqrt(ops.mean(ops.square(h), axis=0, keepdims=True)) + EPS)
    k = ops.shape(h)[1]
    corr = ops.matmul(ops.transpose(h), h) / ops.cast(ops.shape(h)[0], "float32")
    return (ops.sum(ops.square(corr)) - ops.sum(ops.square(ops.diagonal(corr)))) / (k * (k - 1))


def consistency(a, b):
    """Mean squared difference of two codes of the same image (e.g. before/after a transform)."""
    return ops.mean(ops.square(_f32(a) - _f32(b)))


def view_contrast(h, h_view, temperature: float = 0.3):
    """InfoNCE between relaxed codes of images and of their views, both ways: each image's code is pulled to
    its own view's and pushed from the other images' in the batch.

    Unlike ``consistency`` it cannot be met by gathering many images into one code, so an image's
    near-duplicate keeps a code nearer its own than its class's images' (CIBHash's contrastive term).
    """
    a, b = _f32(h), _f32(h_view)
    logits = ops.matmul(a, ops.transpose(b)) / (ops.cast(ops.shape(a)[1], "float32") * temperature)
    matched = ops.mean(ops.diagonal(ops.log_softmax(logits, axis=1)) + ops.diagonal(ops.log_softmax(logits, axis=0)))
    return -matched / 2


def collaborative(t_fake, b):
    """||E(G([u, b])) - b||^2 per bit: the encoder recovers the bits the generator was given."""
    return consistency(t_fake, b)


def triplet(anchor, positive, negative, margin: float = 0.5):
    """Hinge on squared distances between relaxed codes, per bit: d(a,p) + margin < d(a,n)."""
    a, p, n = _f32(anchor), _f32(positive), _f32(negative)
    d_ap = ops.mean(ops.square(a - p), axis=-1)
    d_an = ops.mean(ops.square(a - n), axis=-1)
    return ops.mean(ops.relu(margin + d_ap - d_an))


def label_similarity(labels, other=None, num_classes: int | None = None, similar: float = 1.0):
    """S_ij in {-1, similar}: ``similar`` (1: identical codes) when items share a label (class ids, or
    multi-hot rows), -1 otherwise."""
    y = _multi_hot(labels, num_classes)
    z = y if other is None else _multi_hot(other, num_classes)
    return ops.where(ops.matmul(y, ops.transpose(z)) > 0, float(similar), -1.0)


def _multi_hot(labels, num_classes):
    if len(labels.shape) == 1:
        return ops.one_hot(ops.cast(labels, "int32"), num_classes)
    return _f32(labels)


def pairwise_similarity(h, similarity, other=None, weights=None):
    """Mean (h_i . h_j / K - S_ij)^2: code inner products follow a target similarity in [-1, 1].

    ``weights`` (same shape as S, 0 or more) leave pairs out or count them more; the mean is
    then taken over the weights' total.
    """
    a = _f32(h)
    b = a if other is None else _f32(other)
    k = ops.cast(ops.shape(a)[1], "float32")
    errors = ops.square(ops.matmul(a, ops.transpose(b)) / k - _f32(similarity))
    if weights is None:
        return ops.mean(errors)
    weights = _f32(weights)
    return ops.sum(weights * errors) / (ops.sum(weights) + EPS)


def discriminator_loss(real_logits, fake_logits):
    """Standard GAN discriminator cross-entropy: real -> 1, fake -> 0."""
    return ops.mean(ops.softplus(-_f32(real_logits))) + ops.mean(ops.softplus(_f32(fake_logits)))


def generator_loss(fake_logits):
    """Non-saturating generator loss: -log D(G(z))."""
    return ops.mean(ops.softplus(-_f32(fake_logits)))


def feature_matching(real_features, fake_features):
    """Squared distance between batch-mean trunk features of real and generated images."""
    diff = ops.mean(_f32(real_features), axis=0) - ops.mean(_f32(fake_features), axis=0)
    return ops.mean(ops.square(diff))


def classification(logits, labels, num_classes: int | None = None):
    """Softmax cross-entropy for class ids, sigmoid cross-entropy for multi-hot labels."""
    logits = _f32(logits)
    if len(labels.shape) == 1:
        y = ops.one_hot(ops.cast(labels, "int32"), ops.shape(logits)[-1])
        return -ops.mean(ops.sum(y * ops.log_softmax(logits, axis=-1), axis=-1))
    y = _f32(labels)
    return ops.mean(ops.softplus(logits) - y * logits)
