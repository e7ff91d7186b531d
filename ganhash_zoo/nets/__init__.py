"""Building blocks shared by the methods: trunks, heads, generators, discriminators.

A method's input is either pixels, shape (H, W, C) in [0, 255] (the
from-scratch DCGAN nets; the scaling to [-1, 1] is the first layer of each
trunk and the last of each generator), or a frozen backbone's features,
shape (F,) (the dense nets of feature_nets.py). :func:`trunk` and
:func:`generator` choose by the input's shape, so a method's code is the
same on both.
"""

from .backbones import build_encoder, dcgan_backbone, num_halvings
from .discriminators import mlp_head, pair_discriminator
from .efficientnet_lite import tail_from_block
from .feature_nets import feature_generator, feature_trunk
from .generators import dcgan_generator
from .instance_bits import InstanceBits


def on_features(input_shape) -> bool:
    """True for a backbone's feature vectors (F,), False for images (H, W, C)."""
    return len(tuple(input_shape)) == 1


def trunk(input_shape, width: int, name: str):
    """The shared feature extractor of a method's networks: a DCGAN convnet on pixels, a dense layer on features."""
    if on_features(input_shape):
        return feature_trunk(int(input_shape[0]), width, name=name)
    return dcgan_backbone(input_shape, width, name=name)


def generator(input_dim: int, output_shape, width: int, name: str = "generator"):
    """A generator of images or, on a backbone, of feature vectors."""
    if on_features(output_shape):
        return feature_generator(input_dim, int(output_shape[0]), width, name=name)
    return dcgan_generator(input_dim, output_shape, width, name=name)


__all__ = ["build_encoder", "dcgan_backbone", "dcgan_generator", "feature_generator", "feature_trunk", "generator",
           "InstanceBits", "mlp_head", "num_halvings", "on_features", "pair_discriminator", "tail_from_block",
           "trunk"]
