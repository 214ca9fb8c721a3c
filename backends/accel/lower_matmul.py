"""Rendering of the ``matmul`` family (activation x activation) as GEMM streams.

The array multiplies int8 inputs by int8 DIM x DIM weight blocks.  Per batch:

1. staging (DMA through accumulator rows, in the call's planned scratch): ``b [K, N]`` is
   cut into weight blocks ``[N/D, K/D, D, D]`` (row = k, lane = n); a uint8 ``a`` is
   copied as ``a' = a - 128`` (int8), an int8 ``a`` is used in place (``a' = a``, ca = 0);
2. with ``alpha = ca - a_zp``: ``sum_k (a - a_zp)(b - b_zp) = P - b_zp R + alpha C -
   K b_zp alpha`` where ``P = a' @ b`` (GEMM), ``R[m] = sum_k a'[m, k]`` (GEMM of the same
   input rows with a block of ones), ``C[n] = sum_k b[k, n]`` (GEMM of a row of ones with
   the b blocks); the ALU scales and adds the corrections (MUL by an immediate, ADD of a
   broadcast row), then STORE applies the epilogue (per-tensor requant or raw int32).

Weight rows past K meet input lanes loaded as 0, and lanes past N are never stored, so
the staged blocks need no zero padding.
"""

from __future__ import annotations

import numpy as np

from .isa import make
from .lower_elem import IDENTITY, MAX_ROWS

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def check_matmul(ctx, call) -> str | None:
    if call.b.dtype.name != "int8":
        return "uint8 b operand (the weight blocks are int8)"
    for v in (call.a, call.b, call.y):
        if v.is_const or not ctx.region(v).compat or ctx.region(v).layout == "cl":
            return f"'{v.name}' is a constant or not a row-major matrix"
    if call.epi.requant and call.epi.per_channel:
        return "per-channel matmul epilogue"
    if call.scratch < _scratch(ctx, call):
        return "scratch too small for the staged operands"
    return None


def _nblk(n: int, d: int) -> int:
    return -(-n // d)


def _scratch(ctx, call) -> int:
    d = ctx.hw.dim
    staged = call.batch * _nblk(call.k, d) * _nblk(call.n, d) * d * d
    return staged + (call.batch * call.m * call.k if call.a.dtype.name == "uint8" else 0)


class MatmulLowering:
    def __init__(self, ctx):
        self.ctx = ctx
        self.hw = ctx.hw
        self.d = ctx.hw.dim
        self.n = {"INP": 0, "WGT": 0, "ACC": 0}
        self.half = {"INP": ctx.hw.inp_rows // 2, "WGT": ctx.hw.wgt_blocks // 2,
                     "ACC": ctx.hw.acc_rows // 2}
        self._ones = None

    def _slot(self, buf: str):
        k = self.n[buf] % 2
        self.n[buf] += 1
        return k * self.half[buf], (buf, k)

    def _ones_addr(self) -> int:
        if self._ones is None:
            d = self.d
            self._ones = self.ctx.plan.add_const("ones.block", np.ones((d, d), np.int8), "i8").addr
        return self._ones

    def _config(self, call, staging: bool = False):
        """The ST engine's CLAMP/SCALE: the identity for the staging copies, else the epilogue."""
        epi = call.epi
        g = self.ctx.b.group("st")
        if staging:
            g.add(make("CONFIG", reg="CLAMP", a=0, b=-128, d=127, note="staging copies"))
            g.add(make("CONFIG", reg="SCALE", a=IDENTITY[0], b=0, c=IDENTITY[1]))
        elif epi.requant:
            g.add(make("CONFIG", reg="CLAMP", a=int(epi.zero_point), b=int(epi.lo), d=int(epi.hi),
                       note=f"matmul {call.node.name}"))
            g.add(make("CONFIG", reg="SCALE", a=epi.mult.values[0], b=0, c=epi.shift.values[0]))
        else:
            lo, hi = max(int(epi.lo), INT32_MIN), min(int(epi.hi), INT32_MAX)
            g.add(make("CONFIG", reg="CLAMP", a=0, b=lo, d=hi, note=f"matmul {call.node.name}"))
            g.add(make("CONFIG", reg="SCALE", a=IDENTITY[0], b=0, c=IDENTITY[1]))

    # -- staging ---------------------------------------------------------------------------
    def _stage_b(self, call, j: int, b_addr: int, sb: int, scr) -> None:
        ctx, d = self.ctx, self.d
        k, n = call.k, call.n
        nk, nn = _nblk(k, d), _nblk(n, d)
        base = b_addr + int(call.b_off.values[j])
        blocks = [(nb, kb) for nb in range(nn) for kb in range(nk)]
        per = max(1, self.half["ACC"] // d)
        for i0 in range(0, len(blocks), per):
            acc, slot = self._slot("ACC")
            ex = ctx.b.group("ex", reads=[ctx.res(call.b)], writes=[slot])
            st = ctx.b.group("st", reads=[slot], writes=[scr])
            for t, (nb, kb) in enumerate(blocks[i0:i0 + per]):
                rows, cols = min(d, k - kb * d), min(d, n - nb * d)
                ex.add(make("LOAD", buf="ACC", dtype="i8", sram=acc + t * d,
                            dram=base + kb * d * n + nb * d, rows=rows, cols=cols, stride=n,
                            note=f"b batch {j} k={kb} n={nb}"))
                st.add(make("STORE", dtype="i8", mode="tensor", sram=acc + t * d,
                            dram=sb + ((j * nn + nb) * nk + kb) * d * d, rows=rows, cols=cols,
                            stride=d, note="b block"))

    def _stage_a(self, call, j: int, a_addr: int, sa: int, scr) -> None:
        ctx, d = self.ctx, self.d
        m, k = call.m, call.k
        base = a_addr + int(call.a_off.values[j])
        for lb in range(_nblk(k, d)):
            cols = min(d, k - lb * d)
            for r0 in range(0, m, min(MAX_ROWS, self.half["ACC"])):
                rows = min(m - r0, MAX_ROWS, self.half["ACC"])
                acc, slot = self._slot("ACC")
                ex = ctx.b.group("ex", reads=[ctx.res(call.a)], writes=[slot])
                ex.add(make("LOAD", buf="ACC", dtype="u8", sram=acc, dram=base + r0 * k + lb * d,
                            rows=rows, cols=cols, stride=k, note=f"a batch {j}"))
                ex.add(make("ALU", alu_op="ADD", use_imm=1, dst=acc, rows=rows, dst_inc=1,
                            imm=-128, note="a - 128"))
                st = ctx.b.group("st", reads=[slot], writes=[scr])
                st.add(make("STORE", dtype="i8", mode="tensor", sram=acc,
                            dram=sa + j * m * k + r0 * k + lb * d, rows=rows, cols=cols,
                            stride=k, note="a' = a - 128"))

    # -- compute ---------------------------------------------------------------------------
    def _tile_rows(self, nk: int) -> int:
        p = min((self.half["ACC"] - 1) // 2, self.half["INP"] // nk - 1, MAX_ROWS)
        return max(1, p)

    def lower(self, call, index: int) -> None:
        ctx, d = self.ctx, self.d
        m, k, n = call.m, call.k, call.n
        nk, nn = _nblk(k, d), _nblk(n, d)
        scr_off = ctx.kp.scratch_offset(index)
        scr = ("DRAM", f"scratch.{index}")
        sb = scr_off
        unsigned = call.a.dtype.name == "uint8"
        sa = sb + call.batch * nn * nk * d * d
        ra, rb, ry = ctx.region(call.a), ctx.region(call.b), ctx.region(call.y)
        ca = 128 if unsigned else 0
        alpha, zb = ca - int(call.a_zp), int(call.b_zp)
        ones = self._ones_addr()
        p = self._tile_rows(nk)
        for j in range(call.batch):
            self._config(call, staging=True)
            self._stage_b(call, j, rb.addr, sb, scr)
            if unsigned:
                self._stage_a(call, j, ra.addr, sa, scr)
                a_src, a_res = sa + j * m * k, scr
            else:
                a_src, a_res = ra.addr + int(call.a_off.values[j]), ctx.res(call.a)
            self._config(call)
            for r0 in range(0, m, p):
                rows = min(p, m - r0)
                inp, ires = self._slot("INP")
                ld = ctx.b.group("ld", reads=[a_res], writes=[ires])
                for kb in range(nk):
                    cols = min(d, k - kb * d)
                    ld.add(make("LOAD", buf="INP", dtype="i8", sram=inp + kb * rows,
                                dram=a_src + r0 * k + kb * d, rows=rows, cols=cols, stride=k,
                                note=f"a rows {r0}+{rows} k={kb}"))
                    if alpha:
                        ld.add(make("LOAD", buf="INP", dtype="i8", sram=inp + nk * rows + kb,
                                    dram=ones, rows=1, cols=cols, stride=d, note="ones row"))
                for nb in range(nn):
                    self._block(call, j, r0, rows, nb, inp, ires, alpha, zb, sb, scr, ry, ones)

    def _block(self, call, j, r0, rows, nb, inp, ires, alpha, zb, sb, scr, ry, ones):
        ctx, d = self.ctx, self.d
        k, n = call.k, call.n
        nk, nn = _nblk(k, d), _nblk(n, d)
        wgt, wres = self._slot("WGT")
        ld = ctx.b.group("ld", reads=[scr], writes=[wres])
        ld.add(make("LOAD", buf="WGT", sram=wgt, dram=sb + (j * nn + nb) * nk * d * d, rows=nk,
                    stride=d * d, note=f"b blocks batch {j} n={nb}"))
        if zb:
            ld.add(make("LOAD", buf="WGT", sram=wgt + nk, dram=ones, rows=1, stride=d * d,
                        note="ones block"))
        acc, slot = self._slot("ACC")
        ex = ctx.b.group("ex", reads=[ires, wres], writes=[slot])
        ex.add(make("GEMM", reset=1, acc=acc, inp=inp, wgt=wgt, rows=rows, kblocks=nk,
                    inp_kstride=rows, wgt_kstride=1, note=f"P batch {j} n={nb}"))
        if zb:  # - b_zp * R: R[m] = sum_k a'[m, k] on every lane
            r = acc + rows
            ex.add(make("GEMM", reset=1, acc=r, inp=inp, wgt=wgt + nk, rows=rows, kblocks=nk,
                        inp_kstride=rows, wgt_kstride=0, note="R = rowsum a'"))
            ex.add(make("ALU", alu_op="MUL", use_imm=1, dst=r, rows=rows, dst_inc=1, imm=-zb))
            ex.add(make("ALU", alu_op="ADD", dst=acc, src=r, rows=rows, dst_inc=1, src_inc=1,
                        note="P - b_zp R"))
        if alpha:  # + alpha * C: C[n] = sum_k b[k, n], one row added to every row
            c = acc + 2 * rows
            ex.add(make("GEMM", reset=1, acc=c, inp=inp + nk * rows, wgt=wgt, rows=1,
                        kblocks=nk, inp_kstride=1, wgt_kstride=1, note="C = colsum b"))
            ex.add(make("ALU", alu_op="MUL", use_imm=1, dst=c, rows=1, imm=alpha))
            ex.add(make("ALU", alu_op="ADD", dst=acc, src=c, rows=rows, dst_inc=1, src_inc=0,
                        note="+ alpha C"))
        if zb and alpha:
            ex.add(make("ALU", alu_op="ADD", use_imm=1, dst=acc, rows=rows, dst_inc=1,
                        imm=-k * zb * alpha, note="- K b_zp alpha"))
        cols = min(d, n - nb * d)
        es = ry.esize
        y0 = ry.addr + (j * call.m + r0) * n * es + nb * d * es
        st = ctx.b.group("st", reads=[slot], writes=[ctx.res(call.y)])
        st.add(make("STORE", dtype=ry.dtype, mode="tensor", sram=acc, dram=y0, rows=rows,
                    cols=cols, stride=n * es, note=f"y batch {j} rows {r0}+{rows} n={nb}"))
