"""Lowering rules for the dense integer ops: conv2d (general, grouped, depthwise,
pointwise), conv_transpose2d, linear, matmul.  Layout NCHW, weights as in the IR; the
tiling (conv algorithm and im2col block, packed matmul operand) comes from the Target."""

from __future__ import annotations

import dataclasses

import numpy as np

from qcc.ir import DType, Node, Value

from . import convt_phases
from .kernels import (Const, Conv2d, ConvGeometry, ConvTranspose2d, Epilogue, Grouping, Linear,
                      Matmul)
from .program import Lowerer
from .target import Target

WBITS = {DType.int8: 8, DType.int4: 4, DType.int2: 2}


def epilogue(lw: Lowerer, node: Node, i_m: int) -> Epilogue:
    """The optional requant epilogue (multiplier/shift at inputs i_m, i_m+1); the rule sets
    the bias after its weights (constant buffers are numbered in first-use order)."""
    out = node.outputs[0]
    has = i_m < len(node.inputs) and node.inputs[i_m] is not None
    if not has:
        return Epilogue(out.dtype, lo=out.dtype.min, hi=out.dtype.max)
    m, s = node.inputs[i_m], node.inputs[i_m + 1]
    mc, sc = lw.const(m), lw.const(s)
    return Epilogue(out.dtype, mc, sc, per_channel=bool(m.data.size > 1),
                    zero_point=int(node.attr("y_zp", 0)),
                    lo=int(node.attr("act_min", out.dtype.min)),
                    hi=int(node.attr("act_max", out.dtype.max)), bias=None)


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


def weight_rows(lw: Lowerer, w: Value, rows: np.ndarray) -> tuple[Const, int]:
    """(constant buffer, bits) of a weight matrix stored row-wise, packed for int4/int2."""
    bits = WBITS.get(w.dtype)
    if bits is None or bits not in lw.target.weight_bits:
        takes = "/".join(f"int{b}" for b in lw.target.weight_bits)
        raise lw.err(f"weight '{w.name}' has dtype {w.dtype.name}; the kernels take {takes} "
                     f"weights")
    return lw.table(f"{w.name}.rows{bits}", pack_rows(rows, bits), DType.int8), bits


def grouping(lw: Lowerer, node: Node):
    """Per-group weight scales (input 5), or None."""
    gv = node.inputs[5] if len(node.inputs) > 5 else None
    if gv is None:
        return None
    return Grouping(lw.const(gv), int(node.attr("group_size")), int(node.attr("group_shift", 16)),
                    int(gv.shape[1]))


def _bias(lw: Lowerer, node: Node):
    b = node.inputs[2] if len(node.inputs) > 2 else None
    return lw.const(b) if b is not None else None


def _geometry(node: Node) -> ConvGeometry:
    x, out = node.inputs[0], node.outputs[0]
    w = node.inputs[1]
    n, c, h, wd = x.shape
    kh, kw = w.shape[2:]
    sh, sw = node.attr("strides", [1, 1])
    dh, dw = node.attr("dilations", [1, 1])
    pt, pl, _, _ = node.attr("pads", [0, 0, 0, 0])
    return ConvGeometry(n, c, h, wd, out.shape[1], out.shape[2], out.shape[3], kh, kw, sh, sw,
                        dh, dw, pt, pl, int(node.attr("group", 1)))


def as_row(g: ConvGeometry) -> ConvGeometry:
    """An H x 1 plane under a kH x 1 kernel (a 1-D conv exported along H, e.g. magika's
    Conv 5x1) as the 1 x H plane under a 1 x kH kernel: x, the weights and y keep their
    memory order (the single column is the single row), but the kernels then see one long
    output row (contiguous im2col segments, vector lanes along it) instead of H rows of one
    column each. Other geometries unchanged."""
    if g.w != 1 or g.kw != 1 or g.ow != 1 or g.pl != 0 or g.h == 1:
        return g
    return dataclasses.replace(g, h=1, w=g.h, oh=1, ow=g.oh, kh=1, kw=g.kh, sh=1, sw=g.sh,
                               dh=1, dw=g.dh, pt=0, pl=g.pt)


def conv2d(lw: Lowerer, node: Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    g = as_row(_geometry(node))
    epi = epilogue(lw, node, 3)
    gm = grouping(lw, node)
    wrows, wbits = weight_rows(lw, w, np.asarray(w.data).reshape(g.m, -1))
    epi.bias = _bias(lw, node)
    pb = conv_block(lw.target, g.c // g.group, g.kh * g.kw, g.oh * g.ow,
                    grouped=gm is not None or wbits != 8)
    algo = "im2col" if pb else ("depthwise" if g.c == g.group and g.dh == 1 and g.dw == 1
                                else "direct")
    k = Conv2d(node=node, x=lw.read(x), w=wrows, y=node.outputs[0], geom=g,
               x_zp=int(node.attr("x_zp", 0)), epi=epi, wbits=wbits, grouping=gm, block=pb,
               algo=algo)
    lw.call(k, scratch=conv_scratch(g, pb))
    if _pointwise(g) and not pb:
        k.wider = tuple((b, "pw_cols", c) for c in lw.target.pw_wide_cols
                        if (b := conv_scratch(g, pb, c)) > k.scratch)


PW_DSP_COLS = 8  # == QCC_PW_DSP_COLS in kernels/conv2d_im2col.c


def _pointwise(g: ConvGeometry) -> bool:
    return (g.kh, g.kw, g.sh, g.sw, g.oh, g.ow) == (1, 1, 1, 1, g.h, g.w) and g.c // g.group > 0


def dw_dsp_scratch(g: ConvGeometry) -> int:
    """Scratch of the Arm DSP depthwise kernel (kernels/conv2d_dw_dsp.c, qcc_dwd_dims): the
    input plane padded with the zero point (ph rows of pw bytes, rounded up to 4) and the
    weight pair table (kh * nt entries of 24 bytes); pw a multiple of 4 and up to 3 bytes
    before the plane, so that its interior starts on a word."""
    nt = (g.sw + g.kw - 1) // 4 + 1
    ph = (g.oh - 1) * g.sh + g.kh
    pw = (((g.ow + 3) // 4 * 4 - 2) * g.sw + 4 * nt + 3) // 4 * 4
    return (ph * pw + 6) // 4 * 4 + 24 * g.kh * nt


def conv_scratch(g: ConvGeometry, pb: int, pw_cols: int = PW_DSP_COLS) -> int:
    """Scratch bytes of a conv2d: im2col columns (int16), the depthwise kernel's int32
    accumulators and int16 phase planes (or the Arm DSP depthwise kernel's padded plane and
    pair table, whichever is larger), or the direct kernel's int32 plane (pointwise: or
    ``pw_cols`` int16 columns, the larger)."""
    if pb:
        return 2 * pb * (g.c // g.group) * g.kh * g.kw
    if g.c == g.group and g.dh == 1 and g.dw == 1:
        sh, sw = g.sh, g.sw
        phh = ((g.oh - 1) * sh + g.kh + sh - 1) // sh + 1
        pw = ((g.ow - 1) * sw + g.kw + sw - 1) // sw
        return max(4 * g.oh * pw + 2 * sh * sw * phh * pw, dw_dsp_scratch(g))
    if _pointwise(g):
        # pointwise: the Arm DSP build runs it as an im2col GEMM in this scratch, at least
        # pw_cols int16 columns of C/group (kernels/conv2d_im2col.c, qcc_conv_pb)
        cols = min(g.oh * g.ow, pw_cols)
        return max(4 * g.oh * g.ow, 2 * cols * (g.c // g.group))
    return 4 * g.oh * g.ow


def conv_block(t: Target, cg: int, taps: int, plane: int, grouped: bool = False) -> int:
    """Output positions per im2col block, or 0 for the direct (weight-stationary) kernel:
    depthwise convs (one input channel per output) and pointwise convs on large planes,
    whose rows stream well; everything else (and per-group or packed int4/int2 weights)
    is an im2col + dot-product GEMM."""
    if not grouped and (cg == 1 or (taps == 1 and plane >= t.pw_direct_plane)):
        return 0
    k = cg * taps
    return int(max(1, min(plane, t.im2col_bytes // (2 * k))))


def conv_transpose2d(lw: Lowerer, node: Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    g = _geometry(node)
    epi = epilogue(lw, node, 3)
    if lw.target.convt_phases and convt_phases.supported(g):
        _conv_transpose_phased(lw, node, g, epi)
        return
    wc = lw.const(w)
    epi.bias = _bias(lw, node)
    k = ConvTranspose2d(node=node, x=lw.read(x), w=wc, y=node.outputs[0], geom=g,
                        x_zp=int(node.attr("x_zp", 0)), epi=epi)
    lw.call(k, scratch=4 * g.m * g.oh * g.ow)


def _conv_transpose_phased(lw: Lowerer, node: Node, g: ConvGeometry, epi: Epilogue) -> None:
    """One stride-1 conv2d per output phase (:mod:`qcc.lower.convt_phases`).  Scratch: one
    phase's outputs (none for stride 1, which writes y directly), then the largest conv2d
    scratch of a phase, 16-byte aligned."""
    x, w, out = node.inputs[0], node.inputs[1], node.outputs[0]

    def block(pg: ConvGeometry):
        pb = conv_block(lw.target, pg.c // pg.group, pg.kh * pg.kw, pg.oh * pg.ow)
        return pb, conv_scratch(pg, pb)

    table, rows, scratch = convt_phases.phase_table(g, np.asarray(w.data), block)
    wc = lw.table(f"{w.name}.phases8", rows, DType.int8)
    tc = lw.table(f"{node.name}.phases", table)
    epi.bias = _bias(lw, node)
    plane = max(int(t[2]) * int(t[3]) for t in table)
    buf = 0 if g.sh == g.sw == 1 else g.m * plane * np.dtype(out.dtype.np).itemsize
    buf = (buf + 15) // 16 * 16
    k = ConvTranspose2d(node=node, x=lw.read(x), w=wc, phases=tc, phase_scratch=buf, y=out,
                        geom=g, x_zp=int(node.attr("x_zp", 0)), epi=epi)
    lw.call(k, scratch=buf + max(scratch))


def linear(lw: Lowerer, node: Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    kk, nn = w.shape
    epi = epilogue(lw, node, 3)
    gm = grouping(lw, node)
    wt, wbits = weight_rows(lw, w, np.asarray(w.data).T)
    epi.bias = _bias(lw, node)
    k = Linear(node=node, x=lw.read(x), w=wt, y=node.outputs[0], rows=x.type.numel // kk, k=kk,
               n=nn, x_zp=int(node.attr("x_zp", 0)), epi=epi, wbits=wbits, grouping=gm)
    lw.call(k, scratch=linear_scratch(x.type.numel // kk, kk))


def linear_scratch(rows: int, k: int) -> int:
    """Scratch bytes of a linear: one centred int16 row, or with three rows or more, one quad
    block of four rows (4 * roundup(k, 4) int16) for the Arm DSP 1x4 GEMM
    (kernels/common_dsp.h, qcc_linear_gemm4)."""
    return 2 * k if rows < 3 else 8 * ((k + 3) // 4 * 4)


def batch_offsets(shape, batch, stride: int) -> np.ndarray:
    """Element offset of every broadcast batch index into a tensor with batch dims ``shape``."""
    cnt = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    idx = np.arange(cnt, dtype=np.int64).reshape(shape) if len(shape) else np.zeros((), np.int64)
    return (np.broadcast_to(idx, batch).ravel() * stride).astype(np.int32)


def matmul(lw: Lowerer, node: Node) -> None:
    a, b = node.inputs[0], node.inputs[1]
    out = node.outputs[0]
    m, kk = a.shape[-2:]
    nn = b.shape[-1]
    batch = out.shape[:-2]
    epi = epilogue(lw, node, 2)
    packed = 2 * (kk + kk * nn) <= lw.target.matmul_pack_bytes
    a_off = lw.table(f"{node.name}.a_off", batch_offsets(a.shape[:-2], batch, m * kk))
    b_off = lw.table(f"{node.name}.b_off", batch_offsets(b.shape[:-2], batch, kk * nn))
    k = Matmul(node=node, a=lw.read(a), b=lw.read(b), a_off=a_off, b_off=b_off, y=out,
               batch=int(np.prod(batch, dtype=np.int64)), m=m, k=kk, n=nn,
               a_zp=int(node.attr("a_zp", 0)), b_zp=int(node.attr("b_zp", 0)), epi=epi,
               packed=packed)
    blk = lw.target.matmul_block
    if blk:  # staged blocks of b (and a signed copy of a uint8 a) for an array
        k.packed = False
        nbat = k.batch
        staged = nbat * -(-kk // blk) * -(-nn // blk) * blk * blk
        lw.call(k, scratch=staged + (nbat * m * kk if a.dtype is DType.uint8 else 0))
        return
    lw.call(k, scratch=2 * (kk + kk * nn) if packed else 4 * nn)


RULES = {"qcc.conv2d": conv2d, "qcc.conv_transpose2d": conv_transpose2d, "qcc.linear": linear,
         "qcc.matmul": matmul}
