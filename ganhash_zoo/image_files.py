"""A user's image files -> arrays a model encodes: listing, decoding, and why a file was skipped.

Photos are turned upright by their EXIF orientation, 16-bit images are
scaled to 8 bits (not clipped), and a file is read only if it is a regular
file (a FIFO named ``*.png`` would block forever). A file that cannot be
read (broken, too large for Pillow's decompression-bomb guard, not an
image) is skipped with its reason, never fatal on its own.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .files import read_regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MAX_FILE_BYTES = 1 << 30  # larger files are skipped rather than read into memory


class UnreadableImage(Exception):
    """One file could not be read as an image; the message says why in words."""


def list_images(path: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files): a folder searched recursively in sorted order, or one file."""
    if path.is_dir():  # anything but a folder is listed: a FIFO or broken link is then skipped with its reason
        everything = sorted(p for p in path.rglob("*") if not p.is_dir())
    else:
        everything = [path]
    images = [p for p in everything if p.suffix.lower() in IMAGE_SUFFIXES]
    return images, [p for p in everything if p.suffix.lower() not in IMAGE_SUFFIXES]


def _to_8bit(im):
    """16- and 32-bit integer images scaled to 0..255 (Pillow's convert would clip them at 255)."""
    from PIL import Image

    array = np.asarray(im)
    top = 65535 if im.mode.startswith("I;16") or array.max(initial=0) > 255 else 255
    return Image.fromarray(np.round(array.astype(np.float64) * (255.0 / top)).astype(np.uint8), "L")


def read_image(path: Path, mode: str = "RGB") -> np.ndarray:
    """One image file as a uint8 array (H, W, 3) for ``mode="RGB"`` or (H, W, 1) for ``"L"``, upright."""
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        data = read_regular_file(path, limit=MAX_FILE_BYTES)
    except (OSError, ValueError) as error:
        raise UnreadableImage(f"cannot be read ({error})") from error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                    im = _to_8bit(im)
                array = np.asarray(im.convert(mode))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise UnreadableImage(f"too many pixels for Pillow's decompression-bomb guard ({error})") from error
    except UnidentifiedImageError as error:
        raise UnreadableImage("not an image Pillow can decode") from error
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's errors for truncated or malformed files
        raise UnreadableImage(f"broken image data ({error})") from error
    return array[..., None] if array.ndim == 2 else array
