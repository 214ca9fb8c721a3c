"""Lowering rules for the dense integer ops: conv2d (general, grouped, depthwise,
pointwise), conv_transpose2d, linear, matmul.  Layout NCHW, weights as in the IR."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node

from .lower import NULL, Arg, Lowerer, check_node_dtypes
from .program import dtype_code, rule


def _epilogue(lw: Lowerer, node: Node, i_m: int, dtypes=(DType.int8, DType.uint8, DType.int16)):
    """(mult, shift, per_channel, y_zp, lo, hi) args/params of the optional requant epilogue."""
    out = node.outputs[0]
    has = i_m < len(node.inputs) and node.inputs[i_m] is not None
    if not has:
        return NULL, NULL, 0, 0, 0, 0
    if out.dtype not in dtypes:
        raise LoweringError(f"target c: {node.op} node '{node.name}' outputs {out.dtype.short}; "
                            f"the C kernel writes {'/'.join(d.short for d in dtypes)} "
                            f"(or int32 accumulators)")
    m, s = node.inputs[i_m], node.inputs[i_m + 1]
    lo = int(node.attr("act_min", out.dtype.min))
    hi = int(node.attr("act_max", out.dtype.max))
    return (lw.const(m), lw.const(s), int(m.data.size > 1), int(node.attr("y_zp", 0)), lo, hi)


def _y_dt(node: Node) -> str:
    out = node.outputs[0]
    return "QCC_I32" if out.dtype is DType.int32 else dtype_code(out.dtype)


WBITS = {DType.int8: 8, DType.int4: 4, DType.int2: 2}


def pack_rows(rows: np.ndarray, bits: int) -> np.ndarray:
    """Rows of int weights [R, K] -> bytes [R, ceil(K*bits/8)]: value t of a row in bits
    ``(t % (8/bits)) * bits`` of byte ``t // (8/bits)`` (two's complement fields)."""
    rows = np.asarray(rows, np.int64)
    if bits == 8:
        return rows.astype(np.int8)
    per = 8 // bits
    r, k = rows.shape
    pad = np.zeros((r, -(-k // per) * per), np.int64)
    pad[:, :k] = rows & ((1 << bits) - 1)
    fields = pad.reshape(r, -1, per) << (np.arange(per) * bits)
    return fields.sum(axis=2).astype(np.uint8).view(np.int8)


def _weight_rows(lw: Lowerer, w, rows: np.ndarray):
    """(const arg, bits) of a weight matrix stored row-wise, packed for int4/int2."""
    bits = WBITS.get(w.dtype)
    if bits is None:
        raise LoweringError(f"target c: weight '{w.name}' has dtype {w.dtype.name}; the C "
                            f"kernels take int8/int4/int2 weights")
    return lw.table(f"{w.name}.rows{bits}", pack_rows(rows, bits), "int8_t"), bits


def _grouping(lw: Lowerer, node: Node):
    """(gmult arg, gsize, gshift, ng) of per-group weights (input 5), or (NULL, 0, 0, 0)."""
    gv = node.inputs[5] if len(node.inputs) > 5 else None
    if gv is None:
        return NULL, 0, 0, 0
    return (lw.const(gv), int(node.attr("group_size")), int(node.attr("group_shift", 16)),
            int(gv.shape[1]))


def _bias(lw: Lowerer, node: Node) -> Arg:
    b = node.inputs[2] if len(node.inputs) > 2 else None
    return lw.const(b) if b is not None else NULL


def _out_arg(lw: Lowerer, node: Node) -> Arg:
    return lw.write(node.outputs[0], "void")


@rule("qcc.conv2d")
def conv2d(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    x, w = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    n, c, h, wd = x.shape
    mo, _, kh, kw = w.shape
    mult, shift, pc, yzp, lo, hi = _epilogue(lw, node, 3)
    sh, sw = node.attr("strides", [1, 1])
    dh, dw = node.attr("dilations", [1, 1])
    pt, pl, _, _ = node.attr("pads", [0, 0, 0, 0])
    group = int(node.attr("group", 1))
    plane = out.shape[2] * out.shape[3]
    gm, gsize, gshift, ng = _grouping(lw, node)
    wrows, wbits = _weight_rows(lw, w, np.asarray(w.data).reshape(mo, -1))
    pb = conv_block(c // group, kh * kw, plane, grouped=gm is not NULL or wbits != 8)
    params = dict(n=n, c=c, h=h, w=wd, m=mo, oh=out.shape[2], ow=out.shape[3], kh=kh, kw=kw,
                  sh=sh, sw=sw, dh=dh, dw=dw, pt=pt, pl=pl, group=group,
                  x_zp=int(node.attr("x_zp", 0)), y_zp=yzp, lo=lo, hi=hi, per_channel=pc, pb=pb,
                  y_dt=_y_dt(node), gsize=gsize, gshift=gshift, ng=ng, wbits=wbits)
    args = [lw.read(x), wrows, _bias(lw, node), mult, shift, gm,
            _out_arg(lw, node), Arg("scratch", ctype="void")]
    lw.step(node, "conv2d", "qcc_conv2d", "qcc_conv2d_p", params, args,
            scratch=conv_scratch(params))


def conv_scratch(p: dict) -> int:
    """Scratch bytes of qcc_conv2d: im2col columns, the depthwise kernel's accumulators and
    int16 phase planes (qcc_dw_dims in conv2d.c), or the direct kernel's int32 plane."""
    if p["pb"]:
        return 2 * p["pb"] * (p["c"] // p["group"]) * p["kh"] * p["kw"]
    if p["c"] == p["group"] and p["dh"] == 1 and p["dw"] == 1:
        sh, sw = p["sh"], p["sw"]
        phh = ((p["oh"] - 1) * sh + p["kh"] + sh - 1) // sh + 1
        pw = ((p["ow"] - 1) * sw + p["kw"] + sw - 1) // sw
        return 4 * p["oh"] * pw + 2 * sh * sw * phh * pw
    return 4 * p["oh"] * p["ow"]


IM2COL_BYTES = 8192  # im2col scratch budget (int16 columns); at least one output position
PW_DIRECT_PLANE = 64  # pointwise convs on planes this large use the direct kernel (measured)


def conv_block(cg: int, taps: int, plane: int, grouped: bool = False) -> int:
    """Output positions per im2col block, or 0 for the direct (weight-stationary) kernel:
    depthwise convs (one input channel per output) and pointwise convs on large planes,
    whose rows stream well; everything else (and per-group or packed int4/int2 weights)
    is an im2col + dot-product GEMM."""
    if not grouped and (cg == 1 or (taps == 1 and plane >= PW_DIRECT_PLANE)):
        return 0
    k = cg * taps
    return int(max(1, min(plane, IM2COL_BYTES // (2 * k))))


@rule("qcc.conv_transpose2d")
def conv_transpose2d(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    x, w = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    n, c, h, wd = x.shape
    _, _, kh, kw = w.shape
    mult, shift, pc, yzp, lo, hi = _epilogue(lw, node, 3, (DType.int8,))
    sh, sw = node.attr("strides", [1, 1])
    dh, dw = node.attr("dilations", [1, 1])
    pt, pl, _, _ = node.attr("pads", [0, 0, 0, 0])
    mo, oh, ow = out.shape[1:]
    params = dict(n=n, c=c, h=h, w=wd, m=mo, oh=oh, ow=ow, kh=kh, kw=kw, sh=sh, sw=sw,
                  dh=dh, dw=dw, pt=pt, pl=pl, group=int(node.attr("group", 1)),
                  x_zp=int(node.attr("x_zp", 0)), y_zp=yzp, lo=lo, hi=hi, per_channel=pc)
    args = [lw.read(x), lw.const(w, "int8_t"), _bias(lw, node), mult, shift,
            _out_arg(lw, node), Arg("scratch", ctype="int32_t")]
    lw.step(node, "conv_transpose2d", "qcc_conv_transpose2d", "qcc_convt_p", params, args,
            scratch=4 * mo * oh * ow)


@rule("qcc.linear")
def linear(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node, (DType.int8, DType.uint8))
    x, w = node.inputs[0], node.inputs[1]
    k, nn = w.shape
    mult, shift, pc, yzp, lo, hi = _epilogue(lw, node, 3)
    gm, gsize, gshift, ng = _grouping(lw, node)
    params = dict(rows=x.type.numel // k, k=k, n=nn, x_dt=dtype_code(x.dtype), y_dt=_y_dt(node),
                  x_zp=int(node.attr("x_zp", 0)), y_zp=yzp, lo=lo, hi=hi, per_channel=pc,
                  gsize=gsize, gshift=gshift, ng=ng)
    wt, params["wbits"] = _weight_rows(lw, w, np.asarray(w.data).T)
    args = [lw.read(x, "void"), wt, _bias(lw, node), mult, shift, gm,
            _out_arg(lw, node), Arg("scratch", ctype="int16_t")]
    lw.step(node, "linear", "qcc_linear", "qcc_linear_p", params, args, scratch=2 * k)


MATMUL_PACK_BYTES = 32768  # scratch budget of the transposed int16 copy of b


def batch_offsets(shape, batch, stride: int) -> np.ndarray:
    """Element offset of every broadcast batch index into a tensor with batch dims ``shape``."""
    cnt = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    idx = np.arange(cnt, dtype=np.int64).reshape(shape) if len(shape) else np.zeros((), np.int64)
    return (np.broadcast_to(idx, batch).ravel() * stride).astype(np.int32)


@rule("qcc.matmul")
def matmul(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node, (DType.int8, DType.uint8))
    a, b = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    m, k = a.shape[-2:]
    nn = b.shape[-1]
    batch = out.shape[:-2]
    mult, shift, _, yzp, lo, hi = _epilogue(lw, node, 2)
    params = dict(batch=int(np.prod(batch, dtype=np.int64)), m=m, k=k, n=nn,
                  a_dt=dtype_code(a.dtype), b_dt=dtype_code(b.dtype),
                  a_zp=int(node.attr("a_zp", 0)), b_zp=int(node.attr("b_zp", 0)),
                  y_dt=_y_dt(node), y_zp=yzp, lo=lo, hi=hi,
                  packed=int(2 * (k + k * nn) <= MATMUL_PACK_BYTES))
    a_off = lw.table(f"{node.name}.a_off", batch_offsets(a.shape[:-2], batch, m * k))
    b_off = lw.table(f"{node.name}.b_off", batch_offsets(b.shape[:-2], batch, k * nn))
    args = [lw.read(a, "void"), lw.read(b, "void"), a_off, b_off, mult, shift,
            _out_arg(lw, node), Arg("scratch", ctype="void")]
    scratch = 2 * (k + k * nn) if params["packed"] else 4 * nn
    lw.step(node, "matmul", "qcc_matmul", "qcc_matmul_p", params, args, scratch=scratch)
