"""Binary codes as packed bits (``np.packbits`` layout, big-endian within a byte).

A K-bit code takes ceil(K/8) bytes. The bit count travels with the array in
:class:`PackedCodes` because it cannot be recovered from the padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PackedCodes:
    """``bits``-bit codes of ``len(self)`` items, packed to uint8."""

    packed: np.ndarray
    bits: int

    def __post_init__(self):
        if self.packed.dtype != np.uint8 or self.packed.ndim != 2:
            raise ValueError(f"packed codes must be a 2-D uint8 array, got {self.packed.dtype} {self.packed.shape}")
        if self.packed.shape[1] != (self.bits + 7) // 8:
            raise ValueError(f"{self.bits} bits need {(self.bits + 7) // 8} bytes per code, got {self.packed.shape[1]}")

    def __len__(self):
        return len(self.packed)

    def __getitem__(self, index):
        return PackedCodes(np.atleast_2d(self.packed[index]), self.bits)

    def to_signs(self) -> np.ndarray:
        """Codes as a float32 array in {-1, +1}, shape (N, bits)."""
        return unpack(self).astype(np.float32) * 2 - 1

    def save(self, path) -> None:
        np.savez(path, packed=self.packed, bits=self.bits)

    @classmethod
    def load(cls, path) -> "PackedCodes":
        with np.load(path) as f:
            return cls(f["packed"], int(f["bits"]))


def pack(codes, threshold: float | None = None) -> PackedCodes:
    """Pack ±1 codes, {0,1} codes, booleans, or real-valued outputs.

    Real-valued outputs are thresholded at ``threshold``; by default at 0 for
    data with negative values (tanh-style) and at 0.5 for data in [0, 1]
    (sigmoid-style). Integer {0,1} and ±1 inputs need no threshold.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (items, bits), got shape {codes.shape}")
    if codes.dtype.kind == "f" and not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinity; the encoder diverged or got bad input")
    if codes.dtype == bool:
        bits = codes
    elif threshold is not None:
        bits = codes > threshold
    else:
        bits = codes > (0.5 if codes.size and codes.min() >= 0 else 0)
    return PackedCodes(np.packbits(bits, axis=1), codes.shape[1])


def unpack(codes: PackedCodes) -> np.ndarray:
    """{0,1} uint8 array of shape (N, bits)."""
    return np.unpackbits(codes.packed, axis=1, count=codes.bits)


def hamming_distances(queries: PackedCodes, database: PackedCodes) -> np.ndarray:
    """(len(queries), len(database)) uint16 Hamming distances via XOR + popcount."""
    if queries.bits != database.bits:
        raise ValueError(f"query codes have {queries.bits} bits but database codes {database.bits}")
    q, d = _as_words(queries.packed), _as_words(database.packed)
    out = np.zeros((len(q), len(d)), dtype=np.uint16)
    for w in range(q.shape[1]):
        out += np.bitwise_count(q[:, w, None] ^ d[None, :, w]).astype(np.uint16)
    return out


def _as_words(packed: np.ndarray) -> np.ndarray:
    """View bytes as uint64 words (zero-padded) so popcount runs 8 bytes at a time."""
    n, nbytes = packed.shape
    width = (nbytes + 7) // 8 * 8
    if width != nbytes:
        packed = np.concatenate([packed, np.zeros((n, width - nbytes), np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)
