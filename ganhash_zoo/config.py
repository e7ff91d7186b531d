"""``TrainConfig``: everything that decides a training run, shared by the CLI, recipes, runs, releases and cards.

Plain data (no Keras), so the registry can say how each planned model is trained.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields

from .datasets.catalogue import model_name
from .feature_cache import PIXELS
from .pretrained import BACKBONES, DEFAULT_BACKBONE

BACKBONE_CHOICES = (*BACKBONES, PIXELS)
# constructor arguments the run fills in itself, never from --option
RESERVED_OPTIONS = {"bits", "image_shape", "width", "seed", "num_classes", "generator"}
MAX_BITS = 1024  # longer codes than any hashing method uses; refusing more keeps a typo from allocating gigabytes

# run.json fields that must match to resume a run (the others may change between sessions)
ARCHITECTURE_FIELDS = ("method", "dataset", "protocol", "bits", "backbone", "width", "batch_size", "seed",
                       "max_unlabeled", "mixed_precision", "method_options")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; the CLI, recipes, results.json and cards share it."""

    method: str
    dataset: str
    protocol: str
    bits: int
    # a frozen pretrained backbone whose cached features the method learns from, or "dcgan": pixels, with the
    # from-scratch DCGAN trunk
    backbone: str = DEFAULT_BACKBONE
    epochs: int = 10
    batch_size: int = 128
    width: int = 64
    learning_rate: float = 2e-4
    seed: int = 0
    mixed_precision: str | None = None
    max_unlabeled: int | None = None
    gan_epochs: int | None = None
    eval_every: int = 2
    # constructor arguments of the method beyond the shared ones, e.g. {"features": "patches"} for USPAH
    method_options: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("bits", "epochs", "batch_size", "width", "eval_every", "max_unlabeled", "gan_epochs"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.bits > MAX_BITS:
            raise ValueError(f"bits must be at most {MAX_BITS}, got {self.bits}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate}")
        reserved = sorted(RESERVED_OPTIONS & set(self.method_options))
        if reserved:
            raise ValueError(f"--option {reserved[0]}=... sets what the run decides itself (from --bits, --width, "
                             "--seed and the dataset); set it there, or drop the option")
        if self.backbone not in BACKBONE_CHOICES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONE_CHOICES)}, got {self.backbone!r}")
        if self.mixed_precision not in (None, "bfloat16", "float16"):
            raise ValueError(f"mixed_precision must be bfloat16, float16 or None, got {self.mixed_precision!r}")

    @property
    def name(self) -> str:
        """The registry name this run would be released under."""
        return model_name(self.method, self.dataset, self.bits)

    def cli_args(self) -> list[str]:
        """The ``train`` arguments that rebuild this config (defaults of optional settings left out)."""
        args = [self.method, "--dataset", self.dataset, "--protocol", self.protocol, "--bits", str(self.bits),
                "--backbone", self.backbone, "--epochs", str(self.epochs), "--batch-size", str(self.batch_size),
                "--width", str(self.width),
                "--learning-rate", f"{self.learning_rate:g}"]
        for flag, value in (("--gan-epochs", self.gan_epochs), ("--max-unlabeled", self.max_unlabeled),
                            ("--mixed-precision", self.mixed_precision)):
            if value:
                args += [flag, str(value)]
        for key, value in sorted(self.method_options.items()):
            args += ["--option", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        return args + ["--seed", str(self.seed)]

    def command(self) -> str:
        """The ``scripts/train.py`` line that reruns this training (data and output folders left to the user)."""
        return " ".join(["python scripts/train.py", *self.cli_args()])

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def parse_option(text: str) -> tuple[str, object]:
        """``KEY=VALUE`` from the command line: VALUE read as JSON (numbers, true/false), else as a string."""
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"--option takes KEY=VALUE, got {text!r}")
        try:
            return key, json.loads(value)
        except json.JSONDecodeError:
            return key, value

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
