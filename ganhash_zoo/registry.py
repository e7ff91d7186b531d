"""The model registry: every planned model, what is released, and whether its files are intact.

Names are ``{method}-{dataset}-{bits}bit``. The registry lists every planned
model (each method at 16/32/48/64 bits on CIFAR-10, 48 bits on
Fashion-MNIST); ``released.json`` adds, for the models trained so far, their
weight files with sha256, Hub revision and measured figures. This is the
bottom layer of model management: export, the Hub transport, loading
(zoo.py), cards and releases all build on it, and it imports none of them.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import papers
from .config import TrainConfig
from .datasets.catalogue import IMAGE_SHAPES, model_name
from .datasets.protocols import get_protocol
from .files import read_regular_file
from .recipes import recipe

WEIGHTS_ENV = "GANHASH_ZOO_WEIGHTS"
HUB_ORG = "ganhash-zoo"
CIFAR10_BITS = (16, 32, 48, 64)
FASHION_BITS = (48,)


class UnknownModelError(KeyError):
    def __str__(self):  # KeyError would quote the message
        return str(self.args[0])


class WeightsNotAvailableError(RuntimeError):
    """The model is planned but its weights are not released (or not reachable)."""


class WeightIntegrityError(RuntimeError):
    """A weight file's sha256 differs from the registry: corrupt or tampered."""


@dataclass
class ModelEntry:
    name: str
    method: str
    dataset: str
    bits: int
    protocol: str
    hub_repo: str
    revision: str | None = None
    seed: int | None = None
    files: dict = field(default_factory=dict)  # filename -> sha256
    metrics: dict = field(default_factory=dict)
    baselines: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    @property
    def released(self) -> bool:
        return bool(self.files)

    @property
    def image_shape(self) -> tuple:
        return IMAGE_SHAPES[self.dataset]

    @property
    def paper(self) -> dict:
        return papers.METHODS[self.method]

    @property
    def recipe(self) -> TrainConfig:
        """How the zoo trains (or trained) this model: ganhash_zoo/recipes.py."""
        return recipe(self.method, self.dataset, self.protocol, self.bits)

    def train_command(self, data_dir: str | None = None) -> str:
        """The command that trains this model with its recipe (the one it was released with) into runs/NAME."""
        data = f" --data-dir {data_dir}" if data_dir else ""
        return f"{self.training.get('command') or self.recipe.command()}{data} --out runs/{self.name}"

    def to_dict(self) -> dict:
        paper = self.paper
        return {
            "name": self.name, "method": self.method, "dataset": self.dataset, "bits": self.bits,
            "protocol": self.protocol, "paper": f"{paper['authors']}, \"{paper['title']}\", {paper['venue']}",
            "learning": paper["learning"], "released": self.released, "hub_repo": self.hub_repo,
            "revision": self.revision, "seed": self.seed, "files": self.files, "metrics": self.metrics,
            "baselines": self.baselines, "training": self.training, "train_command": self.train_command(),
        }


def _planned() -> dict[str, ModelEntry]:
    entries = {}
    for method, meta in papers.METHODS.items():
        for dataset, bit_list, protocol in (
            ("cifar10", CIFAR10_BITS, meta["protocol"]),
            ("fashion_mnist", FASHION_BITS, papers.FASHION_PROTOCOL),
        ):
            for bits in bit_list:
                name = model_name(method, dataset, bits)
                entries[name] = ModelEntry(name, method, dataset, bits, protocol, f"{HUB_ORG}/{name}")
    return entries


def released_file() -> Path:
    return Path(str(resources.files(__package__) / "released.json"))


def registry() -> dict[str, ModelEntry]:
    """All planned models, with release data merged in from released.json."""
    entries = _planned()
    path = released_file()
    released = json.loads(path.read_text()) if path.exists() else {}
    for name, data in released.items():
        if name not in entries:
            raise ValueError(f"released.json names {name!r}, which is not a planned model")
        for key, value in data.items():
            setattr(entries[name], key, value)
    return entries


def list_models(pattern: str = "*", released_only: bool = False) -> list[str]:
    """Model names matching a glob ``pattern`` (e.g. ``"hashgan-*"``)."""
    return sorted(n for n, e in registry().items() if fnmatch.fnmatch(n, pattern) and (e.released or not released_only))


def get_entry(name: str) -> ModelEntry:
    if not isinstance(name, str):
        raise UnknownModelError(f"a model name is a string such as 'hashgan-cifar10-48bit', got {name!r}; "
                                "ganhash_zoo.list_models() lists every name.")
    entries = registry()
    if name not in entries:
        close = difflib.get_close_matches(name, entries, n=4, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}.{hint} `ganhash-zoo list` (ganhash_zoo.list_models() in "
                                "Python) lists every name.")
    return entries[name]


def info(name: str) -> dict:
    """Everything the registry knows about one model, as plain data."""
    return get_entry(name).to_dict()


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_verified_files(entry: ModelEntry, folder: Path) -> dict[str, bytes]:
    """The bytes of every registered file in ``folder``, each checked against its sha256: the caller
    parses these bytes, never the files again. Raises unless every file is there, regular and intact."""
    files = {}
    for filename, expected in entry.files.items():
        path = folder / filename
        try:
            data = read_regular_file(path)
        except FileNotFoundError:
            raise WeightsNotAvailableError(f"{entry.name}: {path} is missing") from None
        except (OSError, ValueError) as error:
            raise WeightIntegrityError(f"{entry.name}: {error}; it was not loaded") from error
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            remedy = ("move it aside and load again to fetch a fresh copy from the Hub" if entry.revision else
                      "this model is not on the Hub yet, so restore the file from the ganhash-zoo repository "
                      f"(git checkout -- weights/{entry.name}) or retrain it")
            raise WeightIntegrityError(
                f"{path} has sha256 {actual}, but the registry expects {expected} for {entry.name}: "
                f"the file is corrupt or was modified. It was not loaded and has not been touched; {remedy}."
            )
        files[filename] = data
    return files


def bundled_weights_dir() -> Path:
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "weights"


BAR_METRICS = ("precision@r2",)  # judged besides the protocol's headline mAP
# floors against collapsed codes, as fractions of ITQ's figure on the same inputs and bits (ITQ's codes
# spread over the whole cube, so the floors scale with the bit length); chosen from the measurements in
# the README's "Release bar"
COLLAPSE_FLOORS = {"distinct_codes": 0.25, "copy_recall@10": 0.05}
MIN_BIT_ENTROPY = 0.9  # mean binary entropy of the bits over the database, in bits


def quality_shortfalls(results: dict) -> list[str]:
    """Why a model may not be released: each part of the release bar it misses; empty when it may be.

    The bar: beat ITQ fitted on the same inputs (a backbone's features, or pixels) at the same bit
    length on the protocol's headline mAP (mAP@1000 on the 59k protocols, mAP@54000 on cifar10-54k)
    and on precision within Hamming radius 2; codes that have not collapsed (distinct codes and
    near-duplicate recall at least the COLLAPSE_FLOORS share of ITQ's, bits' mean entropy at least
    MIN_BIT_ENTROPY); and, where the results hold the supervised ``linear-ce`` baseline, a headline
    mAP above it. ``results`` holds ``protocol``, ``metrics`` and ``baselines``.
    """
    ours, itq = results["metrics"], results["baselines"]["itq"]
    headline = get_protocol(results["protocol"]).headline_metric
    shortfalls = [f"{metric} {ours[metric]:.4f} <= ITQ {itq[metric]:.4f}"
                  for metric in (headline, *BAR_METRICS) if not ours[metric] > itq[metric]]
    for metric, share in COLLAPSE_FLOORS.items():
        if metric in ours and metric in itq and ours[metric] < share * itq[metric]:
            shortfalls.append(f"{metric} {ours[metric]:g} < {share:g} x ITQ's {itq[metric]:g}")
    if "bit_entropy" in ours and ours["bit_entropy"] < MIN_BIT_ENTROPY:
        shortfalls.append(f"bit_entropy {ours['bit_entropy']:.3f} < {MIN_BIT_ENTROPY}")
    linear = results["baselines"].get("linear-ce")
    if linear and not ours[headline] > linear[headline]:
        shortfalls.append(f"{headline} {ours[headline]:.4f} <= linear-ce {linear[headline]:.4f}")
    return shortfalls
