"""Launch configurations of the elementwise (``ewise``), table-driven (``taps``) and row
(``row``) templates, from numpy tables and integer parameters (no IR)."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError

from .calls import Call, pow2_tile
from .render import TL_TYPES

EW_BLOCK = 1024
ROW_MAX = 1 << 16     # softmax/LayerNorm rows (one block)
RED_BLOCK = 4096      # block of the reductions' loop


def contiguous(dims) -> list:
    out, acc = [], 1
    for d in reversed(list(dims)):
        out.append(acc)
        acc *= int(d)
    return out[::-1]


def no_epilogue(out: str) -> dict:
    return {"requant": False, "per_channel": False, "out_tl": TL_TYPES[out]}


def ewise(name: str, op: str, dims, ins: list, out: str, params=None, consts=None, e=None,
          so=None, **cfg) -> Call:
    """``op`` over the 4 folded ``dims``; ``ins``: element strides of each input (0 on
    broadcast dims); ``so``: output strides (default contiguous; a concat slab is strided)."""
    dims = [int(d) for d in dims]
    assert len(dims) == 4 and all(len(s) == 4 for s in ins)
    total = int(np.prod(dims, dtype=np.int64))
    p = dict(params or {}, TOTAL=total, D=dims, so=list(so or contiguous(dims)),
             sa=[int(v) for v in ins[0]])
    for key, st in zip(("sb", "sw"), ins[1:]):
        p[key] = [int(v) for v in st]
    c = dict(cfg, name=name, op=op, nin=len(ins), e=e or no_epilogue(out), out_tl=TL_TYPES[out],
             out_bool=cfg.get("out_bool", False), BLOCK=pow2_tile(total, 16, EW_BLOCK))
    return Call("ewise", c, dict(consts or {}), p)


def flat(count: int) -> tuple:
    """(dims, strides) of a contiguous 1-D walk over ``count`` elements."""
    return [1, 1, 1, int(count)], [0, 0, 0, 1]


def taps_call(name, mode: str, planes: int, idx: np.ndarray, hw: int, out: str, wt=None,
              m=None, s=None, x_zp=0, y_zp=0, lo=None, hi=None, fill=0, shift=0) -> Call:
    """``idx`` [P, T] (int32, -1 = outside) into one input plane of ``hw`` elements."""
    from .calls import LIMITS, epilogue

    idx = np.ascontiguousarray(idx, np.int32).reshape(idx.shape[0], -1)
    p_, t_ = idx.shape
    total = planes * p_
    e, con, par = epilogue(m, s, out, y_zp, lo, hi) if mode in ("sum", "dw") else (
        no_epilogue(out), {}, {})
    if mode == "shift":
        par = dict(lo=LIMITS[out][0] if lo is None else lo, hi=LIMITS[out][1] if hi is None else hi)
    consts = dict(con, idx=idx)
    if wt is not None:
        consts["wt"] = np.ascontiguousarray(wt, np.int32).reshape(p_, t_)
    cfg = dict(name=name, mode=mode, weighted=wt is not None, shift=int(shift), e=e,
               out_tl=TL_TYPES[out], BLOCK=pow2_tile(total, 16, 256 if t_ > 8 else EW_BLOCK),
               TB=pow2_tile(t_, 1, 1 << 20))
    return Call("taps", cfg, consts, dict(par, TOTAL=total, P=p_, HW=int(hw), T=t_,
                                          za=int(x_zp), fill=int(fill)))


def window_taps(h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh=1, dw=1) -> np.ndarray:
    """Input index (in one plane) of every tap of every output position, -1 outside."""
    oy, ox, u, v = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(kh), np.arange(kw),
                               indexing="ij")
    iy = oy * sh - pt + u * dh
    ix = ox * sw - pl + v * dw
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    return np.where(ok, iy * w + ix, -1).reshape(oh * ow, -1)


def row_call(name, op: str, roff, eoff, out: str, consts=None, params=None, e=None,
             **cfg) -> Call:
    """One program per row r over elements ``roff[r] + eoff[j]``; ``coff`` (the row's
    output offset, same as ``roff``) for the ops that write whole rows."""
    roff = np.ascontiguousarray(roff, np.int32).reshape(-1)
    eoff = np.ascontiguousarray(eoff, np.int32).reshape(-1)
    ln = len(eoff)
    whole = op in ("isoftmax", "ilayernorm")  # these hold a row; reductions loop over blocks
    if whole and ln > ROW_MAX:
        raise LoweringError(f"target triton: {op} kernel {name}: a row of {ln} elements "
                            f"exceeds {ROW_MAX}")
    con = dict(consts or {}, roff=roff, eoff=eoff)
    if op in ("isoftmax", "ilayernorm"):
        con["coff"] = roff
    c = dict(cfg, name=name, op=op, e=e or no_epilogue(out), out_tl=TL_TYPES[out],
             BR=pow2_tile(ln, 16, ROW_MAX if whole else RED_BLOCK))
    return Call("row", c, con, dict(params or {}, R=len(roff), L=ln))


def depthwise_call(name, x_shape, w, bias, m, s, out: str, idx: np.ndarray, x_zp=0, y_zp=0,
                   lo=None, hi=None) -> Call:
    """Depthwise conv (one input and one output channel per group) as a direct tap sum:
    no dot, so no K >= 32 / N >= 16 tile waste on a GPU."""
    n, c, h, wd = x_shape
    taps = np.asarray(w, np.int64).reshape(c, -1)
    call = taps_call(name, "dw", n * c, idx, h * wd, out, wt=None, m=m, s=s, x_zp=x_zp,
                     y_zp=y_zp, lo=lo, hi=hi)
    call.consts["wt"] = np.ascontiguousarray(taps, np.int32)
    call.consts["bias"] = (np.zeros(c, np.int32) if bias is None
                           else np.asarray(bias, np.int32).reshape(-1))
    call.params["C"] = c
    return call
