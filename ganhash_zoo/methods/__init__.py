"""The five GAN hashing methods, each a ``keras.Model`` trained with ``fit``.

Each method module registers its class with ``@register_method``; importing
them here fills ``METHODS`` (method name -> class). A class carries what
training, the CLI, the benchmark and the tests need to know about it:
``learning`` (what ``fit`` takes: ``"unsupervised"`` images,
``"supervised"`` images and labels, ``"semi-supervised"``
SemiSupervisedBatches or images and labels), ``needs_labels()``,
``first_stage`` (a model fitted before it), and the ``prepare`` and
``fit_inputs`` hooks.
"""

from . import hashgan, uspah, dshgan, fakereg, ssah  # noqa: F401  each registers its method (paper order)
from .base import METHODS, AdversarialModel, GANHasher, register_method
from .data import SemiSupervisedBatches, ShuffledBatches, fit_inputs
from .gradients import TrainingBackendError
from .dshgan import DSHGAN
from .fakereg import FakeReg, FakeRegGAN
from .hashgan import HashGAN
from .ssah import SSAH
from .uspah import USPAH

__all__ = ["AdversarialModel", "DSHGAN", "FakeReg", "FakeRegGAN", "GANHasher", "HashGAN", "METHODS", "SSAH",
           "SemiSupervisedBatches", "ShuffledBatches", "TrainingBackendError", "USPAH", "fit_inputs",
           "register_method"]
