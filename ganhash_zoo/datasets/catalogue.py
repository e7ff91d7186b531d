"""Everything the package knows about each dataset, in one place, and the one model-name format.

Plain data (no Keras, no arrays): loading, the registry, training, cards and
the benchmarks read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # our name, also the Keras-free key everywhere: "cifar10", "fashion_mnist"
    display_name: str
    image_shape: tuple
    class_names: tuple
    tfds_name: str
    hub_dataset_id: str  # the Hugging Face dataset a card links to
    local_names: tuple  # what to look for inside a data folder, in order
    system_dirs: tuple = ()  # distribution packages that ship a copy
    measured_copy: str = ""  # which copy the shipped splits and figures come from (cards say it)
    verified_pixels: tuple = ()  # (sha256 of the decoded images in canonical order, the copy it belongs to)
    download_host: str = ""  # where tensorflow-datasets downloads it from


DATASETS = {
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10", (32, 32, 3),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "cifar10", "uoft-cs/cifar10", ("cifar10-jpeg.tar.gz", "cifar10.tar.gz", "cifar10", "cifar10-jpeg"),
        measured_copy="CIFAR-10, JPEG copy (cifar10-jpeg.tar.gz; JPEG-compressed images, so figures may differ "
                      "slightly from the PNG/pickle original)",
        verified_pixels=(("aaf6162ad480776ee3eb14ed0ed50490f1eda7744e5c0c9a6cb118a510d584b7", "cifar10-jpeg.tar.gz"),),
        download_host="www.cs.toronto.edu",
    ),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", "Fashion-MNIST", (28, 28, 1),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        "fashion_mnist", "zalando-datasets/fashion_mnist", ("fashion-mnist", "fashion_mnist"),
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),  # Debian's dataset-fashion-mnist
        measured_copy="Fashion-MNIST (original IDX files)",
        verified_pixels=(("0fbbfcb392782b3b702472ead3688778e1509e8cf40f5c24d9d3303618b193ab", "the IDX files"),),
        download_host="fashion-mnist.s3-website.eu-central-1.amazonaws.com",
    ),
}
IMAGE_SHAPES = {name: info.image_shape for name, info in DATASETS.items()}


def model_name(method: str, dataset: str, bits: int) -> str:
    """The registry name of a model: ``{method}-{dataset with dashes}-{bits}bit``."""
    return f"{method}-{dataset.replace('_', '-')}-{int(bits)}bit"
