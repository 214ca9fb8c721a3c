"""Rendering of the ``pool`` family (MaxPool, AvgPool) as ALU sequences.

The input is channels-last, so the window tap ``(u, v)`` of one output row is one strided
LOAD (stride ``sw * C``) of DIM lanes into accumulator rows, with the columns that fall
into the padding inserted by the DMA (value: the dtype's minimum for max, the input zero
point for avg, which the centring turns into 0).  Per chunk of output rows the first tap
lands in the result rows and every other tap in a scratch area combined by one ALU MAX
(max) or ADD (avg) over the chunk.  Max stores with the identity epilogue; avg centres
(ADD -x_zp per tap) and stores each run of output positions with one window count with
that count's multiplier and shift (CONFIG SCALE before the STORE).  Taps whose row lies
wholly in the padding are skipped (max) or contribute nothing (avg).
"""

from __future__ import annotations

import numpy as np

from qcc.ops.integer_pool import avgpool_counts

from .acc_halves import AccHalves
from .elem_operands import mat
from .isa import make
from .layout import canonical
from .lower_elem import IDENTITY

MAX_PAD = 255


def check_pool(ctx, call) -> str | None:
    rx, ry = ctx.region(call.x), ctx.region(call.y)
    nhwc = [r.compat and (r.layout == "cl" or not canonical(r.shape)) for r in (rx, ry)]
    if call.x.is_const or not all(nhwc):
        return "operands are not channels-last matrices"
    if call.x.dtype.name != "int8" or call.y.dtype.name != "int8":
        return "pooling of a non-int8 tensor"
    if call.op == "max" and call.epi.zero_point:
        return "max pooling with an output zero point"
    if call.ow > MAX_PAD or call.kw > MAX_PAD:
        return "pooling window or row too wide for one DMA"
    return None


def counts(call) -> np.ndarray:
    """Window element count of every output position [oh, ow] (avg), as the reference
    counts them (bottom/right padding: what the output size implies)."""
    pb = max(0, (call.oh - 1) * call.sh + call.kh - call.h - call.pt)
    pr = max(0, (call.ow - 1) * call.sw + call.kw - call.w - call.pl)
    return avgpool_counts(call.h, call.w, (call.kh, call.kw), (call.sh, call.sw),
                          (call.pt, call.pl, pb, pr), bool(call.include_pad))


class PoolLowering(AccHalves):
    def _tap(self, g, call, mx, n, oh, u, v, lb, sram, pad_val) -> bool:
        """LOAD tap (u, v) of output row ``oh`` into ``sram``; False when the row is padding."""
        ih = oh * call.sh + u - call.pt
        if not 0 <= ih < call.h:
            return False
        iws = np.arange(call.ow) * call.sw + v - call.pl
        ok = (iws >= 0) & (iws < call.w)
        nvalid = int(ok.sum())
        if nvalid == 0:
            g.add(make("LOAD", buf="ACC", dtype="i8", sram=sram, pad_before=call.ow,
                       pad_val=pad_val, note="pad row"))
            return True
        before = int(np.argmax(ok))
        after = call.ow - before - nvalid
        cols = min(self.d, call.c - lb * self.d)
        dram = mx.addr + ((n * call.h + ih) * call.w + int(iws[before])) * mx.pitch \
            + lb * self.d
        g.add(make("LOAD", buf="ACC", dtype="i8", sram=sram, dram=dram, rows=nvalid, cols=cols,
                   stride=call.sw * mx.pitch, pad_before=before, pad_after=after,
                   pad_val=pad_val, note=f"tap u={u} v={v} oh={oh}"))
        return True

    def lower(self, call) -> None:
        ctx = self.ctx
        mx, my = mat(ctx.region(call.x)), mat(ctx.region(call.y))
        is_max = call.op == "max"
        pad_val = -128 if is_max else int(call.x_zp)
        epi = call.epi
        st0 = ctx.b.group("st")
        st0.add(make("CONFIG", reg="CLAMP", a=int(epi.zero_point), b=int(epi.lo), d=int(epi.hi),
                     note=f"pool {call.node.name}"))
        if is_max:
            st0.add(make("CONFIG", reg="SCALE", a=IDENTITY[0], b=0, c=IDENTITY[1]))
        cnt = None if is_max else counts(call)
        th = max(1, min(call.oh, self.half // (2 * call.ow)))
        taps = [(u, v) for u in range(call.kh) for v in range(call.kw)]
        for n in range(call.n):
            for lb in range(-(-call.c // self.d)):
                for oh0 in range(0, call.oh, th):
                    rows = list(range(oh0, min(call.oh, oh0 + th)))
                    self._chunk(call, mx, my, n, lb, rows, taps, pad_val, cnt)

    def _chunk(self, call, mx, my, n, lb, rows, taps, pad_val, cnt) -> None:
        ctx = self.ctx
        ow, p = call.ow, len(rows) * call.ow
        base, slot = self._slot()
        tmp = base + p
        g = ctx.b.group("ex", reads=[ctx.res(call.x)], writes=[slot])
        is_max = call.op == "max"
        if not is_max:
            g.add(make("ALU", alu_op="MOV", use_imm=1, dst=base, rows=p, dst_inc=1, imm=0,
                       note="sum = 0"))
        first = is_max
        for u, v in taps:
            dst = base if first else tmp
            loaded = [self._tap(g, call, mx, n, oh, u, v, lb, dst + i * ow, pad_val)
                      for i, oh in enumerate(rows)]
            if is_max and not all(loaded):  # a padding row: its slots take the neutral value
                for i, ok in enumerate(loaded):
                    if not ok:
                        g.add(make("LOAD", buf="ACC", dtype="i8", sram=dst + i * ow,
                                   pad_before=ow, pad_val=-128, note="pad row"))
            if not is_max:
                for i, ok in enumerate(loaded):
                    if not ok:
                        g.add(make("LOAD", buf="ACC", dtype="i8", sram=dst + i * ow,
                                   pad_before=ow, pad_val=pad_val, note="pad row"))
                if call.x_zp:
                    g.add(make("ALU", alu_op="ADD", use_imm=1, dst=tmp, rows=p, dst_inc=1,
                               imm=-int(call.x_zp), note="centre"))
            if not first:
                g.add(make("ALU", alu_op="MAX" if is_max else "ADD", dst=base, src=tmp, rows=p,
                           dst_inc=1, src_inc=1, note=f"tap u={u} v={v}"))
            first = False
        self._store(call, my, n, lb, rows, base, slot, cnt)

    def _store(self, call, my, n, lb, rows, base, slot, cnt) -> None:
        ctx = self.ctx
        cols = min(self.d, call.c - lb * self.d)
        st = ctx.b.group("st", reads=[slot], writes=[ctx.res(call.y)])
        ms, ss = (None, None) if cnt is None else (call.epi.mult.values, call.epi.shift.values)
        for i, oh in enumerate(rows):
            pos0 = (n * call.oh + oh) * call.ow
            segs = [(0, call.ow, None)] if cnt is None else _runs(cnt[oh])
            for q0, q1, c in segs:
                if c is not None:
                    st.add(make("CONFIG", reg="SCALE", a=ms[c - 1], b=0, c=ss[c - 1],
                                note=f"window of {c}"))
                st.add(make("STORE", dtype="i8", mode="tensor", sram=base + i * call.ow + q0,
                            dram=my.addr + (pos0 + q0) * my.pitch + lb * self.d, rows=q1 - q0,
                            cols=cols, stride=my.pitch, note=f"out oh={oh}"))


def _runs(row: np.ndarray) -> list[tuple[int, int, int]]:
    out, q0 = [], 0
    for q in range(1, len(row) + 1):
        if q == len(row) or row[q] != row[q0]:
            out.append((q0, q, int(row[q0])))
            q0 = q
    return out
