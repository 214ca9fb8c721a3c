"""Integer dense ops: ``qcc.conv2d``, ``qcc.conv_transpose2d``, ``qcc.linear``,
``qcc.matmul`` (docs/integer_ops.md "Dense").

All accumulate exactly (int64 reference, int32 contract) on centered
activations ``x - x_zp``; padding carries the zero point.  Optional
``mult``/``shift`` inputs select the requantized form, else int32 accumulators.
Per-group weights (``qcc.conv2d``/``qcc.linear`` input 5 ``gmult`` with attrs
``group_size``/``group_shift``): int32 partial sums per group of the reduction
axis, rescaled by integer group multipliers into an int64 sum, rounded back to
one int32 accumulator, then the usual epilogue (docs/integer_ops.md "Per-group").
"""

from __future__ import annotations

import numpy as np

from .. import arith
from ..ir import DType, Node, TensorType
from . import OpDef, register
from ._integer_common import (ACT_DTYPES, WEIGHT_DTYPES, check_weight_values, check_zp,
                              centered, const_type, epilogue, epilogue_type, err, exact_matmul,
                              in_type, inp, ints)

_BIAS = (DType.int32,)
GROUP_SHIFT_MAX = 24
_GM = 5  # input index of the per-group multipliers


# -- per-group weights -----------------------------------------------------------------
def _group_attrs(node: Node, k: int, m: int):
    """(group_size, group_shift, n_groups) of a per-group op, or None; checks gmult."""
    gv = node.inputs[_GM] if len(node.inputs) > _GM else None
    if gv is None:
        return None
    gsz, gsh = int(node.attr("group_size", 0)), int(node.attr("group_shift", 16))
    if gsz < 1 or not 1 <= gsh <= GROUP_SHIFT_MAX:
        raise err(node, f"per-group weights need group_size >= 1 and group_shift in "
                        f"[1, {GROUP_SHIFT_MAX}], got {gsz} / {gsh}")
    ng = -(-k // gsz)
    t = const_type(node, _GM, "gmult", (DType.int32,))
    if t.shape != (m, ng):
        raise err(node, f"gmult shape {list(t.shape)} != [{m}, {ng}] (channels, ceil(K/group_size))")
    d = gv.data
    if d.size and (d.min() < 0 or int(d.max()) > (1 << gsh)):
        raise err(node, f"gmult values outside [0, 2^{gsh}]")
    return gsz, gsh, ng


def grouped_acc(xk: np.ndarray, wk: np.ndarray, gmult: np.ndarray, gsz: int, gsh: int,
                bias) -> np.ndarray:
    """Per-group accumulation.  xk [..., P, K] centered int64 (P positions),
    wk [M, K] int weights, gmult [M, ng]; returns int64 acc [..., M, P]:
    ``acc = rshift_round(sum_g acc_g * gmult[:, g] + (bias << gsh), gsh)`` with
    ``acc_g`` the int32 partial dot products over ``k in [g*gsz, (g+1)*gsz)``."""
    m, k = wk.shape
    ng = gmult.shape[1]
    pad = ng * gsz - k
    xp = np.pad(xk, [(0, 0)] * (xk.ndim - 1) + [(0, pad)])
    wp = np.pad(np.asarray(wk, np.int64), ((0, 0), (0, pad)))
    xg = np.moveaxis(xp.reshape(xp.shape[:-1] + (ng, gsz)), -2, -3)  # [..., ng, P, G]
    wg = wp.reshape(m, ng, gsz).transpose(1, 2, 0)                     # [ng, G, M]
    part = arith.check_int32(exact_matmul(xg, wg), "per-group partial sum")  # [..., ng, P, M]
    big = np.einsum("...gpm,mg->...mp", part.astype(np.int64), gmult.astype(np.int64))
    if bias is not None:
        big = big + (bias.astype(np.int64) << gsh)[:, None]
    return arith.rshift_round(big, gsh)


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
    _group_attrs(node, cg * kh * kw, m)
    return [epilogue_type(node, 3, m, (n, m, oh, ow))]


def conv2d_acc(x, w, bias, strides, pads, dil, group, x_zp, grouping=None) -> np.ndarray:
    """int64 accumulators of an integer conv (padding = zero point); ``grouping`` =
    (gmult [M, ng], group_size, group_shift) for per-group weights along the flattened
    reduction axis ``(c, u, v)`` of each output channel."""
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
    if grouping is not None:
        gm, gsz, gsh = grouping
        mg = m // group
        outs = [grouped_acc(np.swapaxes(cols[:, gi], 1, 2), w[gi * mg:(gi + 1) * mg].reshape(mg, -1),
                            gm[gi * mg:(gi + 1) * mg], gsz, gsh,
                            None if bias is None else bias[gi * mg:(gi + 1) * mg])
                for gi in range(group)]
        return np.concatenate(outs, axis=1).reshape(n, m, oh, ow)
    wg = w.astype(np.int64).reshape(group, m // group, cg * kh * kw)
    acc = exact_matmul(wg[None], cols).reshape(n, m, oh, ow)
    if bias is not None:
        acc += bias.astype(np.int64).reshape(1, m, 1, 1)
    return acc


def _conv_run(node: Node, args):
    check_weight_values(node, args[1], node.inputs[1].dtype)
    strides, pads, dil, group = _conv_attrs(node)
    bias = args[2] if len(args) > 2 else None
    ga = _group_attrs(node, int(np.prod(args[1].shape[1:])), args[1].shape[0])
    grouping = None if ga is None else (args[_GM], ga[0], ga[1])
    acc = conv2d_acc(args[0], args[1], bias, strides, pads, dil, group, node.attr("x_zp", 0),
                     grouping)
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
    _group_attrs(node, wt.shape[0], n)
    return [epilogue_type(node, 3, n, xt.shape[:-1] + (n,))]


def _linear_run(node: Node, args):
    check_weight_values(node, args[1], node.inputs[1].dtype)
    x = centered(args[0], node.attr("x_zp", 0))
    bias = args[2] if len(args) > 2 else None
    ga = _group_attrs(node, args[1].shape[0], args[1].shape[1])
    if ga is not None:
        xk = x.reshape(-1, 1, x.shape[-1])
        acc = grouped_acc(xk, args[1].T, args[_GM], ga[0], ga[1], bias)
        return [epilogue(node, acc.reshape(x.shape[:-1] + (args[1].shape[1],)), args, 3, axis=-1)]
    acc = exact_matmul(x, args[1])
    if bias is not None:
        acc = acc + bias.astype(np.int64)
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
     "int8 conv (NCHW, ONNX attrs) with int32 bias and fused requant/clamp epilogue", 2, 6)
_reg("qcc.conv_transpose2d", _convt_infer, _convt_run,
     "int8 ConvTranspose (ONNX attrs incl. output_padding) with requant epilogue", 2, 5)
_reg("qcc.linear", _linear_infer, _linear_run,
     "x int8 [..., K] times constant weight [K, N], per-N requant (per-group: gmult)", 2, 6)
_reg("qcc.matmul", _matmul_infer, _matmul_run,
     "activation x activation int8 matmul with zero points; int32 or requantized", 2, 4)
