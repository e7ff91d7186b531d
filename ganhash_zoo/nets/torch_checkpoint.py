"""Read a PyTorch checkpoint of the legacy (pre-1.6, non-zip) format as NumPy arrays, without torch.

``torch.load`` unpickles arbitrary objects unless ``weights_only=True``, and
needs torch. This reader accepts only what a state dict holds -- ordered
dicts, tensors rebuilt by ``torch._utils._rebuild_tensor_v2`` and typed
storages -- and refuses any other global, so a tampered file cannot run code.

The legacy format is five pickles and the raw storages: a magic number, the
protocol version, system info (endianness, type sizes), the state dict with
storages as persistent ids ``("storage", type, key, device, numel, view)``,
the list of storage keys in file order, then for each key an int64 element
count followed by the little-endian data.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {  # torch's typed storages -> NumPy dtypes
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class CheckpointFormatError(ValueError):
    """The bytes are not a legacy PyTorch state dict this reader accepts."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor waiting for its storage's bytes: (storage key, offset, shape, strides) in elements."""

    def __init__(self, storage, offset, shape, strides, *_):
        self.storage, self.offset, self.shape, self.strides = storage, int(offset), tuple(shape), tuple(strides)


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _TensorRef
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointFormatError(f"the checkpoint asks for {module}.{name}, which a state dict never holds; "
                                    "refusing to read it")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise CheckpointFormatError(f"unexpected persistent id {pid!r} in the checkpoint")
        return pid[2], pid[1].dtype, int(pid[4])  # key, dtype, number of elements


def read_legacy_state_dict(data: bytes) -> dict[str, np.ndarray]:
    """The tensors of a legacy-format PyTorch state dict held in ``data``, by name."""
    stream = io.BytesIO(data)
    try:
        header = [_StateDictUnpickler(stream).load() for _ in range(3)]
        if header[0] != LEGACY_MAGIC or header[1] != LEGACY_PROTOCOL:
            raise CheckpointFormatError("not a legacy-format PyTorch checkpoint (magic number or protocol differ)")
        if not header[2].get("little_endian", False):
            raise CheckpointFormatError("the checkpoint was written big-endian")
        state = _StateDictUnpickler(stream).load()
        keys = _StateDictUnpickler(stream).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, KeyError) as error:
        raise CheckpointFormatError(f"the checkpoint's pickles are malformed: {error}") from error
    if not isinstance(state, collections.OrderedDict) or not isinstance(keys, list):
        raise CheckpointFormatError("the checkpoint does not hold a state dict")
    refs = {name: ref for name, ref in state.items() if isinstance(ref, _TensorRef)}
    if len(refs) != len(state):
        raise CheckpointFormatError("the state dict holds values other than tensors")
    kinds = {ref.storage[0]: ref.storage[1] for ref in refs.values()}
    storages = {}
    for key in keys:
        if key not in kinds:
            raise CheckpointFormatError(f"storage {key!r} is not used by any tensor")
        (count,) = struct.unpack("<q", stream.read(8) or b"\0" * 8)
        nbytes = count * kinds[key].itemsize
        raw = stream.read(nbytes)
        if count < 0 or len(raw) != nbytes:
            raise CheckpointFormatError("the checkpoint is truncated")
        storages[key] = np.frombuffer(raw, kinds[key])
    tensors = {}
    for name, ref in refs.items():
        key, dtype, _ = ref.storage
        if key not in storages:
            raise CheckpointFormatError(f"tensor {name} points at a missing storage")
        storage = storages[key]
        extent = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides)) + 1 if ref.shape else ref.offset + 1
        if min(ref.shape, default=1) > 0 and extent > len(storage):
            raise CheckpointFormatError(f"tensor {name} reaches past its storage")
        view = np.lib.stride_tricks.as_strided(storage[ref.offset:], ref.shape,
                                               [s * dtype.itemsize for s in ref.strides])
        tensors[name] = np.array(view)  # a copy: the caller owns it, the file's buffer can go
    return tensors
