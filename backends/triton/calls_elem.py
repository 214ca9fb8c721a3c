"""Kernel calls of the elementwise, table-driven (pooling, resize, copies) and row ops
(softmax, LayerNorm, reductions), from numpy constants and attributes."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError

from .calls import LIMITS, Call, epilogue, pow2_tile
from .render import TL_TYPES

EW_BLOCK = 1024


def bstrides(shape, out_shape) -> list:
    """Element strides of a C-contiguous ``shape`` broadcast to ``out_shape`` (0 on
    broadcast dims)."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc if d != 1 else 0)
        acc *= d
    return list(reversed(st))


def fold4(out_shape, strides: list) -> tuple:
    """Merge adjacent dims that every operand walks contiguously; pad to 4 dims.
    ``strides``: one list per operand (the output's own first).  Returns (D, [s...])."""
    dims = [(int(d), [int(s[i]) for s in strides]) for i, d in enumerate(out_shape) if d != 1]
    merged = []
    for d, st in dims:
        if merged and all(p == q * d for p, q in zip(merged[-1][1], st)):
            merged[-1] = (merged[-1][0] * d, st)
        else:
            merged.append((d, st))
    if len(merged) > 4:
        raise LoweringError(f"triton elementwise: shape {list(out_shape)} with these "
                            f"broadcasts needs {len(merged)} dims (max 4)")
    merged = [(1, [0] * len(strides))] * (4 - len(merged)) + merged
    return [d for d, _ in merged], [[st[k] for _, st in merged] for k in range(len(strides))]


def ewise_call(name: str, op: str, out_shape, in_shapes: list, out_dtype: str, params=None,
               consts=None, e=None, out_strides=None, **cfg) -> Call:
    """``op`` on inputs of ``in_shapes`` broadcast to ``out_shape``; ``out_strides``
    places the output inside a larger destination (concat)."""
    so = list(out_strides) if out_strides is not None else bstrides(out_shape, out_shape)
    d, st = fold4(out_shape, [so] + [bstrides(s, out_shape) for s in in_shapes])
    total = int(np.prod(out_shape, dtype=np.int64))
    p = dict(params or {}, TOTAL=total, D=d, so=st[0], sa=st[1])
    if len(in_shapes) > 1:
        p["sb"] = st[2]
    if len(in_shapes) > 2:
        p["sw"] = st[3]
    ecfg = e or {"requant": False, "per_channel": False, "out_tl": TL_TYPES[out_dtype]}
    c = dict(cfg, name=name, op=op, nin=len(in_shapes), e=ecfg, out_tl=TL_TYPES[out_dtype],
             out_bool=cfg.get("out_bool", False), BLOCK=pow2_tile(total, 16, EW_BLOCK))
    return Call("ewise", c, dict(consts or {}), p)


def requant_call(name, shape, out: str, m, s, x_zp=0, y_zp=0, lo=None, hi=None, axis=1,
                 out_strides=None) -> Call:
    e, con, par = epilogue(m, s, out, y_zp, lo, hi)
    rank = len(shape)
    inner = int(np.prod(shape[axis % rank + 1:], dtype=np.int64)) if rank else 1
    ch = int(shape[axis % rank]) if rank else 1
    return ewise_call(name, "requant", shape, [shape], out, dict(par, za=int(x_zp), INNER=inner,
                      C=ch), con, e, out_strides)


def binary_call(name, op, a_shape, b_shape, out_shape, out: str, m, s, a_zp=0, b_zp=0, y_zp=0,
                lo=None, hi=None) -> Call:
    """``qcc.add``/``qcc.sub`` (m = [m_a, m_b], one shift) or ``qcc.mul`` (m = [m])."""
    m = np.asarray(m, np.int64).reshape(-1)
    s = np.asarray(s, np.int32).reshape(-1)
    if op == "mul":
        e, con, par = epilogue(m, s, out, y_zp, lo, hi)
    else:
        e, con, par = epilogue(np.array([1], np.int32), s, out, y_zp, lo, hi)
        par.update(ma=int(m[0]), mb=int(m[1]))
        con["m"] = np.array([1], np.int32)  # the sum already holds m_a / m_b
    return ewise_call(name, op, out_shape, [a_shape, b_shape], out,
                      dict(par, za=int(a_zp), zb=int(b_zp)), con, e)


def lut_call(name, shape, x_dtype: str, table, out: str) -> Call:
    xmin = LIMITS[x_dtype][0]
    return ewise_call(name, "lut", shape, [shape], out, {}, {"t": np.asarray(table)}, xmin=xmin)


def igelu_call(name, shape, out: str, attrs: dict, m, s, x_zp=0, y_zp=0, lo=None, hi=None):
    e, con, par = epilogue(m, s, out, y_zp, lo, hi)
    return ewise_call(name, "igelu", shape, [shape], out, dict(par, za=int(x_zp)), con, e,
                      q_l=int(attrs["q_l"]), c1=int(attrs["c1"]), x_max=int(attrs["x_max"]),
                      f_shift=int(attrs["f_shift"]))


def taps_call(name, mode: str, planes: int, idx: np.ndarray, hw: int, out: str, wt=None,
              m=None, s=None, x_zp=0, y_zp=0, lo=None, hi=None, fill=0, shift=0) -> Call:
    """``idx`` [P, T] (int32, -1 = outside) into one input plane of ``hw`` elements."""
    idx = np.ascontiguousarray(idx, np.int32).reshape(idx.shape[0], -1)
    p_, t_ = idx.shape
    total = planes * p_
    e, con, par = epilogue(m, s, out, y_zp, lo, hi) if mode in ("sum", "dw") else (
        {"requant": False, "per_channel": False, "out_tl": TL_TYPES[out]}, {}, {})
    if mode == "shift":
        par = dict(lo=LIMITS[out][0], hi=LIMITS[out][1])
    consts = dict(con, idx=idx)
    if wt is not None:
        consts["wt"] = np.ascontiguousarray(wt, np.int32).reshape(p_, t_)
    cfg = dict(name=name, mode=mode, weighted=wt is not None, shift=int(shift), e=e,
               out_tl=TL_TYPES[out], BLOCK=pow2_tile(total, 16, 256 if t_ > 8 else EW_BLOCK),
               TB=pow2_tile(t_, 1, 1 << 20))
    return Call("taps", cfg, consts, dict(par, TOTAL=total, P=p_, HW=int(hw), T=t_,
                                          za=int(x_zp), fill=int(fill)))


def row_tables(shape, axes) -> tuple:
    """(roff [R], eoff [L]) element offsets of the rows of a C-contiguous ``shape``
    reduced over ``axes``."""
    shape = tuple(int(d) for d in shape)
    idx = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    keep = [a for a in range(len(shape)) if a not in axes]
    t = np.transpose(idx, keep + list(axes))
    rows = int(np.prod([shape[a] for a in keep], dtype=np.int64))
    t = t.reshape(rows, -1)
    roff = t[:, 0].astype(np.int32)
    eoff = (t[0] - t[0, 0]).astype(np.int32)
    return roff, eoff


def row_call(name, op: str, shape, axes, out: str, consts=None, params=None, e=None,
             **cfg) -> Call:
    roff, eoff = row_tables(shape, axes)
    ln = len(eoff)
    if ln > 1 << 16:
        raise LoweringError(f"triton row kernel {name}: row of {ln} elements exceeds 65536")
    con = dict(consts or {}, roff=roff, eoff=eoff)
    if op in ("isoftmax", "ilayernorm"):
        con["coff"] = roff
    ecfg = e or {"requant": False, "per_channel": False, "out_tl": TL_TYPES[out]}
    c = dict(cfg, name=name, op=op, e=ecfg, out_tl=TL_TYPES[out], BR=pow2_tile(ln, 16, 1 << 16))
    return Call("row", c, con, dict(params or {}, R=len(roff), L=ln))


def depthwise_call(name, x_shape, w, bias, m, s, out: str, idx: np.ndarray, x_zp=0, y_zp=0,
                   lo=None, hi=None) -> Call:
    """Depthwise ``qcc.conv2d`` (one input and one output channel per group, int8
    weights) as a direct tap sum: no dot, so no K >= 32 / N >= 16 tile waste on a GPU."""
    n, c, h, wd = x_shape
    taps = np.asarray(w, np.int64).reshape(c, -1)
    call = taps_call(name, "dw", n * c, idx, h * wd, out, wt=None, m=m, s=s, x_zp=x_zp,
                     y_zp=y_zp, lo=lo, hi=hi)
    call.consts["wt"] = np.ascontiguousarray(taps, np.int32)
    call.consts["bias"] = (np.zeros(c, np.int32) if bias is None
                           else np.asarray(bias, np.int32).reshape(-1))
    call.params["C"] = c
    return call

