"""Writing outputs so that a mistake or an interruption never loses earlier work.

Commands check their output paths before doing any work (:func:`check_new_output`),
and the writers check them again with the same function; files are replaced in one
step (:func:`atomic_write_text`), so a killed process leaves the old file or the new.
"""

from __future__ import annotations

import os
from pathlib import Path


def check_new_output(path, overwrite: bool) -> Path:
    """Refuse to replace an existing ``path`` unless ``overwrite``, and a path whose folder is missing."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite (overwrite=True in Python) to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist; create it first")
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so an interruption never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
