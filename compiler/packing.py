"""Sub-byte weight packing: int4 (two per byte) and int2 (four per byte).

Inside the compiler, int4/int2 weights are int8 numpy arrays holding values in
[-8, 7] / [-2, 1] (docs/arithmetic.md §1).  Storage (the ``.npz`` next to
``model.qcc``, backends) packs them **little-end first**: element ``i`` of the
flattened (C-order) tensor goes to byte ``i // per`` at bit offset
``(i % per) * bits``, as its two's-complement low ``bits`` bits.  A final
partial byte is padded with zero bits.  ``unpack(pack(q)) == q`` exactly.
"""

from __future__ import annotations

import numpy as np

from .errors import QccError

PER_BYTE = {4: 2, 2: 4}


def _check_bits(bits: int) -> int:
    if bits not in PER_BYTE:
        raise QccError(f"packing: only 4- and 2-bit values are packed, not {bits}-bit")
    return PER_BYTE[bits]


def packed_size(numel: int, bits: int) -> int:
    """Bytes needed for ``numel`` packed values."""
    per = _check_bits(bits)
    return (int(numel) + per - 1) // per


def pack(q: np.ndarray, bits: int) -> np.ndarray:
    """Pack signed values in [-2^(bits-1), 2^(bits-1)) into a flat uint8 array."""
    per = _check_bits(bits)
    flat = np.asarray(q).reshape(-1).astype(np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if flat.size and (flat.min() < lo or flat.max() > hi):
        raise QccError(f"packing: values outside the int{bits} range [{lo}, {hi}] "
                       f"(found [{int(flat.min())}, {int(flat.max())}])")
    n = packed_size(flat.size, bits)
    padded = np.zeros(n * per, np.uint64)
    padded[:flat.size] = (flat & ((1 << bits) - 1)).astype(np.uint64)
    lanes = padded.reshape(n, per)
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(bits))
    return np.bitwise_or.reduce(lanes << shifts, axis=1).astype(np.uint8)


def unpack(packed: np.ndarray, bits: int, shape) -> np.ndarray:
    """Inverse of :func:`pack`: int8 array of ``shape`` with sign-extended values."""
    per = _check_bits(bits)
    shape = tuple(int(d) for d in shape)
    numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
    p = np.asarray(packed, np.uint8).reshape(-1)
    if p.size != packed_size(numel, bits):
        raise QccError(f"packing: {p.size} bytes cannot hold {numel} int{bits} values "
                       f"(need {packed_size(numel, bits)})")
    shifts = np.arange(per, dtype=np.uint8) * np.uint8(bits)
    u = ((p[:, None] >> shifts[None, :]) & np.uint8((1 << bits) - 1)).astype(np.int16).reshape(-1)
    u = u[:numel]
    s = np.where(u >= (1 << (bits - 1)), u - (1 << bits), u)
    return s.astype(np.int8).reshape(shape)
