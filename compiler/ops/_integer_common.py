"""Shared helpers of the integer op families (``qcc.*``); not an op family.

Attribute parsing, constant/dtype checks and the requantization epilogue used
by integer_nn, integer_elementwise and integer_pool.  Semantics: docs/integer_ops.md.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .. import arith
from ..errors import ShapeError
from ..ir import DType, Node, TensorType

ACT_DTYPES = (DType.int8, DType.uint8)
WEIGHT_DTYPES = (DType.int8, DType.int4, DType.int2)
OUT_DTYPES = {"i8": DType.int8, "u8": DType.uint8, "i16": DType.int16}
EXACT_F64 = float(1 << 53)
EXACT_F32 = float(1 << 24)


def err(node: Node, msg: str) -> ShapeError:
    return ShapeError(f"{node.op} node '{node.name}': {msg}")


def inp(node: Node, i: int):
    """Input ``i`` or None when omitted or past the end."""
    return node.inputs[i] if i < len(node.inputs) else None


def in_type(node: Node, i: int, what: str, dtypes: Optional[Sequence[DType]] = None) -> TensorType:
    v = inp(node, i)
    if v is None:
        raise err(node, f"missing input {i} ({what})")
    if dtypes is not None and v.dtype not in dtypes:
        names = "/".join(d.short for d in dtypes)
        raise err(node, f"input {i} ({what}) '%{v.name}' is {v.dtype.short}, expected {names}")
    return v.type


def const_type(node: Node, i: int, what: str, dtypes: Sequence[DType]) -> TensorType:
    t = in_type(node, i, what, dtypes)
    if not node.inputs[i].is_const:
        raise err(node, f"input {i} ({what}) '%{node.inputs[i].name}' must be a constant")
    return t


def out_dtype(node: Node, extra: Optional[dict] = None) -> DType:
    name = node.attr("dtype", "i8")
    table = dict(OUT_DTYPES, **(extra or {}))
    if name not in table:
        raise err(node, f"output dtype '{name}' not in {sorted(table)}")
    return table[name]


def act_range(node: Node, dt: DType) -> tuple[int, int]:
    lo = int(node.attr("act_min", dt.min))
    hi = int(node.attr("act_max", dt.max))
    if not dt.min <= lo <= hi <= dt.max:
        raise err(node, f"clamp [{lo}, {hi}] is not inside {dt.short} [{dt.min}, {dt.max}]")
    return lo, hi


def check_zp(node: Node, key: str, dt: DType) -> int:
    zp = int(node.attr(key, 0))
    if not dt.min <= zp <= dt.max:
        raise err(node, f"{key}={zp} outside {dt.short} range")
    return zp


def check_mult(node: Node, i_m: int, channels: Optional[int], sizes: Sequence[int] = (),
               shift_sizes: Optional[Sequence[int]] = None) -> None:
    """``mult``/``shift`` at inputs i_m, i_m+1: const int32 of length 1 or ``channels``
    (or of a length in ``sizes``; ``shift_sizes`` when the shift differs)."""
    ok_m = set(sizes) if sizes else {1, channels}
    ok_s = set(shift_sizes) if shift_sizes is not None else ok_m
    for j, what, ok in ((i_m, "mult", ok_m), (i_m + 1, "shift", ok_s)):
        t = const_type(node, j, what, (DType.int32,))
        if t.rank != 1 or t.shape[0] not in ok:
            raise err(node, f"{what} must have shape [n] with n in {sorted(x for x in ok if x)}, "
                            f"got {list(t.shape)}")
    m = node.inputs[i_m].data
    s = node.inputs[i_m + 1].data
    if shift_sizes is None and m.shape != s.shape:
        raise err(node, "mult and shift differ in shape")
    if m.size and (m.min() < 0 or int(m.max()) >= arith.M_LIMIT):
        raise err(node, "mult out of [0, 2^31)")
    if s.size and (s.min() < arith.SHIFT_MIN or s.max() > arith.SHIFT_MAX):
        raise err(node, f"shift out of [{arith.SHIFT_MIN}, {arith.SHIFT_MAX}]")


def has_epilogue(node: Node, i_m: int) -> bool:
    a, b = inp(node, i_m), inp(node, i_m + 1)
    if (a is None) != (b is None):
        raise err(node, "give both mult and shift, or neither")
    return a is not None


def epilogue_type(node: Node, i_m: int, channels: Optional[int], shape) -> TensorType:
    """Output type of an op with the optional requantization epilogue."""
    acc_bits(node, i_m)
    if not has_epilogue(node, i_m):
        return TensorType(DType.int32, shape)
    check_mult(node, i_m, channels)
    dt = out_dtype(node)
    act_range(node, dt)
    check_zp(node, "y_zp", dt)
    return TensorType(dt, shape)


def acc_bits(node: Node, i_m: Optional[int] = None) -> int:
    """The accumulator width ``acc_bits`` (32, or 64 for the widened form that
    ``widen-accumulators`` picks, docs/arithmetic.md §5.1).  The widened form needs the
    requantization epilogue (``i_m``: index of ``mult``): an int32 output cannot hold it."""
    bits = int(node.attr("acc_bits", 32))
    if bits not in (32, 64):
        raise err(node, f"acc_bits must be 32 or 64, got {bits}")
    if bits == 64 and i_m is not None and inp(node, i_m) is None:
        raise err(node, "acc_bits=64 needs the requantization epilogue (mult, shift)")
    return bits


def requant_acc(node: Node, acc, m, s, lo: int, hi: int, axis=None) -> np.ndarray:
    """``requantize`` for an int32 accumulator, ``requantize_wide`` for ``acc_bits=64``."""
    zp = int(node.attr("y_zp", 0))
    if acc_bits(node) == 64:
        return arith.requantize_wide(acc, m, s, zp, lo, hi, axis=axis)
    arith.check_int32(acc)
    return arith.requantize(acc, m, s, zp, lo, hi, axis=axis)


def epilogue(node: Node, acc: np.ndarray, args, i_m: int, axis: int) -> np.ndarray:
    """int32 accumulator form, or ``clamp(requant(acc) + y_zp)`` in the output dtype."""
    if inp(node, i_m) is None:
        acc_bits(node, i_m)
        return arith.check_int32(acc).astype(np.int32)
    dt = out_dtype(node)
    lo, hi = act_range(node, dt)
    return requant_acc(node, acc, args[i_m], args[i_m + 1], lo, hi, axis=axis).astype(dt.np)


def check_weight_values(node: Node, w: np.ndarray, dt: DType) -> None:
    if w.size and (w.min() < dt.min or w.max() > dt.max):
        raise err(node, f"weight values outside {dt.short} [{dt.min}, {dt.max}]")


def centered(x: np.ndarray, zp: int) -> np.ndarray:
    return x.astype(np.int64) - int(zp)


def _absmax(x: np.ndarray) -> int:
    return max(-int(x.min()), int(x.max())) if x.size else 0  # no np.abs: |int8 -128| wraps


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact int64 ``a @ b`` (numpy broadcasting) for integer operands.

    Uses float32 BLAS when ``K * max|a| * max|b| < 2^24``, float64 BLAS when it is
    below 2^53: the bound proves every product and every partial sum, in any order
    of summation, is an exactly representable integer (docs/arithmetic.md §6); else
    int64.  int8 x int8 layers up to K = 1040 take the float32 path (twice the speed
    of float64 on the reference interpreter's transformer matmuls).
    """
    a, b = np.asarray(a), np.asarray(b)
    bound = a.shape[-1] * _absmax(a) * _absmax(b)
    if bound < EXACT_F32:
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.int64)
    if bound < EXACT_F64:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    return np.matmul(a.astype(np.int64), b.astype(np.int64))


def ints(node: Node, key: str, default: Sequence[int], n: int) -> list[int]:
    v = node.attr(key, None)
    v = list(default) if v is None else [int(x) for x in v]
    if len(v) != n:
        raise err(node, f"attribute {key} needs {n} values, got {v}")
    return v
