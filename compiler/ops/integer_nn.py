"""Integer dense ops: ``qcc.conv2d``, ``qcc.conv_transpose2d``, ``qcc.linear``,
``qcc.matmul`` (docs/integer_ops.md "Dense").

All accumulate exactly (int64 reference, int32 contract) on centered
activations ``x - x_zp``; padding carries the zero point.  Optional
``mult``/``shift`` inputs select the requantized form, else int32 accumulators.
"""

from __future__ import annotations

import numpy as np

from ..ir import DType, Node, TensorType
from . import OpDef, register
from ._integer_common import (ACT_DTYPES, WEIGHT_DTYPES, check_weight_values, check_zp,
                              centered, const_type, epilogue, epilogue_type, err, exact_matmul,
                              in_type, inp, ints)

_BIAS = (DType.int32,)


# -- conv2d ----------------------------------------------------------------------------
def _conv_attrs(node: Node):
    strides = ints(node, "strides", (1, 1), 2)
    pads = ints(node, "pads", (0, 0, 0, 0), 4)
    dil = ints(node, "dilations", (1, 1), 2)
    group = int(node.attr("group", 1))
    if min(strides) < 1 or min(dil) < 1 or min(pads) < 0 or group < 1:
        raise err(node, f"bad strides {strides} / pads {pads} / dilations {dil} / group {group}")
    return strides, pads, dil, group


def _check_bias(node: Node, i: int, m: int) -> None:
    if inp(node, i) is not None:
        t = const_type(node, i, "bias", _BIAS)
        if t.shape != (m,):
            raise err(node, f"bias shape {list(t.shape)} != [{m}]")


def _conv_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", ACT_DTYPES)
    wt = const_type(node, 1, "weight", WEIGHT_DTYPES)
    check_zp(node, "x_zp", xt.dtype)
    if xt.rank != 4 or wt.rank != 4:
        raise err(node, f"conv2d needs NCHW x and [M, C/g, kH, kW] weight, got {xt} and {wt}")
    (sh, sw), (pt, pl, pb, pr), (dh, dw), g = _conv_attrs(node)
    n, c, h, w = xt.shape
    m, cg, kh, kw = wt.shape
    if c % g or m % g or cg != c // g:
        raise err(node, f"channels C={c}, M={m}, weight C/g={cg} do not fit group={g}")
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise err(node, f"empty output {oh}x{ow}")
    _check_bias(node, 2, m)
    return [epilogue_type(node, 3, m, (n, m, oh, ow))]


def conv2d_acc(x, w, bias, strides, pads, dil, group, x_zp) -> np.ndarray:
    """int64 accumulators of an integer conv (padding = zero point)."""
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = strides, pads, dil
    xp = np.pad(centered(x, x_zp), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = xp.shape
    m, cg, kh, kw = w.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (wd - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), np.int64)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = xp[:, :, u * dh:u * dh + sh * (oh - 1) + 1:sh,
                                  v * dw:v * dw + sw * (ow - 1) + 1:sw]
    cols = cols.reshape(n, group, cg * kh * kw, oh * ow)
    wg = w.astype(np.int64).reshape(group, m // group, cg * kh * kw)
    acc = exact_matmul(wg[None], cols).reshape(n, m, oh, ow)
    if bias is not None:
        acc += bias.astype(np.int64).reshape(1, m, 1, 1)
    return acc


def _conv_run(node: Node, args):
    check_weight_values(node, args[1], node.inputs[1].dtype)
    strides, pads, dil, group = _conv_attrs(node)
    bias = args[2] if len(args) > 2 else None
    acc = conv2d_acc(args[0], args[1], bias, strides, pads, dil, group, node.attr("x_zp", 0))
    return [epilogue(node, acc, args, 3, axis=1)]


# -- conv_transpose2d ---------------------------------------------------------------------
def _convt_shape(node: Node, xt: TensorType, wt: TensorType):
    (sh, sw), (pt, pl, pb, pr), (dh, dw), g = _conv_attrs(node)
    oph, opw = ints(node, "output_padding", (0, 0), 2)
    if not (0 <= oph < sh and 0 <= opw < sw):  # onnxruntime's rule (stricter than PyTorch)
        raise err(node, f"output_padding {[oph, opw]} must be >= 0 and < strides {[sh, sw]}")
    n, c, h, w = xt.shape
    cw, mg, kh, kw = wt.shape
    if cw != c or c % g:
        raise err(node, f"weight [C, M/g, kH, kW] = {list(wt.shape)} does not fit C={c}, group={g}")
    oh = (h - 1) * sh + dh * (kh - 1) + 1 + oph - pt - pb
    ow = (w - 1) * sw + dw * (kw - 1) + 1 + opw - pl - pr
    if oh < 1 or ow < 1:
        raise err(node, f"empty output {oh}x{ow}")
    return (n, mg * g, oh, ow)


def _convt_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", ACT_DTYPES)
    wt = const_type(node, 1, "weight", WEIGHT_DTYPES)
    check_zp(node, "x_zp", xt.dtype)
    if xt.rank != 4 or wt.rank != 4:
        raise err(node, f"conv_transpose2d needs NCHW x and [C, M/g, kH, kW] weight")
    shape = _convt_shape(node, xt, wt)
    _check_bias(node, 2, shape[1])
    return [epilogue_type(node, 3, shape[1], shape)]


def conv_transpose2d_acc(x, w, bias, strides, pads, dil, group, out_pad, x_zp) -> np.ndarray:
    """int64 accumulators of an integer ConvTranspose (ONNX semantics)."""
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = strides, pads, dil
    xc = centered(x, x_zp)
    n, c, h, wd = xc.shape
    _, mg, kh, kw = w.shape
    cg = c // group
    xg = xc.reshape(n, group, cg, h * wd)
    wg = w.astype(np.int64).reshape(group, cg, mg * kh * kw).transpose(0, 2, 1)
    contrib = exact_matmul(wg[None], xg).reshape(n, group * mg, kh, kw, h, wd)
    fh = (h - 1) * sh + dh * (kh - 1) + 1 + out_pad[0]
    fw = (wd - 1) * sw + dw * (kw - 1) + 1 + out_pad[1]
    full = np.zeros((n, group * mg, fh, fw), np.int64)
    for u in range(kh):
        for v in range(kw):
            full[:, :, u * dh:u * dh + sh * (h - 1) + 1:sh,
                 v * dw:v * dw + sw * (wd - 1) + 1:sw] += contrib[:, :, u, v]
    acc = full[:, :, pt:fh - pb, pl:fw - pr]
    if bias is not None:
        acc = acc + bias.astype(np.int64).reshape(1, -1, 1, 1)
    return np.ascontiguousarray(acc)


def _convt_run(node: Node, args):
    check_weight_values(node, args[1], node.inputs[1].dtype)
    strides, pads, dil, group = _conv_attrs(node)
    out_pad = ints(node, "output_padding", (0, 0), 2)
    bias = args[2] if len(args) > 2 else None
    acc = conv_transpose2d_acc(args[0], args[1], bias, strides, pads, dil, group, out_pad,
                               node.attr("x_zp", 0))
    return [epilogue(node, acc, args, 3, axis=1)]


# -- linear / matmul -----------------------------------------------------------------------
def _linear_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", ACT_DTYPES)
    wt = const_type(node, 1, "weight", WEIGHT_DTYPES)
    check_zp(node, "x_zp", xt.dtype)
    if xt.rank < 1 or wt.rank != 2 or xt.shape[-1] != wt.shape[0]:
        raise err(node, f"linear needs x [..., K] and weight [K, N], got {xt} and {wt}")
    n = wt.shape[1]
    _check_bias(node, 2, n)
    return [epilogue_type(node, 3, n, xt.shape[:-1] + (n,))]


def _linear_run(node: Node, args):
    check_weight_values(node, args[1], node.inputs[1].dtype)
    acc = exact_matmul(centered(args[0], node.attr("x_zp", 0)), args[1])
    if len(args) > 2 and args[2] is not None:
        acc = acc + args[2].astype(np.int64)
    return [epilogue(node, acc, args, 3, axis=-1)]


def _matmul_infer(node: Node) -> list[TensorType]:
    at = in_type(node, 0, "a", ACT_DTYPES)
    bt = in_type(node, 1, "b", ACT_DTYPES)
    check_zp(node, "a_zp", at.dtype)
    check_zp(node, "b_zp", bt.dtype)
    if at.rank < 2 or bt.rank < 2 or at.shape[-1] != bt.shape[-2]:
        raise err(node, f"matmul needs a [..., M, K] and b [..., K, N], got {at} and {bt}")
    try:
        batch = np.broadcast_shapes(at.shape[:-2], bt.shape[:-2])
    except ValueError:
        raise err(node, f"batch dims of {at} and {bt} do not broadcast") from None
    shape = tuple(batch) + (at.shape[-2], bt.shape[-1])
    return [epilogue_type(node, 2, None, shape)]


def _matmul_run(node: Node, args):
    a = centered(args[0], node.attr("a_zp", 0))
    b = centered(args[1], node.attr("b_zp", 0))
    return [epilogue(node, exact_matmul(a, b), args, 2, axis=None)]


def _reg(name, infer, run, doc, lo, hi):
    register(OpDef(name=name, infer=infer, run=run, family="integer", doc=doc,
                   float_arith=False, min_inputs=lo, max_inputs=hi, num_outputs=1))


_reg("qcc.conv2d", _conv_infer, _conv_run,
     "int8 conv (NCHW, ONNX attrs) with int32 bias and fused requant/clamp epilogue", 2, 5)
_reg("qcc.conv_transpose2d", _convt_infer, _convt_run,
     "int8 ConvTranspose (ONNX attrs incl. output_padding) with requant epilogue", 2, 5)
_reg("qcc.linear", _linear_infer, _linear_run,
     "x int8 [..., K] times constant weight [K, N], per-N requant", 2, 5)
_reg("qcc.matmul", _matmul_infer, _matmul_run,
     "activation x activation int8 matmul with zero points; int32 or requantized", 2, 4)
