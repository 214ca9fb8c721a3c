"""Rendering of the elementwise nonlinear families as ALU/LUT sequences: ``threshold``
and ``igelu``.

``threshold`` (``y = values[#(t <= x)]``): every threshold inside the input's range adds
``[x >= t] = min(max(x - t + 1, 0), 1)`` to a count (MOV, ADD, MAX, MIN, ADD); thresholds
at or below the dtype's minimum add a constant, those above its maximum nothing; the
count (at most 255) indexes a LUT holding ``values``.

``igelu`` (docs/integer_ops.md, ``qcc.ops.integer_transformer.igelu_acc``): with
``xi = clip(x - x_zp, -L, x_max)``, ``u = min(|xi|, L)``, ``q = (L - u)^2`` and
``s = [xi < 0]``: ``g = (c1 + sign(xi) (c1 - q)) >> f`` is ``(2 c1 - q) + s (2 q - 2 c1)``
floor-shifted (``xi = 0`` gives another ``g`` but ``xi * g = 0`` either way); the floor
shift is the rounding SHR of ``g - 2^(f-1)``.  The accumulator ``xi * g`` is stored with the
epilogue.  Each chunk of rows uses four row blocks of the accumulator buffer.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType

from .acc_halves import AccHalves
from .elem_operands import mat
from .isa import make
from .lower_elem import IDENTITY, MAX_ROWS

IMM_MIN, IMM_MAX = -(1 << 31), (1 << 31) - 1


def _split_thresholds(call):
    """(constant count, thresholds that depend on x) for the input's dtype range."""
    t = np.asarray(call.thresholds.data, np.int64)[:call.nt]
    lo, hi = call.x.dtype.min, call.x.dtype.max
    return int((t <= lo).sum()), [int(v) for v in t[(t > lo) & (t <= hi)]]


def check_nonlin(ctx, call) -> str | None:
    rx, ry = ctx.region(call.x), ctx.region(call.y)
    if call.family == "threshold" and call.x.dtype == DType.int64:
        if call.x.is_const or not rx.compat or not ry.compat or "cl" in (rx.layout, ry.layout):
            return "operands are not plain row-major tensors"
        _, mid = _split_thresholds(call)
        if any(not IMM_MIN + 2 <= t <= IMM_MAX for t in mid):
            return "a threshold outside the 32-bit immediate range"
        return None if call.nt <= 255 else "more than 255 thresholds"
    if call.x.is_const or not rx.compat or not ry.compat or rx.layout != ry.layout:
        return "operands are not matrices of one layout"
    if call.family == "threshold":
        if call.nt > 255:
            return "more than 255 thresholds (the count indexes a 256-entry LUT)"
        _, mid = _split_thresholds(call)
        if any(not IMM_MIN <= 1 - t <= IMM_MAX for t in mid):
            return "a threshold outside the 32-bit immediate range"
        return None
    if 2 * int(call.c1) > IMM_MAX or int(call.q_l) ** 2 > IMM_MAX:
        return "i-GELU constants outside the 32-bit immediate range"
    return None


class NonlinLowering(AccHalves):
    FAMILIES = ("threshold", "igelu")

    def __init__(self, ctx, elem):
        super().__init__(ctx)
        self.elem = elem

    def _rows(self, total: int, blocks: int):
        rc = max(1, min(MAX_ROWS, self.half // blocks))
        for r0 in range(0, total, rc):
            yield r0, min(rc, total - r0)

    def lower(self, call) -> None:
        getattr(self, call.family)(call)

    def _each_chunk(self, call, blocks: int, body, tres=None) -> None:
        ctx = self.ctx
        mx, my = mat(ctx.region(call.x)), mat(ctx.region(call.y))
        for lb in range(-(-my.lanes // self.d)):
            cols = min(self.d, my.lanes - lb * self.d)
            for r0, n in self._rows(my.rows, blocks):
                base, slot = self._slot()
                reads = [ctx.res(call.x)] + ([tres] if tres else [])
                g = ctx.b.group("ex", reads=reads, writes=[slot])
                self.elem._load(g, mx, r0, n, lb, base)
                out = body(g, base, n)
                st = ctx.b.group("st", reads=[slot], writes=[ctx.res(call.y)])
                self.elem._store(st, my, r0, n, lb * self.d, cols, out)

    @staticmethod
    def _alu(g, op, dst, n, imm=None, src=None, src_inc=1, note=""):
        if imm is not None:
            g.add(make("ALU", alu_op=op, use_imm=1, dst=dst, rows=n, dst_inc=1, imm=int(imm),
                       note=note))
        else:
            g.add(make("ALU", alu_op=op, dst=dst, src=src, rows=n, dst_inc=1, src_inc=src_inc,
                       note=note))

    def threshold(self, call) -> None:
        if call.x.dtype == DType.int64:
            return self.threshold64(call)
        const, mid = _split_thresholds(call)
        y = call.y
        tbase, tres = self.elem.load_table(call.node.name, call.values.values[:call.nt + 1])
        self.elem._config_st(0, y.dtype.min, y.dtype.max, *IDENTITY,
                             note=f"threshold {call.node.name}")
        a = self._alu

        def body(g, x, n):
            cnt, tmp = x + n, x + 2 * n
            a(g, "MOV", cnt, n, imm=const, note="count of thresholds <= dtype min")
            for t in mid:
                a(g, "MOV", tmp, n, src=x)
                a(g, "ADD", tmp, n, imm=1 - t, note=f"x >= {t}")
                a(g, "MAX", tmp, n, imm=0)
                a(g, "MIN", tmp, n, imm=1)
                a(g, "ADD", cnt, n, src=tmp)
            g.add(make("LUT", dst=cnt, src=cnt, rows=n, table=tbase, offset=0, note="values"))
            return cnt
        self._each_chunk(call, 3, body, tres)

    def igelu(self, call) -> None:
        epi = call.epi
        self.elem._config_st(epi.zero_point, epi.lo, epi.hi, epi.mult.values[0],
                             epi.shift.values[0], note=f"igelu {call.node.name}")
        lvl, c1, f = int(call.q_l), int(call.c1), int(call.f_shift)
        a = self._alu

        def body(g, x, n):
            u, s, d = x + n, x + 2 * n, x + 3 * n
            if call.x_zp:
                a(g, "ADD", x, n, imm=-int(call.x_zp), note="centre")
            a(g, "MAX", x, n, imm=-lvl)
            a(g, "MIN", x, n, imm=int(call.x_max), note="xi")
            a(g, "MOV", u, n, src=x)
            a(g, "MUL", u, n, imm=-1)
            a(g, "MAX", u, n, src=x, note="|xi|")
            a(g, "MIN", u, n, imm=lvl)
            a(g, "MUL", u, n, imm=-1)
            a(g, "ADD", u, n, imm=lvl)
            a(g, "MUL", u, n, src=u, note="q = (L - u)^2")
            a(g, "MOV", s, n, src=x)
            a(g, "MUL", s, n, imm=-1)
            a(g, "MAX", s, n, imm=0)
            a(g, "MIN", s, n, imm=1, note="s = [xi < 0]")
            a(g, "MOV", d, n, src=u)
            a(g, "MUL", d, n, imm=2)
            a(g, "ADD", d, n, imm=-2 * c1)
            a(g, "MUL", d, n, src=s, note="s (2q - 2c1)")
            a(g, "MUL", u, n, imm=-1)
            a(g, "ADD", u, n, imm=2 * c1)
            a(g, "ADD", u, n, src=d, note="c1 (1 + erf)")
            if f:
                a(g, "ADD", u, n, imm=-(1 << (f - 1)))
                a(g, "SHR", u, n, imm=f, note="floor shift")
            a(g, "MUL", x, n, src=u, note="xi * g")
            return x
        self._each_chunk(call, 4, body)

    def _clamp64(self, g, lo, hi, t, u, n):
        """lo = clamp(hi * 2^32 + (lo mod 2^32), int32) (the 64-bit value's words in lane 0 of
        rows lo and hi): exact for every comparison with a threshold inside
        (-2^31, 2^31)."""
        a = self._alu
        a(g, "MOV", t, n, src=lo)
        a(g, "ASR", t, n, imm=31)
        a(g, "MUL", t, n, imm=-1)
        a(g, "ADD", t, n, src=hi)
        a(g, "ABS", t, n)
        a(g, "MIN", t, n, imm=1, note="[x outside int32]")
        a(g, "MOV", u, n, src=hi)
        a(g, "MUL", u, n, imm=-1)
        a(g, "MAX", u, n, imm=0)
        a(g, "MIN", u, n, imm=1, note="[x < 0]")
        a(g, "MOV", hi, n, src=u)
        a(g, "MUL", hi, n, imm=IMM_MIN)
        a(g, "MUL", u, n, imm=-1)
        a(g, "ADD", u, n, imm=1)
        a(g, "MUL", u, n, imm=IMM_MAX)
        a(g, "ADD", hi, n, src=u, note="the saturated value")
        a(g, "MUL", hi, n, src=t)
        a(g, "MUL", t, n, imm=-1)
        a(g, "ADD", t, n, imm=1)
        a(g, "MUL", lo, n, src=t)
        a(g, "ADD", lo, n, src=hi, note="x clamped to int32")

    def threshold64(self, call) -> None:
        """A threshold on int64 values (an ONNX attention mask): one element per accumulator
        row (its low and high words by stride-8 DMAs), clamped to int32, then counted."""
        const, mid = _split_thresholds(call)
        ctx, y = self.ctx, call.y
        rx, ry = ctx.region(call.x), ctx.region(y)
        tbase, tres = self.elem.load_table(call.node.name, call.values.values[:call.nt + 1])
        self.elem._config_st(0, y.dtype.min, y.dtype.max, *IDENTITY,
                             note=f"threshold {call.node.name}")
        a = self._alu
        for r0, n in self._rows(call.y.type.numel, 6):
            base, slot = self._slot()
            lo, hi, t, u, cnt = (base + i * n for i in range(5))
            g = ctx.b.group("ex", reads=[ctx.res(call.x), tres], writes=[slot])
            for dst, off, what in ((lo, 0, "low"), (hi, 4, "high")):
                g.add(make("LOAD", buf="ACC", dtype="i32", sram=dst, dram=rx.addr + 8 * r0 + off,
                           rows=n, cols=1, stride=8, note=f"{call.x.name} {what} words"))
            self._clamp64(g, lo, hi, t, u, n)
            a(g, "MOV", cnt, n, imm=const, note="count of thresholds <= dtype min")
            for th in mid:
                a(g, "MOV", t, n, src=lo)
                a(g, "ADD", t, n, imm=1 - th, note=f"x >= {th}")
                a(g, "MAX", t, n, imm=0)
                a(g, "MIN", t, n, imm=1)
                a(g, "ADD", cnt, n, src=t)
            g.add(make("LUT", dst=cnt, src=cnt, rows=n, table=tbase, offset=0, note="values"))
            st = ctx.b.group("st", reads=[slot], writes=[ctx.res(y)])
            st.add(make("STORE", dtype=ry.dtype, sram=cnt, dram=ry.addr + r0 * ry.esize, rows=n,
                        cols=1, stride=ry.esize, note=f"{y.name} elements {r0}+{n}"))
