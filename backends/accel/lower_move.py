"""Rendering of the data-movement families (``copy``, ``gather_table``, nearest ``resize``)
as strided DMA.

All are an address map: output element ``i`` comes from input element ``src[i]``
(``gather_table``: ``-1`` is the fill value; a nearest resize: the source row and column of
each output row and column, its ``ty`` / ``tx`` tables, in every plane).  Mapped through the DRAM layouts of the two
tensors (channels-last for 4-D tensors, views share their root's bytes), the map becomes
byte positions, which are cut into *runs* (elements consecutive in the source and in the
destination, at most DIM per run) and runs into 2-D blocks (runs of one length at constant
source and destination strides).  A block is one LOAD into accumulator rows (sign-extending)
and one STORE with the identity epilogue, so the bytes arrive unchanged.  A Transpose, a
byte-moving Reshape followed by a copy, a Slice, Pad, Expand or Tile all take this path.
"""

from __future__ import annotations

import numpy as np

from .acc_halves import AccHalves
from .isa import make
from .layout import ESIZE, ISA_DTYPE
from .lower_elem import IDENTITY, MAX_ROWS

MAX_STRIDE = (1 << 22) - 1
MAX_ALU_ROWS = (1 << 12) - 1   # ALU rows field (12 bits)


def source_index(call) -> np.ndarray:
    """Logical source element of every output element (-1: the fill value)."""
    if call.family == "gather_table":
        return np.asarray(call.index.data, np.int64).ravel()[:call.count]
    if call.family == "resize":   # nearest: y[p, i, j] = x[p, ty[i], tx[j]]
        ty = np.asarray(call.ty.data, np.int64).ravel()[:call.oh]
        tx = np.asarray(call.tx.data, np.int64).ravel()[:call.ow]
        plane = np.arange(call.planes, dtype=np.int64)[:, None, None] * (call.h * call.w)
        return (plane + ty[None, :, None] * call.w + tx[None, None, :]).ravel()
    idx = np.full((1,), int(call.offset), np.int64)
    for d, s in zip(call.dims, call.xs):
        idx = (idx[:, None] + np.arange(int(d), dtype=np.int64)[None, :] * int(s)).ravel()
    return idx


def check_move(ctx, call) -> str | None:
    if call.family == "resize" and call.mode != "nearest":
        from .lower_resize import check_bilinear
        return check_bilinear(ctx, call)
    if call.x.is_const:
        return None
    if call.x.dtype != call.y.dtype:
        return "copy between dtypes"
    return None


def runs(src: np.ndarray, dst: np.ndarray, d: int) -> list[tuple[int, int, int]]:
    """(src start, dst start, length) of maximal runs consecutive in both (src -1 = fill:
    consecutive fill elements form runs too), cut at ``d`` elements, in dst order."""
    order = np.argsort(dst, kind="stable")
    s, t = src[order], dst[order]
    fill = s < 0
    cont = np.ones(len(s), bool)
    if len(s) > 1:
        same_kind = fill[1:] == fill[:-1]
        step = np.where(fill[1:], True, s[1:] == s[:-1] + 1)
        cont[1:] = same_kind & step & (t[1:] == t[:-1] + 1)
    cont[0] = False
    starts = np.flatnonzero(~cont).tolist() + [len(s)]
    out = []
    for a, b in zip(starts[:-1], starts[1:]):
        for k in range(a, b, d):
            n = min(d, b - k)
            out.append((-1 if fill[k] else int(s[k]), int(t[k]), n))
    return out


def blocks(rs: list, max_rows: int) -> list[tuple[int, int, int, int, int, int]]:
    """Runs -> (src, dst, cols, rows, src_stride, dst_stride) 2-D blocks (fill runs keep src
    -1 and stride 0)."""
    out = []
    i = 0
    while i < len(rs):
        s0, t0, c = rs[i]
        j = i + 1
        ss = ts = None
        while j < len(rs) and j - i < max_rows:
            s1, t1, c1 = rs[j]
            if c1 != c or (s1 < 0) != (s0 < 0):
                break
            ds = 0 if s0 < 0 else s1 - rs[j - 1][0]
            dt = t1 - rs[j - 1][1]
            if ss is None:
                if ds < 0 or dt <= 0 or ds > MAX_STRIDE or dt > MAX_STRIDE:
                    break
                ss, ts = ds, dt
            elif ds != ss or dt != ts:
                break
            j += 1
        out.append((s0, t0, c, j - i, ss or 0, ts or 0))
        i = j
    return out


class MoveLowering(AccHalves):
    FAMILIES = ("copy", "gather_table", "resize")

    def __init__(self, ctx):
        super().__init__(ctx)
        self._fill: dict = {}

    def _fill_addr(self, dt: str, value: int) -> int:
        if (dt, value) not in self._fill:
            from .funcsim import _NP
            data = np.full(self.d, value, _NP[dt])
            reg = self.ctx.plan.add_const(f"fill.{dt}.{value}", data, dt, 1, self.d)
            self._fill[(dt, value)] = reg.addr
        return self._fill[(dt, value)]

    def lower(self, call) -> None:
        if call.family == "resize" and call.mode != "nearest":
            from .lower_resize import BilinearLowering
            return BilinearLowering(self.ctx).lower(call)
        ctx = self.ctx
        x, y = call.x, call.y
        ry = ctx.region(y)
        src = source_index(call)
        dst_pos = ry.positions()
        if x.is_const:
            data = np.asarray(ctx.kp.const_of(x).data)
            xaddr = ctx.plan.add_const(f"{x.name}.src", data.astype(x.dtype.np), ry.dtype).addr
            src_pos = np.where(src < 0, -1, src)
        else:
            rx = ctx.region(x)
            xaddr = rx.addr
            pos = rx.positions()
            src_pos = np.where(src < 0, -1, pos[np.maximum(src, 0)])
        fill = self._fill_addr(ry.dtype, int(getattr(call, "fill", 0))) \
            if (src_pos < 0).any() else 0
        g = ctx.b.group("st")
        g.add(make("CONFIG", reg="CLAMP", a=0, b=y.dtype.min, d=y.dtype.max, note=f"copy {call.node.name}"))
        g.add(make("CONFIG", reg="SCALE", a=IDENTITY[0], b=0, c=IDENTITY[1], note="identity"))
        self._emit(x, y, xaddr, ry.dtype, src_pos, dst_pos[:len(src_pos)], fill)

    def concat(self, call) -> None:
        """A concat part whose rows are not one DMA row each (``elem_operands.concat_mats``
        None: another axis, a channels-last part into a row-major output or the reverse, a
        view, a constant part into a channels-last output): its address map "part element
        ``(o, j)`` goes to output element ``o * stride + offset + j``" through both DRAM
        layouts, in 2-D blocks as a copy, each block centred (ALU ADD -x_zp) and requantized
        by the part's epilogue in its STORE, as the row-wise concat part."""
        ctx = self.ctx
        x, y = call.x, call.y
        ry = ctx.region(y)
        o = np.arange(call.outer, dtype=np.int64)[:, None]
        j = np.arange(call.inner, dtype=np.int64)[None, :]
        dst = (o * call.stride + call.offset + j).ravel()
        if x.is_const:
            data = np.asarray(ctx.kp.const_of(x).data).astype(x.dtype.np).ravel()
            reg = ctx.plan.add_const(f"{x.name}.part", data, ISA_DTYPE[x.dtype])
            xaddr, xdt, src_pos = reg.addr, reg.dtype, np.arange(data.size, dtype=np.int64)
        else:
            rx = ctx.region(x)
            xaddr, xdt = rx.addr, rx.dtype
            src_pos = rx.positions()[:call.outer * call.inner]
        epi = call.epi
        g = ctx.b.group("st")
        g.add(make("CONFIG", reg="CLAMP", a=int(epi.zero_point), b=int(epi.lo), d=int(epi.hi),
                   note=f"concat {call.node.name} input '{x.name}' (address map)"))
        g.add(make("CONFIG", reg="SCALE", a=int(epi.mult.values[0]), b=0,
                   c=int(epi.shift.values[0]), note="part scale"))
        self._emit(x, y, xaddr, xdt, src_pos, ry.positions()[dst], 0, centre=int(call.x_zp))

    def _emit(self, x, y, xaddr, xdt, src_pos, dst_pos, fill, centre=0) -> None:
        """The 2-D blocks of the map ``src_pos -> dst_pos`` (element positions in the DRAM
        matrices at ``xaddr`` and ``y``'s region; -1: the fill row at ``fill``): per
        accumulator slot LOADs, an ALU ADD ``-centre`` over the slot (when non-zero) and
        STOREs with the configured epilogue."""
        ctx = self.ctx
        ry = ctx.region(y)
        ex_, ey, dt = ESIZE[xdt], ry.esize, ry.dtype
        cap = min(self.half, MAX_ALU_ROWS)
        bl = blocks(runs(src_pos, dst_pos, self.d), min(MAX_ROWS, cap))
        reads = [] if x.is_const else [ctx.res(x)]
        k = 0
        while k < len(bl):
            base, slot = self._slot()
            ex = ctx.b.group("ex", reads=reads, writes=[slot])
            st = ctx.b.group("st", reads=[slot], writes=[ctx.res(y)])
            used = 0
            while k < len(bl) and used + bl[k][3] <= cap:
                s0, t0, c, rows, ss, ts = bl[k]
                sa = fill if s0 < 0 else xaddr + s0 * ex_
                ex.add(make("LOAD", buf="ACC", dtype=xdt, sram=base + used, dram=sa, rows=rows,
                            cols=c, stride=ss * ex_, note=f"{x.name} @{s0} {rows}x{c}"))
                st.add(make("STORE", dtype=dt, mode="tensor", sram=base + used,
                            dram=ry.addr + t0 * ey, rows=rows, cols=c, stride=ts * ey,
                            note=f"{y.name} @{t0} {rows}x{c}"))
                used += rows
                k += 1
            if centre:
                ex.add(make("ALU", alu_op="ADD", use_imm=1, dst=base, rows=used, dst_inc=1,
                            imm=-centre, note="centre"))

