"""Kernel calls of the dense ops, from numpy constants and attributes (no IR needed).

A :class:`Call` names a kernel template and configuration, its constant tensors (numpy,
prepared by ``prep``), its activation operands (roles ``a``/``b``/``c``) and its integer
launch parameters.  The renderers (``render_*.py``) build them from the kernel program's
calls; the per-kernel tests and the GPU benchmark build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcc.errors import LoweringError

from . import prep
from .render import TL_TYPES

OUT_NP = {"i8": "int8", "u8": "uint8", "i16": "int16", "i32": "int32"}
LIMITS = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
          "int32": (-(1 << 31), (1 << 31) - 1)}


@dataclass
class Call:
    """One kernel launch: ``family`` names the template (gemm, ewise, taps, row, gather,
    rnn), ``cfg`` its specialization, ``consts`` role -> numpy array or a kernel program
    :class:`~qcc.lower.Const`, ``params`` the integer launch parameters, ``tensors`` role ->
    activation operand (:class:`~qcc.backends.triton.program.Act`; set by the renderers)."""

    family: str
    cfg: dict
    consts: dict = field(default_factory=dict)    # role -> np.ndarray | Const
    params: dict = field(default_factory=dict)    # int launch parameters
    tensors: dict = field(default_factory=dict)   # role -> Act
    fused: str = ""                               # the residual node folded into it


def pow2_tile(n: int, lo: int, hi: int) -> int:
    t = lo
    while t < n and t < hi:
        t *= 2
    return t


def epilogue(m, s, out: str, y_zp: int = 0, lo=None, hi=None):
    """(cfg, consts, params) of the requant epilogue; ``m is None``: int32 accumulators."""
    if m is None:
        return {"requant": False, "per_channel": False, "out_tl": "tl.int32"}, {}, {}
    m = np.asarray(m, np.int32).reshape(-1)
    s = np.asarray(s, np.int32).reshape(-1)
    qlo, qhi = LIMITS[out]
    lo = qlo if lo is None else int(lo)
    hi = qhi if hi is None else int(hi)
    cfg = {"requant": True, "per_channel": m.size > 1, "out_tl": TL_TYPES[out]}
    return cfg, {"m": m, "s": s}, {"y_zp": int(y_zp), "lo": lo, "hi": hi}


WIDE_BK = 512  # K tile of the int64-accumulator form: 512 * 255 * 128 < 2^31 per tile


def tiles(m: int, n: int, per: int, interpret: bool = True, wide: bool = False):
    """One fixed configuration (the interpreter runs programs one by one: large tiles; the
    int64-accumulator form, whose K is long, takes a longer K tile)."""
    bm = pow2_tile(m, 16, 64)
    bn = pow2_tile(n, 16, 64)
    bk = max(32 * per, WIDE_BK if wide else 64)
    return bm, bn, bk


def linear_call(name: str, x_shape, x_dtype: str, w: np.ndarray, bits: int, bias, m, s,
                out: str, x_zp: int = 0, y_zp: int = 0, lo=None, hi=None,
                gmult=None, gsz: int = 0, gsh: int = 16, wide: bool = False) -> Call:
    """``qcc.linear``: x [..., K] int8/uint8, w [K, N] values of ``bits`` bits.  ``wide``:
    int64 accumulation across K tiles (the ``acc_bits=64`` form)."""
    k, n = w.shape
    rows = int(np.prod(x_shape[:-1], dtype=np.int64))
    a_off = prep.a_offset(x_dtype)
    grouped = gmult is not None
    per = prep.per_byte(bits)
    if grouped and gsz % per:
        per, bits = 1, 8  # groups must start on a byte: keep such weights unpacked
    bm, bn, bk = tiles(rows, n, per, wide=wide)
    ecfg, econ, epar = epilogue(m, s, out, y_zp, lo, hi)
    cfg = dict(a_mode="dense", a_off=a_off, b_kind="w", b_off=0, bits=bits, per=per,
               grouped=grouped, gshift=int(gsh), e=ecfg, BM=bm, BN=bn, BK=bk, wide=wide)
    consts = dict(econ, b=prep.pack_k(w, bits))
    if grouped:
        consts["corr"] = np.zeros(n, np.int32) if bias is None else np.asarray(bias, np.int32)
        consts["gm"] = np.ascontiguousarray(gmult, np.int32)
        consts["gs"] = prep.group_sums(w, gsz)
    else:
        consts["corr"] = prep.corr_term(w, bias, a_off, x_zp, wide)
    params = dict(epar, M=rows, N=n, K=k, KP=consts["b"].shape[0], za=int(x_zp),
                  NG=(-(-k // gsz) if grouped else 0), GS=int(gsz), COUT=n)
    return Call("gemm", dict(cfg, name=name), consts, params)


def conv_call(name: str, x_shape, x_dtype: str, w: np.ndarray, bits: int, bias, m, s, out: str,
              strides, pads, dil, group: int, x_zp: int = 0, y_zp: int = 0, lo=None, hi=None,
              gmult=None, gsz: int = 0, gsh: int = 16, out_hw=None, wide: bool = False) -> Call:
    """``qcc.conv2d`` as an implicit GEMM over NCHW: rows (n, oy, ox), columns the
    output channels of one group (grid axis 2), K = (c, u, v).  ``out_hw``: the output
    plane (else from all four ``pads``)."""
    nb, cin, h, wd = x_shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = strides, dil
    pt, pl = pads[0], pads[1]
    if out_hw is not None:
        oh, ow = out_hw
    else:
        oh = (h + pt + pads[2] - dh * (kh - 1) - 1) // sh + 1
        ow = (wd + pl + pads[3] - dw * (kw - 1) - 1) // sw + 1
    mg = cout // group
    kdim = cg * kh * kw
    wg = prep.conv_weight_gkn(w, group)   # [g, K, MG]
    a_off = prep.a_offset(x_dtype)
    grouped = gmult is not None
    per = prep.per_byte(bits)
    if grouped and gsz % per:
        per, bits = 1, 8
    bm, bn, bk = tiles(nb * oh * ow, mg, per, wide=wide)
    ecfg, econ, epar = epilogue(m, s, out, y_zp, lo, hi)
    cfg = dict(a_mode="conv", a_off=a_off, b_kind="w", b_off=0, bits=bits, per=per,
               grouped=grouped, gshift=int(gsh), e=ecfg, BM=bm, BN=bn, BK=bk, wide=wide)
    consts = dict(econ, b=prep.pack_k(wg, bits))
    if grouped:
        consts["corr"] = np.zeros(cout, np.int32) if bias is None else np.asarray(bias, np.int32)
        consts["gm"] = np.ascontiguousarray(gmult, np.int32)
        consts["gs"] = prep.group_sums(wg, gsz)
    else:
        consts["corr"] = prep.corr_term(wg, bias, a_off, x_zp, wide)
    params = dict(epar, M=nb * oh * ow, N=mg, K=kdim, KP=consts["b"].shape[1], B=group,
                  NG=(-(-kdim // gsz) if grouped else 0), GS=int(gsz), CIN=cin, H=h, W=wd,
                  OH=oh, OW=ow, KH=kh, KW=kw, SH=sh, SW=sw, PT=pt, PL=pl, DH=dh, DW=dw,
                  COUT=cout, za=int(x_zp))
    return Call("gemm", dict(cfg, name=name), consts, params)


def batch_offsets(shape, batch, stride: int) -> np.ndarray:
    """Element offset of every broadcast batch index into an operand with batch dims
    ``shape`` (the kernel program's ``a_off``/``b_off`` tables)."""
    cnt = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    idx = np.arange(cnt, dtype=np.int64).reshape(tuple(shape))
    return (np.broadcast_to(idx, tuple(batch)).ravel() * stride).astype(np.int32)


def matmul_call(name: str, a_shape, a_dtype: str, b_shape, b_dtype: str, m, s, out: str,
                a_zp: int = 0, b_zp: int = 0, y_zp: int = 0, lo=None, hi=None,
                a_off=None, b_off=None, wide: bool = False) -> Call:
    """``qcc.matmul``: activation x activation with zero points and broadcast batches (any
    number of batch levels: each batch's operand offsets come from the tables ``a_off``/
    ``b_off``, computed here when not given)."""
    mm, k = a_shape[-2:]
    n = b_shape[-1]
    batch = tuple(np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2])))
    if a_off is None:
        a_off = batch_offsets(a_shape[:-2], batch, mm * k)
        b_off = batch_offsets(b_shape[:-2], batch, k * n)
    nb = int(np.prod(batch, dtype=np.int64)) if batch else 1
    bm, bn, bk = tiles(mm, n, 1, wide=wide)
    ecfg, econ, epar = epilogue(m, s, out, y_zp, lo, hi)
    cfg = dict(name=name, a_mode="dense", a_off=prep.a_offset(a_dtype), b_kind="act",
               b_off=prep.a_offset(b_dtype), bits=8, per=1, grouped=False, gshift=16,
               e=ecfg, BM=bm, BN=bn, BK=bk, wide=wide)
    params = dict(epar, M=mm, N=n, K=k, B=nb, sc_b=mm * n, za=int(a_zp), zb=int(b_zp))
    consts = dict(econ, aoff=np.asarray(a_off, np.int32), boff=np.asarray(b_off, np.int32))
    return Call("gemm", cfg, consts, params)


def conv_transpose_call(name: str, x_shape, x_dtype: str, w: np.ndarray, bits: int, bias, m, s,
                        out: str, out_hw, strides, pads, dil, group: int, x_zp: int = 0,
                        y_zp: int = 0, lo=None, hi=None) -> Call:
    """``qcc.conv_transpose2d`` as an implicit GEMM that gathers: output (oy, ox) takes
    input ((oy + pt - u*dh) / sh, ...) where the division is exact (ONNX semantics)."""
    nb, cin, h, wd = x_shape
    _, mg, kh, kw = w.shape
    cg = cin // group
    wg = np.ascontiguousarray(np.asarray(w).reshape(group, cg, mg, kh, kw)
                              .transpose(0, 1, 3, 4, 2).reshape(group, cg * kh * kw, mg))
    oh, ow = out_hw
    call = conv_call(name, x_shape, x_dtype, np.zeros((mg * group, cg, kh, kw), np.int8), bits,
                     bias, m, s, out, strides, pads, dil, group, x_zp, y_zp, lo, hi,
                     out_hw=out_hw)
    a_off = prep.a_offset(x_dtype)
    call.consts["b"] = prep.pack_k(wg, call.cfg["bits"])
    call.consts["corr"] = prep.corr_term(wg, bias, a_off, x_zp)
    call.cfg["a_mode"] = "convt"
    call.params.update(M=nb * oh * ow, OH=oh, OW=ow)
    call.cfg["BM"] = pow2_tile(nb * oh * ow, 16, 64)
    return call

