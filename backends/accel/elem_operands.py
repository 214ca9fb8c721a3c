"""Which calls of the vector families the ALU lowering (``lower_elem``) takes, and how their
operands map onto DRAM matrices: :class:`Mat` (a ``rows x lanes`` matrix), the broadcasts a
LOAD can express (a row repeated with DRAM stride 0, a per-channel ``[N, C, 1, 1]`` operand
against a channels-last output), per-channel requant on the lane axis, a spatial mean as a
global average pool, and a concat part as one DMA row per part (docs/target_accel.md §7; any
other concat part is an address map, ``lower_move``).
``check_elem`` gives the reason a call cannot run on the accelerator (None when it can).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import ISA_DTYPE, Region, canonical, rows_lanes, to_rows


@dataclass(frozen=True)
class Mat:
    """A ``rows x lanes`` matrix at ``addr`` with rows ``pitch`` bytes apart (0: one row
    broadcast to every row)."""
    name: str
    addr: int
    rows: int
    lanes: int
    dtype: str
    pitch: int

    @property
    def esize(self) -> int:
        return {"i8": 1, "u8": 1, "i16": 2, "i32": 4}[self.dtype]


def mat(r: Region) -> Mat:
    """The matrix of a region: its own ``rows x lanes``, or for a view whose DRAM layout
    differs (not ``compat``) its root's matrix, the bytes as they lie (``same_bytes``)."""
    if r.compat:
        return Mat(r.name, r.addr, r.rows, r.lanes, r.dtype, r.lanes * r.esize)
    rows, lanes = rows_lanes(r.root_shape, r.cl)
    return Mat(r.name, r.addr, rows, lanes, r.dtype, lanes * r.esize)


def same_bytes(ctx, vs) -> bool:
    """Every run-time tensor of ``vs`` (one shape) puts each logical element at the same
    position of the same-shaped DRAM matrix (``mat``): an elementwise op over them is the op
    over those matrices, whatever views they are (a Reshape of a channels-last tensor)."""
    if any(v.is_const for v in vs) or len({tuple(v.shape) for v in vs}) != 1:
        return False
    rs = [ctx.region(v) for v in vs]
    ms = {(m.rows, m.lanes) for m in map(mat, rs)}
    p0 = rs[0].positions()
    return len(ms) == 1 and all(np.array_equal(r.positions(), p0) for r in rs[1:])


def const_image(r: Region, full: np.ndarray) -> np.ndarray:
    """A constant operand broadcast to the output's shape (``full``) as the DRAM matrix of
    the output region ``r``: in its layout, or for a view (``same_bytes``) each element at
    the view's position."""
    if r.compat:
        return to_rows(full, r.layout == "cl")
    m = mat(r)
    data = np.empty(full.size, full.dtype)
    data[r.positions()] = full.ravel()
    return data.reshape(m.rows, m.lanes)


def _operand_ok(ctx, v, out) -> str | None:
    """Why operand ``v`` of an elementwise call writing ``out`` cannot be a matrix load."""
    if v.is_const:
        return None  # materialised in the output's layout
    r = ctx.region(v)
    if not r.compat and not same_bytes(ctx, (v, out)):
        return f"'{v.name}' is a view whose DRAM layout differs from '{out.name}''s"
    if tuple(v.shape) == tuple(out.shape):
        ro = ctx.region(out)
        if r.layout != ro.layout:
            return f"'{v.name}' and '{out.name}' are stored in different layouts"
        return None
    if _row_broadcast(ctx, v, out) or channel_broadcast(ctx, v, out):
        return None
    return f"'{v.name}' broadcasts other than along rows or per channel"


def _row_broadcast(ctx, v, out) -> bool:
    """``v`` is one row of ``out`` repeated (loaded with DRAM stride 0)."""
    if ctx.region(out).layout == "cl" or not out.shape:
        return False
    lanes = int(out.shape[-1])
    return v.type.numel == lanes and tuple(v.shape)[-1:] == (lanes,) and lanes > 1


def channel_broadcast(ctx, v, out) -> bool:
    """``v`` is ``[N, C, 1, 1]`` against a channels-last ``[N, C, H, W]`` output (the
    squeeze-and-excitation scale): row ``n`` of ``v`` (its ``C`` lanes) is repeated for the
    ``H*W`` rows of batch ``n`` of the output (loaded with DRAM stride 0 per batch)."""
    ro = ctx.region(out)
    if ro.layout != "cl" or v.type.rank != 4:
        return False
    n, c, h, w = (int(x) for x in out.shape)
    r = ctx.region(v)
    return tuple(int(x) for x in v.shape) == (n, c, 1, 1) and r.compat \
        and (r.rows, r.lanes) == (n, c)


def check_elem(ctx, call) -> str | None:
    """Why an elementwise-family call cannot run on the ALU (None when it can)."""
    f = call.family
    if f == "binary":
        if call.op not in ("add", "sub", "mul", "max", "min"):
            return f"binary op {call.op}"
        for v in (call.a, call.b):
            why = _operand_ok(ctx, v, call.y)
            if why:
                return why
        live = [v for v in (call.a, call.b, call.y) if not v.is_const]
        if not ctx.region(call.y).compat and not same_bytes(ctx, live):
            return "output is a view whose DRAM layout differs"   # (a constant: in its order)
        return None
    if f == "reduce":
        return _reduce_check(ctx, call)
    if f in ("requant", "lut", "global_avgpool"):
        x, y = call.x, call.y
        rx, ry = ctx.region(x), ctx.region(y)
        if x.is_const:
            return f"'{x.name}' is a constant"
        if not (rx.compat and ry.compat):   # views: the op over the bytes as they lie
            epi = getattr(call, "epi", None)
            if f == "global_avgpool" or epi is not None and epi.per_channel \
                    or not same_bytes(ctx, (x, y)):
                return f"'{x.name}' or '{y.name}' is a view whose DRAM layout differs"
            return None
        if f == "global_avgpool":
            if rx.layout != "cl" and canonical(x.shape):
                return "global_avgpool over a row-major tensor"
        elif (rx.rows, rx.lanes, rx.layout) != (ry.rows, ry.lanes, ry.layout):
            return "input and output are stored in different layouts"
        if f == "requant" and call.epi.per_channel and _channel_lanes(ctx, call) is None:
            return "per-channel requant on a non-channel axis"
        if f == "global_avgpool" and x.type.rank != 4:
            return "global_avgpool on a non-4-D tensor"
        return None
    if f == "concat":   # one DMA row per part (concat_mats), else its address map (lower_move)
        return None
    return "no accelerator renderer"


REDUCE_OPS = {"mean": "ADD", "max": "MAX", "min": "MIN"}   # the ALU op folding the rows


def _reduce_check(ctx, call) -> str | None:
    """Why a ``reduce`` call is not the row reduction of :func:`reduce_view`."""
    if call.op not in REDUCE_OPS:
        return f"reduce op {call.op}"
    if call.x.is_const:
        return f"'{call.x.name}' is a constant"
    view = reduce_view(ctx, call)
    if view is None:
        return ("a reduction whose DRAM layout is not [outer, reduced, inner] with the kept "
                "elements of one output row contiguous")
    if view[2] * ctx.region(call.x).esize >= 1 << 22:
        return "a reduction whose DRAM rows exceed the DMA stride field"
    return None


def reduce_view(ctx, call) -> tuple[int, int, int] | None:
    """``(outer, k, inner)`` such that the DRAM bytes of ``call.x`` are an ``outer*k x inner``
    matrix whose rows ``o*k .. o*k+k-1`` reduce into row ``o`` of ``call.y``, an ``outer x
    inner`` matrix in DRAM: the reduction over the middle axis of an ``[outer, k, inner]``
    view (a mean over the spatial axes of a channels-last tensor, over time of ``[N, C, T]``
    stored channels-last, over the last axis with ``inner = 1``, ...).  None when the layouts
    of ``x`` and ``y`` make it no such view."""
    key = ("reduce_view", id(call))
    cache = ctx.__dict__.setdefault("_reduce_views", {})
    if key in cache:
        return cache[key]
    x, y = call.x, call.y
    numel, m = int(x.type.numel), int(call.out_count)
    view = None
    if m and numel and numel % m == 0 and len(call.dims) == len(call.ys):
        k = numel // m
        idx = np.indices([int(d) for d in call.dims]).reshape(len(call.dims), -1)
        out_idx = np.tensordot(np.asarray(call.ys, np.int64), idx, axes=1)
        f = np.empty(numel, np.int64)   # x's physical element -> y's physical element
        f[ctx.region(x).positions()] = ctx.region(y).positions()[out_idx]
        if k == 1:
            inner = m
        else:
            again = np.flatnonzero(f[1:] == f[0])
            inner = int(again[0]) + 1 if again.size else 0
        if inner and m % inner == 0:
            p = np.arange(numel, dtype=np.int64)
            if np.array_equal(f, p // (k * inner) * inner + p % inner):
                view = (m // inner, k, inner)
    cache[key] = view
    return view


def _channel_lanes(ctx, call) -> int | None:
    """Lanes of the per-channel axis of a requant call (None: not the lane axis)."""
    r = ctx.region(call.x)
    shape = tuple(call.x.shape)
    if call.channels != r.lanes:
        return None
    if len(shape) == 4:
        return r.lanes if call.inner == shape[2] * shape[3] else None
    return r.lanes if call.inner == 1 else None


def concat_mats(ctx, call, place: bool = False):
    """(x matrix, y matrix, lane offset) of one concat part, or None.  A constant part (a
    class token) into a row-major output reads a DRAM constant of its ``outer x inner``
    values, placed when ``place`` (the lowering; the check gets None for its matrix)."""
    x, y = call.x, call.y
    if x.is_const:
        ry = ctx.region(y)
        if ry.layout == "cl" or not ry.compat or x.dtype not in ISA_DTYPE:
            return None
        my = Mat(ry.name, ry.addr, call.outer, call.stride, ry.dtype, call.stride * ry.esize)
        if not place:
            return None, my, call.offset
        data = np.asarray(ctx.kp.const_of(x).data).astype(x.dtype.np).reshape(call.outer, call.inner)
        reg = ctx.plan.add_const(f"{x.name}.part", data, ISA_DTYPE[x.dtype], call.outer, call.inner)
        return Mat(reg.name, reg.addr, call.outer, call.inner, reg.dtype, call.inner * reg.esize), my, call.offset
    rx, ry = ctx.region(x), ctx.region(y)
    if not rx.compat or not ry.compat:
        return None
    if ry.layout == "cl" or rx.layout == "cl":
        if rx.layout != ry.layout:
            return None
        n, c, h, w = y.shape
        hw = h * w
        if call.outer != n or call.inner % hw or call.offset % hw or call.stride != c * hw \
                or tuple(x.shape[2:]) != (h, w) or x.type.rank != 4:
            return None
        return mat(rx), mat(ry), call.offset // hw
    es_x, es_y = rx.esize, ry.esize
    mx = Mat(rx.name, rx.addr, call.outer, call.inner, rx.dtype, call.inner * es_x)
    my = Mat(ry.name, ry.addr, call.outer, call.stride, ry.dtype, call.stride * es_y)
    return mx, my, call.offset
