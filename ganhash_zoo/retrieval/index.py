"""A persistent Hamming index over packed codes: FAISS binary indexes plus your ids and the model's identity.

FAISS (``faiss-cpu``) does the scanning, and a compiled prefix table the
small-radius probes of ``kind="hash"``; this module adds what a collection
of image codes needs around them:

* ids of any kind (file paths or integers) next to FAISS's row numbers;
* results ordered by (Hamming distance, insertion order), the evaluator's
  tie convention, so search and evaluation agree (FAISS's flat search
  already orders ties by row; range results are sorted here);
* the model name, bit count and encoder sha256 saved with the index, so an
  index is never queried with another model's codes;
* ``kind="flat"`` (exact scan, the default) or ``kind="hash"``: the same
  flat codes plus a :class:`PrefixTable` for small-radius queries on large
  collections, exact, about 3.3 bytes a code at 1M codes. The table is
  derived data, built when first queried after ``add`` or ``load``, never
  saved.

A saved index is one folder: ``index.faiss``, ``meta.json`` and, when ids other
than the row numbers were given, ``ids.npy``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..files import check_new_output, write_output
from .codes import PackedCodes
from .prefix_table import PrefixTable

INDEX_FILE, IDS_FILE, META_FILE = "index.faiss", "ids.npy", "meta.json"
FORMAT_VERSION = 1
KINDS = ("flat", "hash")
# kind "hash" probes its prefix table while the prefixes within the radius are under this share of all, and
# scans otherwise. On 1M 64-bit codes and 2 cores, against the flat range search, the table took 0.5-0.7x
# the time at radius 4 (3.8% of the prefixes probed) and 1.1-2.0x at radius 5 (10.5%), in two runs of
# python scripts/bench_search.py --sizes 1000000 --radii 4 5
MAX_PROBED_FRACTION = 1 / 16


def is_saved_index(folder: Path) -> bool:
    """A folder that holds a saved index and nothing else (what ``save(overwrite=True)`` may replace)."""
    return folder.is_dir() and (folder / META_FILE).is_file() and set(os.listdir(folder)) <= {
        INDEX_FILE, META_FILE, IDS_FILE}


class IndexMismatchError(ValueError):
    """Codes or a model that do not belong to this index."""


def _faiss():
    try:
        import faiss
    except ImportError as error:  # a declared dependency; only a broken install lacks it
        raise ImportError("HammingIndex needs FAISS: pip install faiss-cpu") from error
    return faiss


def _flat_copy(flat):
    """A new IndexBinaryFlat holding ``flat``'s codes (so nothing points into an index about to be freed)."""
    copy = _faiss().IndexBinaryFlat(flat.d)
    copy.add(_faiss().vector_to_array(flat.xb).reshape(-1, flat.code_size))
    return copy


def sort_hits(query_of, distances, rows, n_rows: int, n_distances: int):
    """(rows, distances) of range-search hits ordered by (query, distance, row): the evaluator's ties."""
    query_of, distances, rows = (np.asarray(a, dtype=np.int64) for a in (query_of, distances, rows))
    if len(query_of) and (int(query_of[-1]) + 1) * n_distances * n_rows < 2**63:
        key = (query_of * n_distances + distances) * n_rows + rows  # one int64 sort: half a lexsort's time
        key.sort()
        return key % n_rows, (key // n_rows) % n_distances
    order = np.lexsort((rows, distances, query_of))
    return rows[order], distances[order]


class HammingIndex:
    """Codes with ids, searchable by Hamming distance (see the module docstring).

    ``model`` describes the encoder the codes came from, e.g.
    ``{"name": "dshgan-cifar10-48bit", "encoder_sha256": "..."}``; queries
    through :meth:`check_model` must come from the same encoder.
    """

    def __init__(self, bits: int, kind: str = "flat", model: dict | None = None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if int(bits) < 1:
            raise ValueError(f"bits must be positive, got {bits}")
        self.bits, self.kind, self.model = int(bits), kind, dict(model or {})
        self.dim = 8 * ((self.bits + 7) // 8)  # padding bits are 0 in every code, so distances are unchanged
        self.faiss_index = _faiss().IndexBinaryFlat(self.dim)
        self.ids = None  # None: ids are the row numbers, and cost no memory
        self._table = None  # kind "hash": the PrefixTable of the codes added so far, built on demand

    @classmethod
    def build(cls, codes: PackedCodes, ids=None, kind: str = "flat", model: dict | None = None) -> HammingIndex:
        index = cls(codes.bits, kind, model)
        index.add(codes, ids)
        return index

    def __len__(self) -> int:
        return int(self.faiss_index.ntotal)

    def __repr__(self):
        return f"HammingIndex({len(self)} codes, {self.bits} bits, {self.kind}, model={self.model.get('name')!r})"

    def _check_codes(self, codes: PackedCodes, what: str) -> np.ndarray:
        if not isinstance(codes, PackedCodes):
            raise TypeError(f"{what} must be PackedCodes (hasher.encode(images)), got {type(codes).__name__}")
        if codes.bits != self.bits:
            raise IndexMismatchError(f"{what} have {codes.bits} bits but this index holds {self.bits}-bit codes")
        return np.ascontiguousarray(codes.packed)

    def add(self, codes: PackedCodes, ids=None) -> None:
        """Append codes; ``ids`` default to their running numbers (``len(self)`` onwards)."""
        packed = self._check_codes(codes, "added codes")
        if ids is not None or self.ids is not None:
            ids = np.arange(len(self), len(self) + len(packed)) if ids is None else np.asarray(ids)
            if len(ids) != len(packed):
                raise ValueError(f"{len(packed)} codes but {len(ids)} ids")
            known = np.arange(len(self)) if self.ids is None else self.ids
            if len(known) and ids.dtype.kind != known.dtype.kind:
                raise ValueError(f"ids of kind {ids.dtype} cannot join ids of kind {known.dtype}: give ids to "
                                 "every add, or to none")
            self.ids = np.concatenate([known, ids])
        self.faiss_index.add(packed)
        self._table = None

    def _ids_of(self, rows: np.ndarray) -> np.ndarray:
        return rows if self.ids is None else self.ids[rows]

    def search(self, queries: PackedCodes, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances), each (Q, k): the ``k`` nearest codes, ties in insertion order."""
        packed = self._check_codes(queries, "queries")
        if not 1 <= int(k) <= len(self):
            raise ValueError(f"k must be between 1 and the {len(self)} indexed codes, got {k}")
        distances, rows = self.faiss_index.search(packed, int(k))
        return self._ids_of(rows), distances.astype(np.int64)

    def range_search(self, queries: PackedCodes, radius: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query, (ids, distances) of every code within ``radius``, nearest first, ties in insertion order."""
        packed = self._check_codes(queries, "queries")
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
            raise ValueError(f"radius must be a whole number of bits, 0 or more, got {radius!r}")
        radius = min(int(radius), self.bits)  # beyond the code length every code is within reach
        if self.kind == "hash" and self.prefix_table().probed_fraction(radius) < MAX_PROBED_FRACTION:
            query_of, rows, distances = self.prefix_table().range_search(self.stored_codes(), packed, radius)
        else:  # FAISS's binary range search keeps distances < radius: ask for radius + 1
            lims, distances, rows = self.faiss_index.range_search(packed, int(radius) + 1)
            query_of = np.repeat(np.arange(len(packed), dtype=np.int64), np.diff(lims.astype(np.int64)))  # lims: uint64
        rows, distances = sort_hits(query_of, distances, rows, max(len(self), 1), self.dim + 1)
        lims = np.searchsorted(query_of, np.arange(len(packed) + 1))  # both list hits query by query
        ids = self._ids_of(rows)
        return [(ids[lims[q]:lims[q + 1]], distances[lims[q]:lims[q + 1]]) for q in range(len(packed))]

    def stored_codes(self) -> np.ndarray:
        """The packed codes in insertion order: a view of FAISS's storage (valid until the next ``add``)."""
        flat = self.faiss_index
        if flat.ntotal == 0:
            return np.zeros((0, flat.code_size), np.uint8)
        return _faiss().rev_swig_ptr(flat.xb.data(), flat.ntotal * flat.code_size).reshape(-1, flat.code_size)

    def prefix_table(self) -> PrefixTable:
        """Kind "hash": the prefix table of the stored codes, built on first use after ``add`` or ``load``."""
        if self._table is None:
            self._table = PrefixTable(self.stored_codes(), self.bits)
        return self._table

    # -- model identity -------------------------------------------------------
    def check_model(self, model: dict) -> None:
        """Refuse queries from an encoder other than the one that built this index."""
        for key in ("name", "encoder_sha256"):
            mine, theirs = self.model.get(key), model.get(key)
            if mine and theirs and mine != theirs:
                raise IndexMismatchError(
                    f"this index was built with {key} {mine!r}, the queries come from {theirs!r}: codes of "
                    "different models are not comparable. Query it with the model that built it, or rebuild it.")

    # -- persistence ----------------------------------------------------------
    def save(self, folder, overwrite: bool = False, inputs=()) -> Path:
        """Write the index to ``folder`` atomically. An existing folder is replaced only with ``overwrite``
        and only if it is a saved index, and never if it holds the current folder or one of ``inputs``."""
        folder = check_new_output(folder, overwrite, is_ours=is_saved_index, inputs=inputs)
        if self.ids is not None and self.ids.dtype == object:
            raise ValueError("ids must be numbers or strings to be saved")

        def write(staging: Path):
            _faiss().write_index_binary(self.faiss_index, str(staging / INDEX_FILE))
            if self.ids is not None:
                np.save(staging / IDS_FILE, self.ids, allow_pickle=False)
            meta = {"format_version": FORMAT_VERSION, "bits": self.bits, "kind": self.kind, "count": len(self),
                    "model": self.model}
            (staging / META_FILE).write_text(json.dumps(meta, indent=1))

        return write_output(folder, write, folder=True)

    @classmethod
    def load(cls, folder) -> HammingIndex:
        folder = Path(folder)
        missing = [name for name in (INDEX_FILE, META_FILE) if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} is not a saved HammingIndex (missing {', '.join(missing)})")
        try:
            meta = json.loads((folder / META_FILE).read_text())
            # mapped, not read: a header claiming terabytes fails here instead of allocating them
            ids = np.load(folder / IDS_FILE, allow_pickle=False, mmap_mode="r") if (folder / IDS_FILE).exists() else None
            faiss_index = _faiss().read_index_binary(str(folder / INDEX_FILE))
        except (ValueError, KeyError, RuntimeError, OSError, MemoryError) as error:  # FAISS: RuntimeError
            raise ValueError(f"{folder} holds a damaged index ({error}); rebuild it with ganhash-zoo index") from error
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{folder} has index format {meta.get('format_version')}, this version reads "
                             f"{FORMAT_VERSION}; rebuild it")
        if meta.get("kind") == "multihash":  # saved before kind "hash" replaced it: multi-hash tables over flat codes
            faiss_index = _flat_copy(faiss_index.storage)
            meta["kind"] = "hash"
        if type(faiss_index).__name__ != "IndexBinaryFlat":  # another kind answers approximately or with -1 rows
            raise ValueError(f"{folder / INDEX_FILE} holds a FAISS {type(faiss_index).__name__}, not the exact flat "
                             "index this format stores; rebuild it with ganhash-zoo index")
        missing = [key for key in ("bits", "kind", "count", "model") if key not in meta]
        if missing or meta["kind"] not in KINDS:
            raise ValueError(f"{folder / META_FILE} lacks {', '.join(missing) or 'a known kind'}; rebuild the index")
        index = cls(meta["bits"], meta["kind"], meta["model"])
        n_ids = faiss_index.ntotal if ids is None else len(ids)
        if not (faiss_index.ntotal == meta["count"] == n_ids) or faiss_index.d != index.dim:
            raise ValueError(f"{folder} is inconsistent ({faiss_index.ntotal} codes of {faiss_index.d} bits, "
                             f"{n_ids} ids, meta says {meta['count']} x {meta['bits']} bits); rebuild it")
        index.faiss_index, index.ids = faiss_index, None if ids is None else np.array(ids)
        return index
