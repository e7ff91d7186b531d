"""The five GAN hashing methods, each a ``keras.Model`` trained with ``fit``.

``METHODS`` maps a method name to its class; ``LEARNING`` says what data
``fit`` takes: ``"unsupervised"`` (images), ``"supervised"`` (images,
labels) or ``"semi-supervised"`` (SemiSupervisedBatches, or images, labels).
"""

from .base import GANHasher
from .data import SemiSupervisedBatches, ShuffledBatches, fit_inputs
from .dshgan import DSHGAN
from .fakereg import FakeReg, FakeRegGAN
from .hashgan import HashGAN
from .ssah import SSAH
from .uspah import USPAH

METHODS = {"hashgan": HashGAN, "uspah": USPAH, "dshgan": DSHGAN, "fakereg": FakeReg, "ssah": SSAH}
LEARNING = {name: cls.learning for name, cls in METHODS.items()}

__all__ = ["DSHGAN", "FakeReg", "FakeRegGAN", "GANHasher", "HashGAN", "LEARNING", "METHODS", "SSAH",
           "SemiSupervisedBatches", "ShuffledBatches", "USPAH", "fit_inputs"]
