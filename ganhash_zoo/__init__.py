"""ganhash-zoo: GAN-based deep hashing methods on Keras 3, with pretrained weights.

    import ganhash_zoo
    hasher = ganhash_zoo.load("hashgan-cifar10-48bit")
    codes = hasher.encode(images)            # packed bits
    print(hasher.evaluate())                 # figures on the model's protocol

Keras and TensorFlow are imported only when a model is built or loaded.
"""

import os

# TensorFlow's C++ start-up lines (oneDNN, CUDA probes, grappler notes) are not the user's business; a
# TF_CPP_MIN_LOG_LEVEL set by the user wins
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .registry import info, list_models  # noqa: E402
from .zoo import load, load_run  # noqa: E402

__version__ = "0.1.0"
__all__ = ["info", "list_models", "load", "load_run", "__version__"]
