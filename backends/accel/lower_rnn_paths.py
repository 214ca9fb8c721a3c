"""The GEMM paths of an LSTM/GRU call on the accelerator (``lower_rnn``; docs/target_accel.md
§7): the x path of a chunk of time steps at once, the h path of one step, and the GRU's
second h-path GEMM (``linear_before_reset = 0``).  Each path's raw GEMM sums go through the
STORE epilogue with per-row parameters (exactly ``sat32(rq(W (v - zp)))``) into the call's
DRAM scratch and come back as int32 gate terms in accumulator rows.

The x path does not depend on ``h``: the x terms of ``n`` consecutive steps are one GEMM per
gate lane block over ``n * batch`` input rows (instead of ``n`` GEMMs of ``batch`` rows, each
paying the array's fill and its ``max(rows, R)`` per weight block), stored step by step into
the scratch (step ``j``'s terms are the ``ng`` rows of a step's gate layout) and loaded back
into the chunk's accumulator rows before the recurrence reads them.
"""

from __future__ import annotations

from .isa import make

MAX_ROWS = 1023        # LOAD / STORE rows field


def _isize(call) -> int:
    return int(call.x.shape[-1])


def _gates(call) -> int:
    return 4 if call.family == "lstm" else 3


class RnnPaths:
    """GEMM paths of ``RnnLowering`` (uses its ``b``, ``ctx``, ``d``, buffers and ``_scr``)."""

    def _load_params(self, c, what: str):
        """This path's PARAM rows, where the two paths' rows do not fit the buffer at once."""
        ex = self.ex(writes=self.par)
        ex.add(make("LOAD", buf="PARAM", dtype="i32", sram=0, rows=c["prow"], cols=self.d,
                    dram=c["preg"] + (0 if what == "x" else c["prow"] * self.d * 4),
                    stride=self.d * 4, note=f"{what}-path requant rows"))

    def _xchunk(self, call, dr: int, ta: int, n: int, lay, c) -> None:
        """The x-path gate terms of steps ``ta .. ta+n-1`` into accumulator rows ``lay.xt``
        (step ``ta + j`` at ``lay.xt + j*ng``, the rows of a step's gate layout).  The input
        rows are loaded batch row by batch row (``b*n + j``), so each gate block's ``n*B``
        GEMM rows are ``B`` runs of ``n`` steps, each one STORE at the step stride."""
        ctx, d, bsz, g = self.ctx, self.d, call.batch, _gates(call)
        kb, ki, width = call.hidden // d, -(-_isize(call) // d), _isize(call)
        rows = n * bsz
        base, scr = self._scr
        step = lay.ng * d * 4
        dbase = base + (dr * call.seq + ta) * step
        xaddr = ctx.region(call.x).addr
        ld = self.b.group("ld", reads=[ctx.res(call.x)], writes=self.inp)
        for k in range(ki):
            for bb in range(bsz):
                ld.add(make("LOAD", buf="INP", dtype="i8", sram=k * rows + bb * n,
                            dram=xaddr + (ta * bsz + bb) * width + k * d, rows=n,
                            cols=min(d, width - k * d), stride=bsz * width,
                            note=f"x steps {ta}..{ta + n - 1} b={bb} k={k}"))
        ex = self.ex(reads=self.inp + self.wgt)
        for nb in range(g * kb):
            ex.add(make("GEMM", reset=1, acc=lay.xt + nb * rows, inp=0, wgt=nb * ki, rows=rows,
                        kblocks=ki, inp_kstride=rows, wgt_kstride=1,
                        note=f"x path block {nb}, {n} steps"))
        if c["preg"] is not None:
            self._load_params(c, "x")
        st = self.b.group("st", reads=self.acc + self.par, writes=[scr])
        self.clamp(st, "i32")
        for nb in range(g * kb):
            for bb in range(bsz):
                st.add(make("STORE", dtype="i32", mode="channel", sram=lay.xt + nb * rows + bb * n,
                            dram=dbase + (nb * bsz + bb) * d * 4, rows=n, cols=d, stride=step,
                            param=c["px"] + 3 * nb, note=f"rq x block {nb} b={bb}"))
        ex = self.ex(reads=[scr])
        total = n * lay.ng
        for r0 in range(0, total, MAX_ROWS):
            ex.add(make("LOAD", buf="ACC", dtype="i32", sram=lay.xt + r0, dram=dbase + r0 * d * 4,
                        rows=min(MAX_ROWS, total - r0), cols=d, stride=d * 4,
                        note=f"x-path gate terms, steps {ta}..{ta + n - 1}"))
        if c["preg"] is not None:   # the h path's rows stay for the chunk's steps
            self._load_params(c, "h")

    def _hpath(self, call, dr: int, lay, c) -> None:
        """GEMMs of the h path (``h`` from the ``yh`` output, which holds the state) into the
        gh rows, the STORE with the per-row epilogue into the scratch and the LOAD back."""
        ctx, d, bsz, g = self.ctx, self.d, call.batch, _gates(call)
        kb = call.hidden // d
        base, scr = self._scr
        src, width = call.yh, call.hidden
        ld = self.b.group("ld", reads=[ctx.res(src)], writes=self.inp)
        for k in range(kb):
            ld.add(make("LOAD", buf="INP", dtype="i8", sram=k * bsz,
                        dram=ctx.region(src).addr + dr * bsz * width + k * d, rows=bsz,
                        cols=d, stride=width, note=f"h k={k}"))
        ex = self.ex(reads=self.inp + self.wgt)
        for nb in range(g * kb):
            ex.add(make("GEMM", reset=1, acc=lay.gh + nb * bsz, inp=0, wgt=c["nx"] + nb * kb,
                        rows=bsz, kblocks=kb, inp_kstride=bsz, wgt_kstride=1,
                        note=f"h path block {nb}"))
        st = self.b.group("st", reads=self.acc + self.par, writes=[scr])
        self.clamp(st, "i32")
        for nb in range(g * kb):
            st.add(make("STORE", dtype="i32", mode="channel", sram=lay.gh + nb * bsz,
                        dram=base + nb * bsz * d * 4, rows=bsz, cols=d, stride=d * 4,
                        param=c["ph"] + 3 * nb, note=f"rq h block {nb}"))
        ex = self.ex(reads=[scr])
        ex.add(make("LOAD", buf="ACC", dtype="i32", sram=lay.gh, dram=base, rows=g * kb * bsz,
                    cols=d, stride=d * 4, note="h-path gate terms"))

    def _reset_path(self, call, lay, c):
        """GRU linear_before_reset = 0: the int8 vector ``r (h - h_zp) >> 15 + h_zp`` (out rows)
        through the scratch into the input buffer, one GEMM per h-gate lane block with the
        R blocks of that gate, the h path's epilogue (its PARAM rows are the last loaded), and
        the int32 terms back into the h gate's gh rows."""
        d, bsz, h = self.d, call.batch, call.hidden
        kb, (base, scr) = h // d, self._scr
        st = self.b.group("st", reads=self.acc, writes=[scr])
        self.clamp(st, "i8")
        ld = self.b.group("ld", reads=[scr], writes=self.inp)
        for k in range(kb):
            st.add(make("STORE", dtype="i8", mode="tensor", sram=lay.out + k * bsz, dram=base + k * d,
                        rows=bsz, cols=d, stride=h, note=f"r (h - h_zp) k={k}"))
            ld.add(make("LOAD", buf="INP", dtype="i8", sram=k * bsz, dram=base + k * d, rows=bsz,
                        cols=d, stride=h, note=f"r (h - h_zp) k={k}"))
        ex = self.ex(reads=self.inp + self.wgt)
        st = self.b.group("st", reads=self.acc + self.par, writes=[scr])
        self.clamp(st, "i32")
        for j in range(kb):
            nb = 2 * kb + j
            ex.add(make("GEMM", reset=1, acc=lay.gh + nb * bsz, inp=0, wgt=c["nx"] + nb * kb,
                        rows=bsz, kblocks=kb, inp_kstride=bsz, wgt_kstride=1, note=f"R_h block {j}"))
            st.add(make("STORE", dtype="i32", mode="channel", sram=lay.gh + nb * bsz,
                        dram=base + j * bsz * d * 4, rows=bsz, cols=d, stride=d * 4,
                        param=c["ph"] + 3 * nb, note=f"rq R_h block {j}"))
        ex = self.ex(reads=[scr])
        ex.add(make("LOAD", buf="ACC", dtype="i32", sram=lay.gh + 2 * kb * bsz, dram=base,
                    rows=kb * bsz, cols=d, stride=d * 4, note="R_h (r (h - h_zp)) terms"))
