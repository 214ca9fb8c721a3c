"""Rendering of a bilinear (``linear`` mode) resize: two taps per axis and one rounding.

The reference (``qcc.ops.integer_pool``) computes, per output position ``(i, j)`` of each
plane, ``clip(rshift_round(sum_ab wy_a[i] wx_b[j] (x[ty_a[i], tx_b[j]] - zp), 20) + zp)``
with Q10 weights, ``wy_0 + wy_1 = wx_0 + wx_1 = 2^10``.  As the four weight products sum to
``2^20``, ``rshift_round(sum w (x - zp), 20) + zp = rshift_round(sum w x, 20)``: the raw
codes need no centring.  Over channels-last tensors one output position's channels are one
accumulator row, so per output row ``i`` and chunk of ``J`` output columns (and channel
block, and batch):

    LOAD  A, B, C, D: rows ty_0[i] / ty_1[i] of x at columns tx_0[j] / tx_1[j] (each a few
          strided LOADs: the 2-D blocks of ``lower_move``)
    per run of accumulator rows whose column weights are equal (the rows go by column
    residue modulo the taps' period, along which the weights repeat; the clamped end
    columns are runs of their own):
    CONFIG ALU_SCALE (2 wx_0, 2 wx_1, 1) · ALU DYADD A = A wx_0 + B wx_1 · DYADD C = C wx_0 + D wx_1
          (``rshift_round(2 X, 1) = X``: the horizontal taps exactly, in one instruction)
    CONFIG ALU_SCALE (wy_0[i], wy_1[i], 20) · ALU DYADD A = rshift_round(A wy_0 + C wy_1, 20)
    STORE the J rows (identity scale, the dtype's clamp)

Every intermediate is exact in int32 for 8/16-bit codes (``|A| <= 2^15 * 2^10``) and DYADD
computes in int64, so the outputs are the reference's bit for bit.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from .acc_halves import AccHalves
from .isa import make
from .lower_elem import IDENTITY, MAX_ROWS
from .lower_move import blocks

FRAC = 10   # the reference's Q10 weights (qcc.ops.integer_pool.RESIZE_FRAC_BITS)
PARTS = 4   # accumulator rows per output column: A, B, C, D


def check_bilinear(ctx, call) -> str | None:
    if call.x.is_const:
        return "bilinear resize of a constant"
    if call.x.dtype != call.y.dtype or call.x.dtype.name not in ("int8", "uint8", "int16"):
        return "bilinear resize of int32 codes (the Q10 products leave int32)"
    rx, ry = ctx.region(call.x), ctx.region(call.y)
    px = rx.positions().reshape(call.x.shape)
    py = ry.positions().reshape(call.y.shape)
    if not (rx.compat and ry.compat) or (np.diff(px, axis=1) != 1).any() or \
            (np.diff(py, axis=1) != 1).any():
        return "bilinear resize over a row-major tensor (a row's lanes would need per-lane sources)"
    if (np.diff(py, 2, axis=3) != 0).any():
        return "bilinear resize into output columns that are not evenly spaced"
    return None


def tables(call):
    ty = np.asarray(call.ty.data, np.int64).ravel()[:4 * call.oh].reshape(4, call.oh)
    tx = np.asarray(call.tx.data, np.int64).ravel()[:4 * call.ow].reshape(4, call.ow)
    return ty, tx


class BilinearLowering(AccHalves):
    def lower(self, call) -> None:
        ctx, d = self.ctx, self.d
        x, y = call.x, call.y
        n, c, h, w = x.shape
        rx, ry = ctx.region(x), ctx.region(y)
        px, py = rx.positions(), ry.positions()
        es, dt = rx.esize, rx.dtype
        ty, tx = tables(call)
        jmax = max(1, min(self.half // PARTS, MAX_ROWS))
        per = call.ow // gcd(call.ow, w)            # tx repeats every `per` columns (+ w/gcd)
        if per <= jmax:
            jmax -= jmax % per
        chunks = [np.arange(j0, min(j0 + jmax, call.ow)) for j0 in range(0, call.ow, jmax)]
        order = [col_order(js, per) for js in chunks]
        runs = [weight_runs(tx[2, js], tx[3, js]) for js in order]
        g = ctx.b.group("st")
        g.add(make("CONFIG", reg="CLAMP", a=0, b=y.dtype.min, d=y.dtype.max,
                   note=f"bilinear {call.node.name}"))
        g.add(make("CONFIG", reg="SCALE", a=IDENTITY[0], b=0, c=IDENTITY[1], note="identity"))
        for b0, i, cb, q in ((b0, i, cb, q) for b0 in range(n) for i in range(call.oh)
                             for cb in range(0, c, d) for q in range(len(chunks))):
            js = order[q]
            nj, lanes = len(js), min(d, c - cb)
            base, slot = self._slot()
            ex = ctx.b.group("ex", reads=[ctx.res(x)], writes=[slot])
            plane = (b0 * c + cb) * h
            for k, (a, bb) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                src = px[(plane + ty[a, i]) * w + tx[bb, js]]
                for s0, t0, _, rows, ss, _ in blocks([(int(s), int(t), lanes)
                                                     for t, s in enumerate(src)], nj):
                    ex.add(make("LOAD", buf="ACC", dtype=dt, sram=base + k * nj + t0,
                                dram=rx.addr + s0 * es, rows=rows, cols=lanes, stride=ss * es,
                                note=f"{x.name} tap {a}{bb}"))
            for t0, t1, m0, m1 in runs[q]:
                ex.add(make("CONFIG", reg="ALU_SCALE", a=2 * m0, b=2 * m1, c=1, note="columns"))
                for top in (0, 2 * nj):
                    ex.add(make("ALU", alu_op="DYADD", dst=base + top + t0,
                                src=base + top + nj + t0, rows=t1 - t0, dst_inc=1, src_inc=1))
            ex.add(make("CONFIG", reg="ALU_SCALE", a=int(ty[2, i]), b=int(ty[3, i]), c=2 * FRAC,
                        note=f"row {i}"))
            ex.add(make("ALU", alu_op="DYADD", dst=base, src=base + 2 * nj, rows=nj, dst_inc=1,
                        src_inc=1))
            dst = py[((b0 * c + cb) * call.oh + i) * call.ow + js]
            st = ctx.b.group("st", reads=[slot], writes=[ctx.res(y)])
            for t0, y0, _, rows, _, ys in blocks([(t, int(p), lanes)
                                                  for t, p in enumerate(dst)], nj):
                st.add(make("STORE", dtype=dt, mode="tensor", sram=base + t0,
                            dram=ry.addr + y0 * es, rows=rows, cols=lanes, stride=ys * es,
                            note=f"{y.name} row {i}"))


def col_order(js: np.ndarray, per: int) -> np.ndarray:
    """The output columns of a chunk in the order of their accumulator rows: by residue
    modulo ``per`` (the period of the column taps), so that each residue class's taps are
    one strided LOAD and its outputs one strided STORE; the natural order when the period
    is as long as the chunk."""
    if per >= len(js):
        return js
    return js[np.lexsort((js, js % per))]


def weight_runs(w0: np.ndarray, w1: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(first row, end row, wx_0, wx_1) of each run of rows with equal column weights."""
    cut = np.flatnonzero((np.diff(w0) != 0) | (np.diff(w1) != 0)) + 1
    edges = [0, *cut.tolist(), len(w0)]
    return [(a, b, int(w0[a]), int(w1[a])) for a, b in zip(edges[:-1], edges[1:])]
