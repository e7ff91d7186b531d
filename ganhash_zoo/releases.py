"""Turn a finished training run into a released model: bundled weights plus a registry entry.

``release_run`` copies a run's exported folder into ``weights/NAME/`` and
records in ``released.json`` the file hashes and the figures the run
measured (the protocol's queries vs its database, with LSH and ITQ fitted on
the same training images). ``record_revision`` pins the Hub commit once the
folder is published. Maintainer tooling: ``scripts/release.py`` and
``scripts/publish.py`` call it from a source checkout.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .export import MODEL_FILE
from .registry import get_entry, quality_shortfalls, registry
from .files import atomic_write_text, read_regular_file, write_output

WEIGHTS_BUDGET_BYTES = 40 * 2**20  # weights/ ships in the repository and its wheel: every model's encoder fits
TRAINING_KEYS = ("command", "backbone", "epochs", "batch_size", "width", "learning_rate", "max_unlabeled", "gan_epochs",
                 "method_options", "mixed_precision", "backend", "hardware", "train_images", "images_seen",
                 "train_seconds", "images_per_second", "split", "validation_curve")


class BelowBarError(ValueError):
    """A finished run that does not meet the release bar; ``shortfalls`` says where."""

    def __init__(self, name: str, shortfalls: list[str]):
        super().__init__(f"{name} is below the release bar: {'; '.join(shortfalls)}")
        self.shortfalls = shortfalls


def _write_json_atomic(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def read_released(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def shipped_files(name: str, source: Path, files: dict, weights_dir: Path, released: dict) -> dict:
    """The run's files that weights/ can take: the full GAN only if, after it, the encoders of every
    planned model not yet released still fit in the budget (each estimated at this encoder's size)."""
    target = weights_dir / name
    others = folder_bytes(weights_dir) - (folder_bytes(target) if target.exists() else 0) if weights_dir.exists() else 0
    size = {f: (source / f).stat().st_size for f in files}
    encoder_only = sum(n for f, n in size.items() if f != MODEL_FILE)
    to_come = len([n for n in registry() if n not in released and n != name])
    files = dict(files)
    if others + sum(size.values()) + to_come * encoder_only > WEIGHTS_BUDGET_BYTES:
        files.pop(MODEL_FILE, None)  # the encoder is what users come for; the full GAN goes first
    if others + sum(size[f] for f in files) > WEIGHTS_BUDGET_BYTES:
        raise ValueError(f"releasing {name} would take weights/ past {WEIGHTS_BUDGET_BYTES >> 20} MiB even "
                         "without the full GAN; export it at a smaller width")
    return files


def _is_plain_name(name) -> bool:
    """A bare file name: no folder part, no '..', nothing hidden."""
    return isinstance(name, str) and name == Path(name).name and name not in ("", ".", "..") and not name.startswith(".")


def release_run(run_dir, weights_dir, released_path, overwrite: bool = False, require_bar: bool = True) -> dict:
    """Copy ``run_dir/encoder`` to ``weights_dir/NAME`` and add NAME to ``released_path``; returns the entry.

    A run below the quality bar (:func:`quality_shortfalls`) is refused unless ``require_bar`` is False.
    """
    run_dir, weights_dir, released_path = Path(run_dir), Path(weights_dir), Path(released_path)
    results_file = run_dir / "results.json"
    if not results_file.exists():
        raise FileNotFoundError(f"{results_file} not found: the run has not finished (scripts/train.py writes it last)")
    results = json.loads(results_file.read_text())
    name = results["name"]
    entry = get_entry(name)  # only planned models are released
    if results["protocol"] != entry.protocol:
        raise ValueError(f"{name} is released under {entry.protocol}, but the run used {results['protocol']}")
    shortfalls = quality_shortfalls(results) if require_bar else []
    if shortfalls:
        raise BelowBarError(name, shortfalls)
    released = read_released(released_path)
    target = weights_dir / name
    if (name in released or target.exists()) and not overwrite:
        raise FileExistsError(f"{name} is already released ({target}); pass overwrite=True (--overwrite) to replace it")

    source = run_dir / "encoder"
    for filename in results["files"]:
        if not _is_plain_name(filename) or not (source / filename).is_file() or (source / filename).is_symlink():
            raise ValueError(f"{results_file} names {filename!r}, which is not a file of {source}: only plain file "
                             "names inside the run's export folder are released")
    files = shipped_files(name, source, results["files"], weights_dir, released)
    contents = {filename: read_regular_file(source / filename) for filename in files}  # read once, verified, copied
    for filename, data in contents.items():
        if hashlib.sha256(data).hexdigest() != files[filename]:
            raise ValueError(f"{source / filename} changed after the run wrote results.json; retrain or re-export")

    def write(staging: Path):
        for filename, data in contents.items():
            (staging / filename).write_bytes(data)

    weights_dir.mkdir(parents=True, exist_ok=True)
    write_output(target, write, folder=True)

    released[name] = {
        "files": files,
        "seed": results["seed"],
        "revision": None,  # set by scripts/publish.py once the folder is on the Hub
        "metrics": results["metrics"],
        "baselines": results["baselines"],
        "training": {key: results[key] for key in TRAINING_KEYS if key in results},
    }
    _write_json_atomic(released_path, released)
    return released[name]


def record_revision(released_path, name: str, revision: str, hub_repo: str) -> None:
    """Pin ``name`` to the Hub repo and commit its files were published in."""
    released_path = Path(released_path)
    released = read_released(released_path)
    if name not in released:
        raise KeyError(f"{name} is not in {released_path}")
    released[name].update(revision=revision, hub_repo=hub_repo)
    _write_json_atomic(released_path, released)
