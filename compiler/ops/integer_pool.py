"""Integer pooling, reductions and resize: ``qcc.avgpool``, ``qcc.global_avgpool``,
``qcc.reduce_mean``, ``qcc.resize`` (docs/integer_ops.md).

Pooling sums centered values (padding = zero point) in int32 (in int64 with
``acc_bits=64``, docs/arithmetic.md §5.1) and requantizes with a dyadic multiplier
that already contains ``1/count``: no run-time division.
Resize uses exact rational source coordinates and Q10 bilinear weights.
"""

from __future__ import annotations

import numpy as np

from .. import arith
from ..ir import Node, TensorType
from . import OpDef, register
from ._integer_common import (ACT_DTYPES, acc_bits, act_range, centered, check_mult, check_zp,
                              err, in_type, ints, out_dtype, requant_acc)

RESIZE_FRAC_BITS = 10
_COORD_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _requant_out(node: Node, acc, m, s) -> np.ndarray:
    """Requantize the window/axis sums: int32 sums, or int64 with ``acc_bits=64``."""
    dt = out_dtype(node)
    lo, hi = act_range(node, dt)
    return requant_acc(node, acc, m, s, lo, hi).astype(dt.np)


def _out_checks(node: Node, xt: TensorType, shape) -> TensorType:
    check_zp(node, "x_zp", xt.dtype)
    acc_bits(node)
    dt = out_dtype(node)
    act_range(node, dt)
    check_zp(node, "y_zp", dt)
    return TensorType(dt, tuple(shape))


# -- avgpool ---------------------------------------------------------------------------------
def _pool_attrs(node: Node):
    k = ints(node, "kernel_shape", (), 2)
    st = ints(node, "strides", (1, 1), 2)
    pads = ints(node, "pads", (0, 0, 0, 0), 4)
    if int(node.attr("ceil_mode", 0)) != 0 or ints(node, "dilations", (1, 1), 2) != [1, 1]:
        raise err(node, "only ceil_mode=0 and dilations=1 are supported")
    if min(k) < 1 or min(st) < 1 or min(pads) < 0 or max(pads[0], pads[2]) >= k[0] \
            or max(pads[1], pads[3]) >= k[1]:
        raise err(node, f"bad kernel {k} / strides {st} / pads {pads}")
    return k, st, pads


def _avgpool_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", ACT_DTYPES)
    if xt.rank != 4:
        raise err(node, f"avgpool needs NCHW input, got {xt}")
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = _pool_attrs(node)
    check_mult(node, 1, None, sizes=(kh * kw,))
    oh = (xt.shape[2] + pt + pb - kh) // sh + 1
    ow = (xt.shape[3] + pl + pr - kw) // sw + 1
    if oh < 1 or ow < 1:
        raise err(node, f"empty output {oh}x{ow}")
    return [_out_checks(node, xt, xt.shape[:2] + (oh, ow))]


def window_sums(x: np.ndarray, k, st, pads) -> np.ndarray:
    """Sums over pooling windows of an int64 NCHW array padded with zeros."""
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = k, st, pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    acc = np.zeros(x.shape[:2] + (oh, ow), np.int64)
    for u in range(kh):
        for v in range(kw):
            acc += xp[:, :, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw]
    return acc


def avgpool_counts(h: int, w: int, k, st, pads, include_pad: bool) -> np.ndarray:
    """Element count of every output window ([OH, OW] int64)."""
    ones = np.ones((1, 1, h, w), np.int64)
    cnt = window_sums(ones, k, st, pads)[0, 0]
    return np.full_like(cnt, k[0] * k[1]) if include_pad else cnt


def _avgpool_run(node: Node, args):
    x = args[0]
    k, st, pads = _pool_attrs(node)
    acc = window_sums(centered(x, node.attr("x_zp", 0)), k, st, pads)
    cnt = avgpool_counts(x.shape[2], x.shape[3], k, st, pads,
                         bool(int(node.attr("count_include_pad", 0))))
    m = args[1].astype(np.int64)[cnt - 1]
    s = args[2].astype(np.int64)[cnt - 1]
    return [_requant_out(node, acc, m, s)]


# -- global_avgpool / reduce_mean -------------------------------------------------------------
def _gap_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", ACT_DTYPES)
    if xt.rank < 3:
        raise err(node, f"global_avgpool needs [N, C, spatial...], got {xt}")
    check_mult(node, 1, None, sizes=(1,))
    return [_out_checks(node, xt, xt.shape[:2] + (1,) * (xt.rank - 2))]


def _gap_run(node: Node, args):
    x = centered(args[0], node.attr("x_zp", 0))
    acc = x.sum(axis=tuple(range(2, x.ndim)), keepdims=True)
    return [_requant_out(node, acc, args[1][0], args[2][0])]


def _axes(node: Node, rank: int) -> tuple[int, ...]:
    axes = node.attr("axes", None)
    axes = range(rank) if axes is None else axes
    out = set()
    for a in axes:
        a = int(a)
        if not -rank <= a < rank:
            raise err(node, f"axis {a} out of range for rank {rank}")
        out.add(a % rank)
    return tuple(sorted(out))


def _rmean_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", ACT_DTYPES)
    axes = _axes(node, xt.rank)
    check_mult(node, 1, None, sizes=(1,))
    keep = int(node.attr("keepdims", 1))
    shape = [1 if i in axes else d for i, d in enumerate(xt.shape) if keep or i not in axes]
    return [_out_checks(node, xt, shape)]


def _rmean_run(node: Node, args):
    x = centered(args[0], node.attr("x_zp", 0))
    axes = _axes(node, x.ndim)
    acc = x.sum(axis=axes, keepdims=bool(int(node.attr("keepdims", 1))))
    return [_requant_out(node, acc, args[1][0], args[2][0])]


# -- resize -----------------------------------------------------------------------------------
def source_coords(out_size: int, in_size: int, mode: str) -> tuple[np.ndarray, int]:
    """Exact source coordinates ``num[o] / den`` of every output index (ints)."""
    o = np.arange(out_size, dtype=np.int64)
    if mode == "half_pixel" or (mode == "pytorch_half_pixel" and out_size > 1):
        return (2 * o + 1) * in_size - out_size, 2 * out_size
    if mode == "pytorch_half_pixel":
        return np.zeros_like(o), 1
    if mode == "align_corners":
        if out_size == 1:
            return np.zeros_like(o), 1
        return o * (in_size - 1), out_size - 1
    if mode == "asymmetric":
        return o * in_size, out_size
    raise ValueError(f"coordinate_transformation_mode '{mode}' not in {_COORD_MODES}")


def nearest_index(out_size: int, in_size: int, mode: str, nearest_mode: str) -> np.ndarray:
    num, den = source_coords(out_size, in_size, mode)
    if nearest_mode == "floor":
        idx = num // den
    elif nearest_mode == "ceil":
        idx = -((-num) // den)
    elif nearest_mode == "round_prefer_floor":
        idx = -((den - 2 * num) // (2 * den))  # ceil(x - 1/2)
    elif nearest_mode == "round_prefer_ceil":
        idx = (2 * num + den) // (2 * den)  # floor(x + 1/2)
    else:
        raise ValueError(f"nearest_mode '{nearest_mode}' not in {_NEAREST_MODES}")
    return np.clip(idx, 0, in_size - 1)


def linear_table(out_size: int, in_size: int, mode: str):
    """Bilinear taps per output index: ``(i0, i1, w0, w1)`` with Q10 weights, w0 + w1 = 1024."""
    num, den = source_coords(out_size, in_size, mode)
    num = np.maximum(num, 0)
    i0 = num // den
    frac = num - i0 * den
    one = 1 << RESIZE_FRAC_BITS
    w1 = (2 * frac * one + den) // (2 * den)  # round half up
    last = i0 >= in_size - 1
    i0 = np.where(last, in_size - 1, i0)
    w1 = np.where(last, 0, w1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, one - w1, w1


def _resize_attrs(node: Node):
    sizes = ints(node, "sizes", (), 2)
    mode = node.attr("mode", "nearest")
    ctm = node.attr("coordinate_transformation_mode", "half_pixel")
    nm = node.attr("nearest_mode", "round_prefer_floor")
    if mode not in ("nearest", "linear") or ctm not in _COORD_MODES or nm not in _NEAREST_MODES:
        raise err(node, f"unsupported resize mode={mode} coordinate_transformation_mode={ctm} "
                        f"nearest_mode={nm}")
    if min(sizes) < 1:
        raise err(node, f"bad sizes {sizes}")
    return sizes, mode, ctm, nm


def _resize_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", ACT_DTYPES)
    if xt.rank != 4:
        raise err(node, f"resize needs NCHW input, got {xt}")
    check_zp(node, "x_zp", xt.dtype)
    sizes, _, _, _ = _resize_attrs(node)
    return [TensorType(xt.dtype, xt.shape[:2] + tuple(sizes))]


def _resize_run(node: Node, args):
    x = args[0]
    (oh, ow), mode, ctm, nm = _resize_attrs(node)
    h, w = x.shape[2:]
    if mode == "nearest":
        iy = nearest_index(oh, h, ctm, nm)
        ix = nearest_index(ow, w, ctm, nm)
        return [x[:, :, iy][:, :, :, ix]]
    zp = int(node.attr("x_zp", 0))
    xc = centered(x, zp)
    y0, y1, wy0, wy1 = linear_table(oh, h, ctm)
    x0, x1, wx0, wx1 = linear_table(ow, w, ctm)
    top, bot = xc[:, :, y0], xc[:, :, y1]
    acc = (wy0[:, None] * (wx0 * top[..., x0] + wx1 * top[..., x1])
           + wy1[:, None] * (wx0 * bot[..., x0] + wx1 * bot[..., x1]))
    dt = node.inputs[0].dtype
    y = np.clip(arith.rshift_round(acc, 2 * RESIZE_FRAC_BITS) + zp, dt.min, dt.max)
    return [y.astype(dt.np)]


def _reg(name, infer, run, doc, lo, hi):
    register(OpDef(name=name, infer=infer, run=run, family="integer", doc=doc,
                   float_arith=False, min_inputs=lo, max_inputs=hi, num_outputs=1))


_reg("qcc.avgpool", _avgpool_infer, _avgpool_run,
     "window sum of centered int8, requant with a per-count multiplier table", 3, 3)
_reg("qcc.global_avgpool", _gap_infer, _gap_run,
     "spatial sum of centered int8, requant by s_x/(s_y*H*W)", 3, 3)
_reg("qcc.reduce_mean", _rmean_infer, _rmean_run,
     "sum over axes of centered int8, requant by s_x/(s_y*count)", 3, 3)
_reg("qcc.resize", _resize_infer, _resize_run,
     "nearest or bilinear (Q10 weights, one rounding) int8 resize, same qparams", 1, 1)
