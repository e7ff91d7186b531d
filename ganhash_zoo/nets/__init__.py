"""Building blocks shared by the methods: trunks, heads, generators, discriminators.

Every network takes and produces pixels in [0, 255] (float), so real images,
generated images and user input travel through one convention; the scaling
to [-1, 1] is the first layer of each trunk and the last of each generator.
"""

from .backbones import build_encoder, dcgan_backbone, num_halvings
from .discriminators import mlp_head, pair_discriminator
from .generators import dcgan_generator

__all__ = ["build_encoder", "dcgan_backbone", "dcgan_generator", "mlp_head", "num_halvings", "pair_discriminator"]
