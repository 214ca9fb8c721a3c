"""Compile-time preparation of kernel constants (numpy only): weight layouts, packing
along K, zero-point corrections folded into the bias, per-group column sums.

The GEMM kernel computes ``dot(a - a_off, w)`` on int8 operands (``a_off`` = 128 for
uint8 activations, else 0) and adds ``corr = bias + (a_off - x_zp) * colsum(w)``, which
equals the contract's ``bias + sum_k (a - x_zp) * w`` exactly.  ``corr`` is the
accumulator of the valid input ``a = a_off``, so it fits int32 whenever the quantizer's
static bound holds; it is checked here anyway.
"""

from __future__ import annotations

import numpy as np

from qcc import arith
from qcc.errors import LoweringError


def a_offset(dtype_name: str) -> int:
    return 128 if dtype_name == "uint8" else 0


def per_byte(bits: int) -> int:
    return 8 // bits if bits in (2, 4) else 1


def pack_k(w_kn: np.ndarray, bits: int) -> np.ndarray:
    """[..., K, N] int8 values -> [..., ceil(K/per), N] int8, element k of a column in
    byte k // per at bit offset (k % per) * bits (two's complement, zero padded)."""
    per = per_byte(bits)
    w = np.asarray(w_kn, np.int64)
    if per == 1:
        return w.astype(np.int8)
    k = w.shape[-2]
    kp = -(-k // per)
    pad = [(0, 0)] * (w.ndim - 2) + [(0, kp * per - k), (0, 0)]
    w = np.pad(w, pad).reshape(w.shape[:-2] + (kp, per, w.shape[-1]))
    mask = (1 << bits) - 1
    out = np.zeros(w.shape[:-3] + (kp, w.shape[-1]), np.int64)
    for j in range(per):
        out |= (w[..., j, :] & mask) << (j * bits)
    return out.astype(np.uint8).view(np.int8)


def _check32(x: np.ndarray, what: str) -> np.ndarray:
    if x.size and (x.min() < arith.INT32_MIN or x.max() > arith.INT32_MAX):
        raise LoweringError(f"triton: {what} leaves int32 (the quantizer's bound check failed)")
    return x.astype(np.int32)


def corr_term(w_kn: np.ndarray, bias, a_off: int, x_zp: int, wide: bool = False) -> np.ndarray:
    """``bias + (a_off - x_zp) * colsum(w)`` per column for weights [..., K, N]: int32, or
    int64 for the int64-accumulator form (``wide``)."""
    cs = np.asarray(w_kn, np.int64).sum(axis=-2).reshape(-1)
    b = np.zeros_like(cs) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    c = b + (a_off - int(x_zp)) * cs
    return c if wide else _check32(c, "bias + zero-point correction")


def group_sums(w_kn: np.ndarray, gsz: int) -> np.ndarray:
    """Per-group column sums [ng, C] (int32) of weights [..., K, N] (C = all columns)."""
    w = np.asarray(w_kn, np.int64)
    k = w.shape[-2]
    ng = -(-k // gsz)
    w = np.pad(w, [(0, 0)] * (w.ndim - 2) + [(0, ng * gsz - k), (0, 0)])
    gs = w.reshape(w.shape[:-2] + (ng, gsz, w.shape[-1])).sum(axis=-2)  # [..., ng, N]
    gs = np.moveaxis(gs, -2, 0).reshape(ng, -1)
    return _check32(gs, "per-group weight sum")


def conv_weight_gkn(w: np.ndarray, group: int) -> np.ndarray:
    """ONNX conv weight [M, C/g, kH, kW] -> [g, K, M/g], k = (c*kH + u)*kW + v."""
    m = w.shape[0]
    return np.ascontiguousarray(
        np.asarray(w).reshape(group, m // group, -1).transpose(0, 2, 1))


def unpack_rows(packed: np.ndarray, rows: int, k: int, bits: int) -> np.ndarray:
    """The kernel program's weight rows (``[rows, ceil(k*bits/8)]`` bytes, value t of a row
    in bits ``(t % (8/bits)) * bits`` of byte ``t // (8/bits)``, two's complement) -> int64
    values ``[rows, k]``."""
    if bits == 8:
        return np.asarray(packed, np.int8).reshape(rows, k).astype(np.int64)
    per = 8 // bits
    b = np.asarray(packed).view(np.uint8).reshape(rows, -1).astype(np.int64)
    vals = (b[:, :, None] >> (np.arange(per) * bits)) & ((1 << bits) - 1)
    vals = vals.reshape(rows, -1)[:, :k]
    return np.where(vals >= 1 << (bits - 1), vals - (1 << bits), vals)
