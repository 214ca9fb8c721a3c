"""Integer elementwise ops and the float boundary: ``qcc.quantize``,
``qcc.dequantize``, ``qcc.requant``, ``qcc.add``, ``qcc.sub``, ``qcc.mul``,
``qcc.lut``, ``qcc.concat``, ``qcc.threshold`` (docs/integer_ops.md).
"""

from __future__ import annotations

import numpy as np

from .. import arith
from ..ir import DType, Node, TensorType
from . import OpDef, register
from ._integer_common import (ACT_DTYPES, act_range, centered, check_mult, check_zp, const_type,
                              err, in_type, out_dtype)

_FLOATS = (DType.float32,)
_REQ_IN = (DType.int8, DType.uint8, DType.int16, DType.int32)
_BIN_IN = ACT_DTYPES + (DType.int16,)   # int16: the residual stream (docs/transformers.md)


# -- boundary --------------------------------------------------------------------------
def _scale_zp(node: Node, dt: DType) -> tuple[float, int]:
    scale = float(node.attr("scale", 0.0))
    if not (np.isfinite(scale) and scale > 0):
        raise err(node, f"scale must be a positive finite float, got {scale}")
    return scale, check_zp(node, "zero_point", dt)


def _quantize_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", _FLOATS)
    dt = out_dtype(node)
    _scale_zp(node, dt)
    return [TensorType(dt, xt.shape)]


def _quantize_run(node: Node, args):
    dt = out_dtype(node)
    scale, zp = _scale_zp(node, dt)
    return [arith.quantize(args[0], scale, zp, dt.min, dt.max).astype(dt.np)]


def _dequantize_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", (DType.int8, DType.uint8, DType.int16, DType.int32))
    _scale_zp(node, xt.dtype)
    return [TensorType(DType.float32, xt.shape)]


def _dequantize_run(node: Node, args):
    scale, zp = _scale_zp(node, node.inputs[0].dtype)
    return [arith.dequantize(args[0], scale, zp)]


# -- requant ---------------------------------------------------------------------------------
def _requant_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", _REQ_IN)
    check_zp(node, "x_zp", xt.dtype)
    axis = int(node.attr("axis", 1))
    chans = xt.shape[axis] if -xt.rank <= axis < xt.rank else None
    check_mult(node, 1, chans)
    if node.inputs[1].type.shape[0] > 1 and chans is None:
        raise err(node, f"per-channel requant axis {axis} is not an axis of {xt}")
    dt = out_dtype(node, {"i32": DType.int32})
    act_range(node, dt)
    check_zp(node, "y_zp", dt)
    return [TensorType(dt, xt.shape)]


def _requant_run(node: Node, args):
    dt = out_dtype(node, {"i32": DType.int32})
    lo, hi = act_range(node, dt)
    acc = centered(args[0], node.attr("x_zp", 0))
    y = arith.requantize(acc, args[1], args[2], int(node.attr("y_zp", 0)), lo, hi,
                         axis=int(node.attr("axis", 1)))
    return [y.astype(dt.np)]


# -- add / sub / mul --------------------------------------------------------------------------
def _binary_infer(node: Node, m_size: int) -> list[TensorType]:
    at = in_type(node, 0, "a", _BIN_IN)
    bt = in_type(node, 1, "b", _BIN_IN)
    check_zp(node, "a_zp", at.dtype)
    check_zp(node, "b_zp", bt.dtype)
    check_mult(node, 2, None, sizes=(m_size,), shift_sizes=(1,))
    try:
        shape = np.broadcast_shapes(at.shape, bt.shape)
    except ValueError:
        raise err(node, f"shapes {at} and {bt} do not broadcast") from None
    dt = out_dtype(node)
    act_range(node, dt)
    check_zp(node, "y_zp", dt)
    return [TensorType(dt, tuple(shape))]


def _addsub_run(node: Node, args, sign: int):
    a = centered(args[0], node.attr("a_zp", 0))
    b = centered(args[1], node.attr("b_zp", 0))
    m = args[2].astype(np.int64)
    acc = a * m[0] + sign * (b * m[1])  # |acc| < 2^48 (int16 in): int64, one rounding below
    dt = out_dtype(node)
    lo, hi = act_range(node, dt)
    y = np.clip(arith.rshift_round(acc, int(args[3][0])) + int(node.attr("y_zp", 0)), lo, hi)
    return [y.astype(dt.np)]


def _mul_run(node: Node, args):
    a = centered(args[0], node.attr("a_zp", 0))
    b = centered(args[1], node.attr("b_zp", 0))
    dt = out_dtype(node)
    lo, hi = act_range(node, dt)
    y = arith.requantize(a * b, args[2][0], args[3][0], int(node.attr("y_zp", 0)), lo, hi)
    return [y.astype(dt.np)]


# -- lut -------------------------------------------------------------------------------------
def _lut_axis(node: Node, xt: TensorType) -> int:
    axis = int(node.attr("axis", 1))
    if not -xt.rank <= axis < xt.rank:
        raise err(node, f"per-channel table axis {axis} is not an axis of {xt}")
    return axis % xt.rank


def _lut_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", (DType.int8, DType.uint8, DType.int16))
    tt = const_type(node, 1, "table", (DType.int8, DType.uint8, DType.int16))
    n = 1 << xt.dtype.bits
    if tt.rank == 2 and xt.dtype.bits == 8:  # one table per channel along ``axis``
        chans = xt.shape[_lut_axis(node, xt)]
        if tt.shape != (chans, n):
            raise err(node, f"per-channel table must have shape [{chans}, {n}], got {list(tt.shape)}")
    elif tt.shape != (n,):
        raise err(node, f"table must have shape [{n}] for {xt.dtype.short} input, got {list(tt.shape)}")
    return [TensorType(tt.dtype, xt.shape)]


def _lut_run(node: Node, args):
    x = args[0].astype(np.int64) - node.inputs[0].dtype.min
    t = np.asarray(args[1])
    if t.ndim == 1:
        return [t[x]]
    axis = _lut_axis(node, node.inputs[0].type)
    c = np.arange(t.shape[0]).reshape([-1] + [1] * (x.ndim - 1 - axis))
    return [t[c, x]]


# -- threshold -------------------------------------------------------------------------------
_THR_IN = (DType.int8, DType.uint8, DType.int16, DType.int32, DType.int64)


def _threshold_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", _THR_IN)
    tt = const_type(node, 1, "thresholds", (DType.int64,))
    vt = const_type(node, 2, "values", (DType.int32,))
    if tt.rank != 1 or vt.rank != 1 or vt.shape[0] != tt.shape[0] + 1:
        raise err(node, f"thresholds [n] and values [n + 1] expected, got "
                        f"{list(tt.shape)} and {list(vt.shape)}")
    t = np.asarray(node.inputs[1].data, np.int64)
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise err(node, "thresholds must be strictly ascending")
    dt = out_dtype(node)
    v = np.asarray(node.inputs[2].data)
    if v.size and (v.min() < dt.min or v.max() > dt.max):
        raise err(node, f"values leave the {dt.short} range")
    return [TensorType(dt, xt.shape)]


def _threshold_run(node: Node, args):
    t = np.asarray(args[1], np.int64)
    k = np.searchsorted(t, np.asarray(args[0], np.int64), side="right")
    return [np.asarray(args[2])[k].astype(out_dtype(node).np)]


# -- concat ------------------------------------------------------------------------------------
def _concat_infer(node: Node) -> list[TensorType]:
    n = len(node.inputs) - 2
    if n < 1:
        raise err(node, "concat needs inputs x_0..x_{n-1}, mult, shift")
    ts = [in_type(node, i, f"x_{i}", ACT_DTYPES + (DType.int16,)) for i in range(n)]
    check_mult(node, n, None, sizes=(n,))
    zps = node.attr("zps", [0] * n)
    if len(zps) != n:
        raise err(node, f"zps needs {n} values, got {list(zps)}")
    for i, (t, z) in enumerate(zip(ts, zps)):
        if not t.dtype.min <= int(z) <= t.dtype.max:
            raise err(node, f"zps[{i}]={z} outside {t.dtype.short}")
    r = ts[0].rank
    axis = int(node.attr("axis", 1))
    if not -r <= axis < r:
        raise err(node, f"axis {axis} out of range for rank {r}")
    axis %= r
    for t in ts:
        if t.rank != r or any(a != b for k, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if k != axis):
            raise err(node, f"inputs {[str(x) for x in ts]} do not concatenate on axis {axis}")
    dt = out_dtype(node)
    act_range(node, dt)
    check_zp(node, "y_zp", dt)
    shape = list(ts[0].shape)
    shape[axis] = sum(t.shape[axis] for t in ts)
    return [TensorType(dt, tuple(shape))]


def _concat_run(node: Node, args):
    n = len(args) - 2
    m, s = args[n], args[n + 1]
    zps = node.attr("zps", [0] * n)
    dt = out_dtype(node)
    lo, hi = act_range(node, dt)
    yzp = int(node.attr("y_zp", 0))
    parts = [arith.requantize(centered(args[i], zps[i]), m[i], s[i], yzp, lo, hi) for i in range(n)]
    return [np.concatenate(parts, axis=int(node.attr("axis", 1))).astype(dt.np)]


def _reg(name, infer, run, doc, lo, hi=None, float_arith=False):
    register(OpDef(name=name, infer=infer, run=run, family="integer", doc=doc,
                   float_arith=float_arith, min_inputs=lo, max_inputs=hi, num_outputs=1))


_reg("qcc.quantize", _quantize_infer, _quantize_run,
     "float32 -> int (ONNX QuantizeLinear: f32 division, half to even)", 1, 1, float_arith=True)
_reg("qcc.dequantize", _dequantize_infer, _dequantize_run,
     "int -> float32 (ONNX DequantizeLinear)", 1, 1, float_arith=True)
_reg("qcc.requant", _requant_infer, _requant_run,
     "clamp(requant(x - x_zp, m, s) + y_zp), per tensor or per channel", 3, 3)
def _add_infer(node: Node) -> list[TensorType]:
    return _binary_infer(node, 2)


def _mul_infer(node: Node) -> list[TensorType]:
    return _binary_infer(node, 1)


_reg("qcc.add", _add_infer, lambda node, args: _addsub_run(node, args, 1),
     "y = rshift_round((a-za)*m_a + (b-zb)*m_b, s) + y_zp (one rounding)", 4, 4)
_reg("qcc.sub", _add_infer, lambda node, args: _addsub_run(node, args, -1),
     "y = rshift_round((a-za)*m_a - (b-zb)*m_b, s) + y_zp (one rounding)", 4, 4)
_reg("qcc.mul", _mul_infer, _mul_run,
     "y = requant((a-za)*(b-zb), m, s) + y_zp", 4, 4)
_reg("qcc.lut", _lut_infer, _lut_run,
     "y = table[x - min(dtype)] (256-entry constant table, or one per channel along axis)", 2, 2)
_reg("qcc.threshold", _threshold_infer, _threshold_run,
     "y = values[#(thresholds <= x)]: a monotone step function of an integer tensor", 3, 3)
_reg("qcc.concat", _concat_infer, _concat_run,
     "per-input requant to the output scale, then concatenate", 3)
