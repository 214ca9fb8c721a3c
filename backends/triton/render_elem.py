"""Renderers of the elementwise and data-movement kernel families: a ``qcc.lower`` call ->
``ewise`` / ``taps`` / ``gather`` launches.  Each renderer reads the call's fields only."""

from __future__ import annotations

import numpy as np

from qcc.ir import DType
from qcc.lower import kernels as K

from .calls import Call, epilogue, pow2_tile
from .calls_elem import ewise, flat, row_call, taps_call, window_taps
from .render import TORCH_DTYPES
from .render_dense import act, epi_args

# raw-integer expressions of the logic family on int64 operands av, bv, wv
LOGIC = {"equal": "av == bv", "less": "av < bv", "less_equal": "av <= bv",
         "greater": "av > bv", "greater_equal": "av >= bv", "and": "(av != 0) & (bv != 0)",
         "or": "(av != 0) | (bv != 0)", "xor": "(av != 0) ^ (bv != 0)",
         "bitwise_and": "av & bv", "bitwise_or": "av | bv", "bitwise_xor": "av ^ bv",
         "add": "av + bv", "sub": "av - bv", "mul": "av * bv", "not": "av == 0",
         "bitwise_not": "~av", "cast": "av", "to_bool": "av != 0",
         "where": "tl.where(av != 0, bv, wv)"}
MINMAX = {"max": "tl.maximum(av, bv)", "min": "tl.minimum(av, bv)"}


def tname(v) -> str:
    return TORCH_DTYPES[v.dtype]


def _epi(e: K.Epilogue, **over):
    """(template cfg, consts, params) of an epilogue; ``over`` replaces m/s arrays."""
    a = epi_args(e)
    a.update(over)
    return epilogue(a["m"], a["s"], a["out"], a.get("y_zp", 0), a.get("lo"), a.get("hi"))


def binary(kp, i: int, k: K.Binary) -> list:
    name, out = f"binary_{i}", tname(k.y)
    if k.op in MINMAX:
        call = ewise(name, "logic", k.dims, [k.sa, k.sb], out, expr=MINMAX[k.op])
    elif k.op == "mul":
        e, con, par = _epi(k.epi)
        call = ewise(name, "mul", k.dims, [k.sa, k.sb], out, dict(par, za=k.a_zp, zb=k.b_zp),
                     con, e)
    else:  # add/sub: (a - za) * ma +- (b - zb) * mb, then one rounding by 2^-s
        ms = k.epi.mult.values
        e, con, par = _epi(k.epi, m=np.array([1], np.int32))
        call = ewise(name, k.op, k.dims, [k.sa, k.sb], out,
                     dict(par, za=k.a_zp, zb=k.b_zp, ma=ms[0], mb=ms[1]), con, e)
    call.tensors = {"a": act(k.a), "b": act(k.b), "c": act(k.y)}
    return [call]


def requant(kp, i: int, k: K.Requant) -> list:
    e, con, par = _epi(k.epi)
    dims, st = flat(k.outer * k.channels * k.inner)
    call = ewise(f"requant_{i}", "requant", dims, [st], tname(k.y),
                 dict(par, za=k.x_zp, INNER=k.inner, C=k.channels), con, e)
    call.tensors = {"a": act(k.x), "c": act(k.y)}
    return [call]


def concat(kp, i: int, k: K.ConcatPart) -> list:
    """One input's slab: ``outer`` rows of ``inner`` elements at ``offset`` of each
    ``stride``-long output row (a strided destination)."""
    e, con, par = _epi(k.epi)
    call = ewise(f"concat_{i}", "requant", [1, 1, k.outer, k.inner], [[0, 0, k.inner, 1]],
                 tname(k.y), dict(par, za=k.x_zp), con, e, so=[0, 0, k.stride, 1])
    n = k.y.type.numel - k.offset
    call.tensors = {"a": act(k.x), "c": act(k.y, k.offset, (n,))}
    return [call]


def lut(kp, i: int, k: K.Lut) -> list:
    dims, st = flat(k.count)
    call = ewise(f"lut_{i}", "lut", dims, [st], tname(k.y), {}, {"t": np.asarray(k.table.data)},
                 xmin=int(k.x.dtype.min))
    call.tensors = {"a": act(k.x), "c": act(k.y)}
    return [call]


def logic(kp, i: int, k: K.Logic) -> list:
    ops = [v for v in (k.a, k.b, k.c) if v is not None]
    strides = [k.sa, k.sb, k.sc][:len(ops)]
    call = ewise(f"logic_{i}", "logic", k.dims, strides, tname(k.y), expr=LOGIC[k.op],
                 out_bool=k.y.dtype is DType.bool)
    call.tensors = {r: act(v) for r, v in zip(("a", "b", "w"), ops)}
    call.tensors["c"] = act(k.y)
    return [call]


def threshold(kp, i: int, k: K.Threshold) -> list:
    dims, st = flat(k.count)
    call = ewise(f"threshold_{i}", "threshold", dims, [st], tname(k.y), {"NT": k.nt},
                 {"t": np.asarray(k.thresholds.data, np.int64),
                  "m": np.asarray(k.values.data, np.int32)})
    call.tensors = {"a": act(k.x), "c": act(k.y)}
    return [call]


def igelu(kp, i: int, k: K.IGelu) -> list:
    e, con, par = _epi(k.epi)
    dims, st = flat(k.count)
    call = ewise(f"igelu_{i}", "igelu", dims, [st], TORCH_DTYPES[k.epi.out_dtype],
                 dict(par, za=k.x_zp), con, e, q_l=k.q_l, c1=k.c1, x_max=k.x_max,
                 f_shift=k.f_shift)
    call.tensors = {"a": act(k.x), "c": act(k.y)}
    return [call]


def _copy(name: str, k, idx, fill: int = 0) -> list:
    call = taps_call(name, "copy", 1, np.asarray(idx).reshape(-1, 1), k.x.type.numel,
                     tname(k.y), fill=fill)
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    return [call]


def copy(kp, i: int, k: K.CopyNd) -> list:
    """``y[i] = x[offset + i . xs]``: the index of every element, one tap each."""
    idx = np.zeros(tuple(k.dims), np.int64) + k.offset
    for ax, (d, s) in enumerate(zip(k.dims, k.xs)):
        shape = [1] * len(k.dims)
        shape[ax] = d
        idx = idx + np.arange(d, dtype=np.int64).reshape(shape) * s
    return _copy(f"copy_{i}", k, idx)


def gather_table(kp, i: int, k: K.GatherTable) -> list:
    return _copy(f"gather_table_{i}", k, k.index.data, k.fill)


def gather(kp, i: int, k: K.Gather) -> list:
    total = k.outer * k.idx_count * k.inner
    call = Call("gather", dict(name=f"gather_{i}", BLOCK=pow2_tile(total, 16, 1024),
                               needs_err=True), {},
                dict(TOTAL=total, NQ=k.idx_count, INNER=k.inner, V=k.axis))
    call.tensors = {"ids": act(k.indices), "x": act(k.data), "c": act(k.y)}
    return [call]


def resize(kp, i: int, k: K.Resize) -> list:
    name, out = f"resize_{i}", tname(k.y)
    if k.mode == "nearest":
        iy, ix = np.asarray(k.ty.data, np.int64), np.asarray(k.tx.data, np.int64)
        idx = (iy[:, None] * k.w + ix[None, :]).reshape(-1, 1)
        call = taps_call(name, "copy", k.planes, idx, k.h * k.w, out)
    else:  # 4 taps per output with Q10 x Q10 weights, one rounding by 2^-20
        y0, y1, wy0, wy1 = np.asarray(k.ty.data, np.int64).reshape(4, k.oh)
        x0, x1, wx0, wx1 = np.asarray(k.tx.data, np.int64).reshape(4, k.ow)
        ys, xs = np.stack([y0, y0, y1, y1], 1), np.stack([x0, x1, x0, x1], 1)
        wys, wxs = np.stack([wy0, wy0, wy1, wy1], 1), np.stack([wx0, wx1, wx0, wx1], 1)
        idx = (ys[:, None, :] * k.w + xs[None, :, :]).reshape(k.oh * k.ow, 4)
        wt = (wys[:, None, :] * wxs[None, :, :]).reshape(k.oh * k.ow, 4)
        call = taps_call(name, "shift", k.planes, idx, k.h * k.w, out, wt=wt, x_zp=k.x_zp,
                         lo=k.lo, hi=k.hi, shift=20)
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    return [call]


def _global_pool(i: int, k: K.Pool) -> Call:
    """A window that is the whole plane (GlobalMaxPool, a global AveragePool): a row
    reduction per plane (any plane size) instead of one tap per element."""
    planes, hw = k.n * k.c, k.h * k.w
    roff, eoff = np.arange(planes, dtype=np.int64) * hw, np.arange(hw, dtype=np.int64)
    if k.op == "max":
        return row_call(f"maxpool_{i}", "max", roff, eoff, tname(k.y))
    a = epi_args(k.epi)
    e, con, par = epilogue(a["m"][hw - 1:hw], a["s"][hw - 1:hw], a["out"], a["y_zp"], a["lo"],
                           a["hi"])
    return row_call(f"avgpool_{i}", "sum", roff, eoff, a["out"], con, dict(par, za=k.x_zp), e)


def pool(kp, i: int, k: K.Pool) -> list:
    if (k.oh, k.ow, k.kh, k.kw, k.pt, k.pl) == (1, 1, k.h, k.w, 0, 0):
        call = _global_pool(i, k)
        call.tensors = {"x": act(k.x), "c": act(k.y)}
        return [call]
    idx = window_taps(k.h, k.w, k.oh, k.ow, k.kh, k.kw, k.sh, k.sw, k.pt, k.pl)
    planes, hw = k.n * k.c, k.h * k.w
    if k.op == "max":
        call = taps_call(f"maxpool_{i}", "max", planes, idx, hw, tname(k.y))
    else:  # the multiplier of each window's element count
        cnt = np.full(idx.shape[0], k.kh * k.kw) if k.include_pad else (idx >= 0).sum(axis=1)
        a = epi_args(k.epi)
        call = taps_call(f"avgpool_{i}", "sum", planes, idx, hw, a["out"], m=a["m"][cnt - 1],
                         s=a["s"][cnt - 1], x_zp=k.x_zp, y_zp=a["y_zp"], lo=a["lo"], hi=a["hi"])
    call.tensors = {"x": act(k.x), "c": act(k.y)}
    return [call]


RENDER = {"binary": binary, "requant": requant, "concat": concat, "lut": lut, "logic": logic,
          "threshold": threshold, "igelu": igelu, "copy": copy, "gather_table": gather_table,
          "gather": gather, "resize": resize, "pool": pool}
