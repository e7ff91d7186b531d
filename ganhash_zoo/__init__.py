"""ganhash-zoo: GAN-based deep hashing methods on Keras 3, with pretrained weights.

    import ganhash_zoo
    hasher = ganhash_zoo.load("hashgan-cifar10-48bit")
    codes = hasher.encode(images)            # packed bits
    print(hasher.evaluate())                 # figures on the model's protocol

Keras and TensorFlow are imported only when a model is built or loaded.
"""

from .registry import info, list_models
from .zoo import load, load_run

__version__ = "0.1.0"
__all__ = ["info", "list_models", "load", "load_run", "__version__"]
