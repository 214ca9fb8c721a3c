"""Renderers of the dense kernel families (conv2d, conv_transpose2d, linear, matmul) and
the recurrent ones (lstm, gru): a ``qcc.lower`` call -> ``gemm`` / ``taps`` / ``rnn``
launches (docs/target_triton.md).  Each renderer reads the call's fields only."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.lower import kernels as K

from . import prep
from .calls import Call, conv_call, conv_transpose_call, linear_call, matmul_call, pow2_tile
from .calls_elem import depthwise_call, window_taps
from .render import TL_TYPES, TORCH_DTYPES


def act(value, offset: int = 0, shape=None, dtype: str = ""):
    from .program import Act

    return Act(value, offset, shape, dtype)


def epi_args(e: K.Epilogue) -> dict:
    """m/s arrays, output dtype name, zero point and clamp of a call's epilogue."""
    if not e.requant:
        return dict(m=None, s=None, out="int32")
    return dict(m=np.asarray(e.mult.data), s=np.asarray(e.shift.data),
                out=TORCH_DTYPES[e.out_dtype], y_zp=e.zero_point, lo=e.lo, hi=e.hi)


def _grouping(g, rows: int) -> dict:
    if g is None:
        return {}
    return dict(gmult=np.asarray(g.gmult.data, np.int32).reshape(rows, g.groups), gsz=g.size,
                gsh=g.shift)


def _bias(e: K.Epilogue):
    return None if e.bias is None else np.asarray(e.bias.data)


def residual(call: Call, k) -> Call:
    """The fused residual add/sub (``qcc.lower.kernels.Residual``) in the GEMM epilogue."""
    r = k.residual
    if r is not None:
        call.cfg["res"] = {"op": r.op, "out_tl": TL_TYPES[TORCH_DTYPES[r.out_dtype]]}
        call.params.update(RMA=r.m_y, RMB=r.m_r, RS=r.shift, RZA=r.y_zp, RZB=r.r_zp,
                           RZY=r.zero_point, RLO=r.lo, RHI=r.hi)
        call.tensors["r"] = act(r.r)
        call.fused = r.node.name
    return call


def conv2d(kp, i: int, k: K.Conv2d) -> list:
    g = k.geom
    cg = g.c // g.group
    w = prep.unpack_rows(k.w.data, g.m, cg * g.kh * g.kw, k.wbits).reshape(g.m, cg, g.kh, g.kw)
    e = epi_args(k.epi)
    m, s, out = e.pop("m"), e.pop("s"), e.pop("out")
    name = f"conv2d_{i}"
    if g.c == g.group == g.m and k.grouping is None:
        idx = window_taps(g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.dh, g.dw)
        call = depthwise_call(name, (g.n, g.c, g.h, g.w), w, _bias(k.epi), m, s, out, idx,
                              x_zp=k.x_zp, **e)
        call.tensors = {"x": act(k.x), "c": act(k.y)}
        return [residual(call, k)]
    call = conv_call(name, (g.n, g.c, g.h, g.w), TORCH_DTYPES[k.x.dtype], w, k.wbits,
                     _bias(k.epi), m, s, out, (g.sh, g.sw), (g.pt, g.pl), (g.dh, g.dw), g.group,
                     x_zp=k.x_zp, out_hw=(g.oh, g.ow), wide=k.acc_bits == 64, **e,
                     **_grouping(k.grouping, g.m))
    call.tensors = {"a": act(k.x), "c": act(k.y)}
    return [residual(call, k)]


def conv_transpose2d(kp, i: int, k: K.ConvTranspose2d) -> list:
    g = k.geom
    w = np.asarray(k.w.data).reshape(g.c, g.m // g.group, g.kh, g.kw)
    e = epi_args(k.epi)
    m, s, out = e.pop("m"), e.pop("s"), e.pop("out")
    call = conv_transpose_call(f"convt_{i}", (g.n, g.c, g.h, g.w), TORCH_DTYPES[k.x.dtype], w,
                               8, _bias(k.epi), m, s, out, (g.oh, g.ow), (g.sh, g.sw),
                               (g.pt, g.pl), (g.dh, g.dw), g.group, x_zp=k.x_zp, **e)
    call.tensors = {"a": act(k.x), "c": act(k.y)}
    return [residual(call, k)]


def linear(kp, i: int, k: K.Linear) -> list:
    w = prep.unpack_rows(k.w.data, k.n, k.k, k.wbits).T
    e = epi_args(k.epi)
    m, s, out = e.pop("m"), e.pop("s"), e.pop("out")
    call = linear_call(f"linear_{i}", (k.rows, k.k), TORCH_DTYPES[k.x.dtype],
                       np.ascontiguousarray(w), k.wbits, _bias(k.epi), m, s, out, x_zp=k.x_zp,
                       wide=k.acc_bits == 64, **e, **_grouping(k.grouping, k.n))
    call.tensors = {"a": act(k.x), "c": act(k.y)}
    return [residual(call, k)]


def matmul(kp, i: int, k: K.Matmul) -> list:
    e = epi_args(k.epi)
    m, s, out = e.pop("m"), e.pop("s"), e.pop("out")
    call = matmul_call(f"matmul_{i}", (k.batch, k.m, k.k), TORCH_DTYPES[k.a.dtype],
                       (k.batch, k.k, k.n), TORCH_DTYPES[k.b.dtype], m, s, out, k.a_zp, k.b_zp,
                       a_off=k.a_off.data, b_off=k.b_off.data, wide=k.acc_bits == 64, **e)
    call.tensors = {"a": act(k.a), "b": act(k.b), "c": act(k.y)}
    return [residual(call, k)]


def _rnn(kp, i: int, k, op: str) -> list:
    """x-path gate terms of every step: one GEMM per direction (requantized to Q3.12 and
    saturated to int32 in its epilogue) into the call's scratch, then the recurrence."""
    if k.xpath != "sequence":
        raise LoweringError(f"target triton: internal error, {op} call '{k.node.name}' was "
                            f"lowered for a per-step x path")
    gates = 4 if op == "lstm" else 3
    s, b, hsz, nd = k.seq, k.batch, k.hidden, k.dirs
    w = np.asarray(k.w.data).reshape(nd, gates * hsz, k.inputs)
    mx, sx = np.asarray(k.mx.data).reshape(nd, -1), np.asarray(k.sx.data).reshape(nd, -1)
    per_dir = s * b * gates * hsz
    out = []
    for d in range(nd):
        call = linear_call(f"{op}_{i}_x{d}", (s * b, k.inputs), TORCH_DTYPES[k.x.dtype],
                           np.ascontiguousarray(w[d].T), 8, None, mx[d], sx[d], "int32",
                           x_zp=k.x_zp)
        call.tensors = {"a": act(k.x), "c": act(None, 4 * d * per_dir, (per_dir,), "int32")}
        out.append(call)
    h0, c0 = k.h0, getattr(k, "c0", None)
    cfg = dict(name=f"{op}_{i}", op=op, gates=gates, HB=pow2_tile(hsz, 16, 1 << 12),
               has_h0=h0 is not None, has_c0=c0 is not None,
               cell_frac=getattr(k, "cell_frac", 11), lbr=getattr(k, "linear_before_reset", 0))
    consts = {"r": np.asarray(k.r.data, np.int8), "mh": np.asarray(k.mh.data, np.int32),
              "sh": np.asarray(k.sh.data, np.int32), "sig": np.asarray(k.sigmoid.data, np.int16),
              "tanh": np.asarray(k.tanh.data, np.int16)}
    if op == "lstm":
        consts["bias"] = np.asarray(k.bias.data, np.int32)
    else:
        consts["bias"] = np.asarray(k.bx.data, np.int32)
        consts["bias_h"] = np.asarray(k.bh.data, np.int32)
    params = dict(S=s, B=b, H=hsz, D=nd, hz=k.h_zp, mo=k.mo, so=k.so, REVERSE=int(k.reverse))
    rnn = Call("rnn", cfg, consts, params)
    rnn.tensors = {"gx": act(None, 0, (nd * per_dir,), "int32"), "c": act(k.y), "hn": act(k.yh)}
    if h0 is not None:
        rnn.tensors["h0"] = act(h0)
    if c0 is not None:
        rnn.tensors["c0"] = act(c0)
    if op == "lstm":
        rnn.tensors["cn"] = act(k.yc)
    return out + [rnn]


def lstm(kp, i: int, k: K.Lstm) -> list:
    return _rnn(kp, i, k, "lstm")


def gru(kp, i: int, k: K.Gru) -> list:
    return _rnn(kp, i, k, "gru")


RENDER = {"conv2d": conv2d, "conv_transpose2d": conv_transpose2d, "linear": linear,
          "matmul": matmul, "lstm": lstm, "gru": gru}
