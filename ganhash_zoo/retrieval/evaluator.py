"""Evaluate any encoder on a protocol split: encode, rank, summarise, plot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from ..datasets import get_protocol, load_protocol
from ..files import check_new_output, write_output
from .code_quality import code_spread, near_duplicate_figures
from .codes import PackedCodes, pack
from .index import HammingIndex
from .metrics import RankingMetrics, ap_of_top_k, evaluate_ranking
from .plots import plot_curves, plot_retrieval_grid

Encoder = Callable[[np.ndarray], "np.ndarray | PackedCodes"]


def encode_images(encoder, images: np.ndarray, batch_size: int = 512, desc: str = "encoding") -> PackedCodes:
    """Run ``encoder`` over ``images`` in batches and pack the result.

    ``encoder`` is a Keras model (images -> relaxed codes), an object with an
    ``encode`` method, or any function images -> codes / PackedCodes.
    """
    fn = getattr(encoder, "encode", None) or encoder
    if hasattr(encoder, "predict_on_batch") and not hasattr(encoder, "encode"):
        fn = lambda batch: np.asarray(encoder.predict_on_batch(batch))  # noqa: E731
    parts, bits = [], None
    with tqdm(total=len(images), desc=desc, unit="img", leave=False, disable=None) as bar:
        for start in range(0, len(images), batch_size):
            out = fn(np.asarray(images[start : start + batch_size]))
            codes = out if isinstance(out, PackedCodes) else pack(np.asarray(out, dtype=np.float32))
            bits = codes.bits
            parts.append(codes.packed)
            bar.update(len(codes))
    return PackedCodes(np.concatenate(parts), bits)


@dataclass
class RetrievalResult:
    """Figures of one evaluation. ``print`` it, ``save_json`` it, ``plot`` it."""

    name: str
    protocol: str
    bits: int
    n_queries: int
    n_database: int
    metrics: dict
    curves: dict
    top_indices: np.ndarray = field(repr=False)

    def __str__(self):
        width = max(len(k) for k in self.metrics)
        lines = [f"{self.name} | {self.protocol} | {self.bits} bits | "
                 f"{self.n_queries} queries x {self.n_database} database"]
        lines += [f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}"
                  for k, v in self.metrics.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "protocol": self.protocol,
            "bits": self.bits,
            "n_queries": self.n_queries,
            "n_database": self.n_database,
            "metrics": self.metrics,
            "curves": self.curves,
        }

    def save_json(self, path, overwrite: bool = False) -> None:
        """Write the figures to ``path``; an existing file is replaced only with ``overwrite``."""
        check_new_output(path, overwrite)
        write_output(path, lambda staging: staging.write_text(json.dumps(self.to_dict(), indent=2)))

    def plot(self, folder, query_images=None, db_images=None, query_labels=None, db_labels=None, n_rows=6):
        """Write pr_curve.png, precision_at_n.png and (given images) retrieval_grid.png."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = plot_curves(self, folder)
        if query_images is not None:
            written.append(plot_retrieval_grid(
                self, folder / "retrieval_grid.png", query_images, db_images, query_labels, db_labels, n_rows
            ))
        return written


def summarise(name, protocol, ranking: RankingMetrics, bits, radius: int = 2) -> RetrievalResult:
    """Mean figures and curves from per-query metric arrays."""
    metrics = {}
    for cutoff, ap in ranking.ap.items():
        metrics[f"mAP@{'all' if cutoff is None else cutoff}"] = float(ap.mean())
    for cutoff, ap in ranking.tie_aware_ap.items():
        metrics[f"tie_aware_mAP@{'all' if cutoff is None else cutoff}"] = float(ap.mean())
    r = min(radius, bits)
    metrics[f"precision@r{radius}"] = float(ranking.precision_at_radius[:, r].mean())
    metrics[f"empty_queries@r{radius}"] = int((ranking.retrieved_at_radius[:, r] == 0).sum())
    curves = {
        "radius": list(range(bits + 1)),
        "precision_at_radius": ranking.precision_at_radius.mean(0).tolist(),
        "recall_at_radius": ranking.recall_at_radius.mean(0).tolist(),
        "n": ranking.n_points.tolist(),
        "precision_at_n": ranking.precision_at_n.mean(0).tolist(),
        "recall_at_n": ranking.recall_at_n.mean(0).tolist(),
    }
    return RetrievalResult(
        name, protocol, bits, len(ranking.precision_at_n), int(ranking.n_points[-1]), metrics, curves,
        ranking.top_indices,
    )


class Evaluator:
    """Retrieval evaluation of encoders on fixed query / database sets.

    ``Evaluator.for_protocol("cifar10-59k")`` loads the data and shipped split;
    ``Evaluator(query_images, query_labels, db_images, db_labels)`` takes any
    arrays (labels 1-D class ids, or 2-D multi-hot where relevant means
    sharing at least one label). ``evaluate_codes`` ranks codes computed
    elsewhere (e.g. by a baseline or a saved run) without re-encoding.

    Every evaluation also reports how spread the database's codes are; given
    ``copies`` (each query's near-duplicate, as the same kind of input as the
    queries), the near-duplicate figures too (retrieval/code_quality.py).
    """

    def __init__(self, query_images, query_labels, db_images, db_labels, cutoffs=(None, 1000),
                 protocol: str = "custom", radius: int = 2, batch_size: int = 512, copies=None):
        if len(query_images) != len(query_labels) or len(db_images) != len(db_labels):
            raise ValueError("images and labels must have the same length")
        if copies is not None and len(copies) != len(query_images):
            raise ValueError(f"{len(copies)} copies for {len(query_images)} queries")
        self.copies = copies
        self.pictures = (query_images, db_images)  # what plots show: the images, where the inputs are features
        self.query_images, self.query_labels = query_images, np.asarray(query_labels)
        self.db_images, self.db_labels = db_images, np.asarray(db_labels)
        self.cutoffs, self.protocol, self.radius, self.batch_size = tuple(cutoffs), protocol, radius, batch_size

    @classmethod
    def from_split(cls, data, split, **kwargs) -> "Evaluator":
        """Queries against database of a loaded protocol split, at its mAP cut-offs."""
        kwargs.setdefault("cutoffs", split.map_cutoffs)
        kwargs.setdefault("protocol", split.name)
        kwargs.setdefault("copies", data.copies_of(split.query))
        evaluator = cls(data.images[split.query], data.labels[split.query],
                        data.images[split.database], data.labels[split.database], **kwargs)
        pixels = getattr(data, "pixels", data.images)
        evaluator.pictures = (pixels[split.query], pixels[split.database])
        return evaluator

    @classmethod
    def validation(cls, data, split) -> "Evaluator":
        """Validation queries against the labelled training pool: what recipes are chosen on.

        Its first cut-off is the headline's, scaled to the smaller database: mAP@1000 of 59,000
        images ranks the top 1.7%, so on 4,500 it reads mAP@76 (a code that orders the whole
        pool well can still lose at the top, where ITQ is strong); mAP over all stays over all.
        """
        headline, scale = get_protocol(split.name).headline_cutoff, len(split.train) / len(split.database)
        # the headline first: a run's log records the first cut-off
        ordered = sorted(split.map_cutoffs, key=lambda cutoff: cutoff != headline)
        cutoffs = [None if c is None else max(1, round(c * scale)) for c in ordered]
        return cls(data.images[split.val], data.labels[split.val], data.images[split.train],
                   data.labels[split.train], cutoffs=cutoffs, protocol=f"{split.name}/val",
                   copies=data.copies_of(split.val))

    @classmethod
    def for_protocol(cls, protocol: str, data_dir=None, source: str = "auto", **kwargs) -> "Evaluator":
        return cls.from_split(*load_protocol(protocol, data_dir=data_dir, source=source), **kwargs)

    def evaluate_codes(self, query_codes: PackedCodes, db_codes: PackedCodes, name: str = "codes",
                       copy_codes: PackedCodes | None = None) -> RetrievalResult:
        with tqdm(total=len(query_codes), desc="ranking", unit="query", leave=False, disable=None) as bar:
            ranking = evaluate_ranking(
                query_codes, db_codes, self.query_labels, self.db_labels, cutoffs=self.cutoffs, progress=bar.update
            )
        result = summarise(name, self.protocol, ranking, db_codes.bits, self.radius)
        result.metrics.update(code_spread(db_codes))
        if copy_codes is not None:
            result.metrics.update(near_duplicate_figures(query_codes, copy_codes, db_codes))
        return result

    def map_at_k_of_codes(self, query_codes: PackedCodes, db_codes: PackedCodes, k: int) -> float:
        """mAP@k alone, from a FAISS top-k search instead of a full ranking of the database.

        Equal to ``evaluate_codes(...).metrics[f"mAP@{k}"]`` (same index-order ties); for small k on a
        large database it skips the full sort and the distance histograms that the other figures need.
        """
        k = min(int(k), len(db_codes))
        rows, _ = HammingIndex.build(db_codes).search(query_codes, k)
        return float(ap_of_top_k(rows, self.query_labels, self.db_labels).mean())

    def encode(self, encoder: Encoder) -> tuple[PackedCodes, PackedCodes]:
        """(query codes, database codes) of ``encoder``."""
        db_codes = encode_images(encoder, self.db_images, self.batch_size, "encoding database")
        query_codes = encode_images(encoder, self.query_images, self.batch_size, "encoding queries")
        return query_codes, db_codes

    def map_at_k(self, encoder: Encoder, k: int) -> float:
        """mAP@k of an encoder on this evaluator's queries and database (see :meth:`map_at_k_of_codes`)."""
        return self.map_at_k_of_codes(*self.encode(encoder), k)

    def evaluate(self, encoder: Encoder, name: str | None = None) -> RetrievalResult:
        name = name or getattr(encoder, "name", None) or type(encoder).__name__
        copy_codes = None if self.copies is None else encode_images(encoder, self.copies, self.batch_size,
                                                                       "encoding copies")
        return self.evaluate_codes(*self.encode(encoder), name, copy_codes)

    def plot(self, result: RetrievalResult, folder, n_rows: int = 6):
        return result.plot(folder, *self.pictures, self.query_labels, self.db_labels, n_rows)
