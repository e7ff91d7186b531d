"""Datasets as decoded uint8 arrays, and the shipped retrieval protocols."""

from .loading import DATA_ENV, CACHE_ENV, load_dataset, load_image_folder
from .protocols import PROTOCOLS, Split, get_protocol, load_split, make_split
from .sources import DatasetError, ImageData

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "DatasetError",
    "ImageData",
    "PROTOCOLS",
    "Split",
    "get_protocol",
    "load_dataset",
    "load_image_folder",
    "load_protocol",
    "load_split",
    "make_split",
]


def load_protocol(name: str, data_dir=None, source: str = "auto"):
    """(data, split) for a protocol name such as ``cifar10-59k``."""
    spec = get_protocol(name)
    data = load_dataset(spec.dataset, data_dir=data_dir, source=source)
    return data, load_split(name, data)
