"""Writing outputs so that a mistake or an interruption never loses earlier work.

Commands check their output paths before doing any work (:func:`check_new_output`),
and the writers check them again. An output is written under a staging name unique
to the process, next to it, and moved into place in one step (:func:`write_output`);
an existing output is replaced only when asked to, only when it is recognisably
this project's output, and never when it holds the current folder or an input.
A killed process leaves the old output or the new one (an old folder being
replaced survives under a ``.NAME.old.*`` name until the new one is in place).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path


class OutputError(ValueError):
    """An output path that may not be written or replaced; the message says why and what to do."""


def _contains(folder: Path, other: Path) -> bool:
    folder, other = folder.resolve(), other.resolve()
    return folder == other or folder in other.parents


def check_new_output(path, overwrite: bool, is_ours=None, inputs=()) -> Path:
    """Refuse an output path that would lose something, before any work is done.

    An existing ``path`` needs ``overwrite``, and then must pass ``is_ours`` (recognisably this
    project's output of that kind) and must not be, or hold, the current folder or any of ``inputs``.
    Symbolic links and missing parent folders are refused.
    """
    path = Path(path)
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link; name the real output path")
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass --overwrite (overwrite=True in Python) to replace it")
        for protected in (Path.cwd(), *map(Path, inputs)):
            if _contains(path, protected):
                raise OutputError(f"{path} holds {protected}: replacing it would delete it; choose another output")
        if is_ours is not None and not is_ours(path):
            raise OutputError(f"{path} exists and is not an output of this kind that --overwrite may replace; "
                              "choose another name or move it aside")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist; create it first")
    return path


def write_output(path, write, folder: bool = False) -> Path:
    """Write ``path`` through ``write(staging_path)`` under a name unique to this process, then move it
    into place in one step (a folder: the old one is moved aside first and removed after)."""
    path = Path(path)
    if folder:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes[-1:]),
                                        dir=path.parent)
        os.close(handle)
        staging = Path(name)
    try:
        write(staging)
        os.chmod(staging, (0o777 if folder else 0o666) & ~_umask())  # what a plain open() would have given
        if folder and path.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, aside / path.name)
            os.replace(staging, path)
            shutil.rmtree(aside)
        else:
            os.replace(staging, path)
    except OSError as error:
        raise OutputError(f"could not write {path}: {error.strerror or error}; nothing was replaced") from error
    finally:
        if staging.exists():
            shutil.rmtree(staging) if staging.is_dir() else staging.unlink()
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so an interruption never leaves half a file."""
    write_output(path, lambda staging: staging.write_text(text))


def read_regular_file(path, limit: int | None = None) -> bytes:
    """The bytes of ``path``, refusing anything but a regular file (a FIFO or device would block or never end).

    The file is opened without blocking and checked on the open descriptor, so a file swapped for a
    FIFO between a check and the read cannot hang the reader; callers hash and parse these same bytes.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if limit is not None and info.st_size > limit:
            raise ValueError(f"{path} holds {info.st_size} bytes, more than the {limit} expected")
        return f.read()
