"""The GEMM paths of an LSTM/GRU call on the accelerator (``lower_rnn``; docs/target_accel.md
§7): the weight blocks, the x path of a chunk of time steps at once, the h path of one step,
the GRU's second h-path GEMM (``linear_before_reset = 0``) and the new ``h`` into the input
buffer.  Each path's raw GEMM sums go through the STORE epilogue with per-row parameters
(exactly ``sat32(rq(W (v - zp)))``) into the call's DRAM scratch and come back as int32 gate
terms in accumulator rows.

The x path does not depend on ``h``: the x terms of ``n`` consecutive steps are one GEMM per
gate lane block over ``n * batch`` input rows (instead of ``n`` GEMMs of ``batch`` rows, each
paying the array's fill and its ``max(rows, R)`` per weight block), stored step by step into
the scratch (step ``j``'s terms are the ``ng`` rows of a step's gate layout) and loaded back
into the chunk's accumulator rows before the recurrence reads them.

Every GEMM is its own group writing its own accumulator rows, and the STOREs of those rows
are a group that waits only for it, so ST requantizes block ``nb`` while the array computes
block ``nb + 1``; the weight blocks load in pieces of gate blocks, so the first GEMMs start
when their piece has landed.  The groups name accumulator and input-buffer row intervals
(``stream.py``), and every group that writes rows a later STORE reads names those rows.
"""

from __future__ import annotations

from .isa import make
from .lower_elem import MAX_ROWS   # LOAD / STORE rows field

PIECES = 4             # weight loads per matrix (the first GEMMs wait for one piece only)


def _isize(call) -> int:
    return int(call.x.shape[-1])


def _gates(call) -> int:
    return 4 if call.family == "lstm" else 3


def acc_rows(lo: int, n: int) -> tuple:
    """The stream resource of accumulator rows ``[lo, lo + n)``."""
    return ("ACC", lo, lo + n)


class RnnPaths:
    """GEMM paths of ``RnnLowering`` (uses its ``b``, ``ctx``, ``d``, ``hw``, buffers, ``_scr``,
    ``_hrow`` (the input-buffer rows of ``h``) and ``clamp``)."""

    def _load_params(self, c, what: str):
        """This path's PARAM rows, where the two paths' rows do not fit the buffer at once."""
        ex = self.ex(writes=self.par)
        ex.add(make("LOAD", buf="PARAM", dtype="i32", sram=0, rows=c["prow"], cols=self.d,
                    dram=c["preg"] + (0 if what == "x" else c["prow"] * self.d * 4),
                    stride=self.d * 4, note=f"{what}-path requant rows"))

    def _load_weights(self, c, key: str, dram: int, wgt0: int, nblocks: int, kin: int):
        """LD: the ``nblocks`` gate blocks (``kin`` weight blocks each) at ``wgt0`` in up to
        PIECES loads; ``c[key]``: per gate block the resource of its piece."""
        per = -(-nblocks // PIECES)
        c[key] = []
        for lo in range(0, nblocks, per):
            hi = min(nblocks, lo + per)
            res = ("WGT", wgt0 + lo * kin, wgt0 + hi * kin)
            ld = self.b.group("ld", writes=[res])
            ld.add(make("LOAD", buf="WGT", sram=wgt0 + lo * kin, dram=dram + lo * kin * self.d ** 2,
                        rows=(hi - lo) * kin, stride=self.d ** 2, note=f"{key} gate blocks {lo}..{hi - 1}"))
            c[key] += [res] * (hi - lo)

    def _gemm_store(self, res_in, wres, wgt: int, acc: int, inp: int, rows: int, kin: int, stores,
                    note: str):
        """One GEMM (its own group; weight blocks from ``wgt``, in the piece ``wres``) and its
        STOREs (``stores``: (sram, dram, rows, stride, param)), a ST group that waits for it
        only."""
        out = acc_rows(acc, rows)
        ex = self.b.group("ex", reads=[res_in, wres], writes=[out])
        ex.add(make("GEMM", reset=1, acc=acc, inp=inp, wgt=wgt, rows=rows, kblocks=kin,
                    inp_kstride=rows, wgt_kstride=1, note=note))
        st = self.b.group("st", reads=[out] + self.par, writes=[self._scr[1]])
        self.clamp(st, "i32")
        for sram, dram, n, stride, param in stores:
            st.add(make("STORE", dtype="i32", mode="channel", sram=sram, dram=dram, rows=n,
                        cols=self.d, stride=stride, param=param, note=f"rq {note}"))

    def _xchunk(self, call, dr: int, ta: int, n: int, lay, c, first) -> None:
        """The x-path gate terms of steps ``ta .. ta+n-1`` into accumulator rows ``lay.xt``
        (step ``ta + j`` at ``lay.xt + j*ng``, the rows of a step's gate layout).  The input
        rows are loaded batch row by batch row (``b*n + j``), so each gate block's ``n*B``
        GEMM rows are ``B`` runs of ``n`` steps, each one STORE at the step stride.  The
        direction's first chunk (``first``: what the direction sets up after its GEMMs)
        loads the weights after its input rows (LD runs in order)."""
        ctx, d, bsz, g = self.ctx, self.d, call.batch, _gates(call)
        kb, ki, width = call.hidden // d, -(-_isize(call) // d), _isize(call)
        rows = n * bsz
        base = self._scr[0]
        step = lay.ng * d * 4
        dbase = base + (dr * call.seq + ta) * step
        xaddr = ctx.region(call.x).addr
        xin = ("INP", 0, self._hrow)
        ld = self.b.group("ld", reads=[ctx.res(call.x)], writes=[xin])
        for k in range(ki):
            for bb in range(bsz):
                ld.add(make("LOAD", buf="INP", dtype="i8", sram=k * rows + bb * n,
                            dram=xaddr + (ta * bsz + bb) * width + k * d, rows=n,
                            cols=min(d, width - k * d), stride=bsz * width,
                            note=f"x steps {ta}..{ta + n - 1} b={bb} k={k}"))
        if first is not None:
            self._load_weights(c, "W", c["wreg"], 0, g * kb, ki)
            self._load_weights(c, "R", c["rreg"], c["nx"], g * kb, kb)
        if c["preg"] is not None:
            self._load_params(c, "x")
        for nb in range(g * kb):
            acc = lay.xt + nb * rows
            self._gemm_store(xin, c["W"][nb], nb * ki, acc, 0, rows, ki,
                             [(acc + bb * n, dbase + (nb * bsz + bb) * d * 4, n, step, c["px"] + 3 * nb)
                              for bb in range(bsz)], f"x block {nb}, {n} steps")
        if first is not None:
            first()
        ex = self.ex(reads=[self._scr[1]], writes=[acc_rows(lay.xt, n * lay.ng)])
        total = n * lay.ng
        for r0 in range(0, total, MAX_ROWS):
            ex.add(make("LOAD", buf="ACC", dtype="i32", sram=lay.xt + r0, dram=dbase + r0 * d * 4,
                        rows=min(MAX_ROWS, total - r0), cols=d, stride=d * 4,
                        note=f"x-path gate terms, steps {ta}..{ta + n - 1}"))
        if c["preg"] is not None:   # the h path's rows stay for the chunk's steps
            self._load_params(c, "h")

    def _hin(self, call) -> tuple:
        return ("INP", self._hrow, self._hrow + call.hidden // self.d * call.batch)

    def _h_to_inp(self, call, sram: int, note: str) -> None:
        """The int8 rows ``sram ..`` (``h`` or the GRU's reset vector, lane block ``k`` at
        ``sram + k*B``) into the h rows of the input buffer: a STORE into the input buffer
        where the machine has it (v5), else through DRAM (``yh`` or the scratch) and a LOAD."""
        bsz, kb = call.batch, call.hidden // self.d
        st = self.b.group("st", reads=[acc_rows(sram, kb * bsz)], writes=[self._hin(call)])
        self.clamp(st, "i8")
        for k in range(kb):
            st.add(make("STORE", dtype="i8", mode="tensor", sram=sram + k * bsz,
                        dram=self._hrow + k * bsz, rows=bsz, cols=self.d, stride=1, inp=1,
                        note=f"{note} k={k} -> INP"))

    def _h_from_dram(self, call, res, addr: int, note: str) -> None:
        """LD: ``h`` (``B x H`` int8 at ``addr``) into the h rows of the input buffer."""
        d, bsz, h = self.d, call.batch, call.hidden
        ld = self.b.group("ld", reads=[res], writes=[self._hin(call)])
        for k in range(h // d):
            ld.add(make("LOAD", buf="INP", dtype="i8", sram=self._hrow + k * bsz, dram=addr + k * d,
                        rows=bsz, cols=d, stride=h, note=f"{note} k={k}"))

    def _hpath(self, call, dr: int, lay, c, shadow) -> None:
        """GEMMs of the h path (``h`` in the input buffer) into the gh rows, each block's STORE
        with the per-row epilogue into the scratch, ``shadow()`` (EX work that does not read
        the gh rows, run while ST stores) and the LOAD back.  A GRU with
        ``linear_before_reset = 0`` needs only the z and r blocks here."""
        d, bsz, g = self.d, call.batch, _gates(call)
        kb = call.hidden // d
        base, scr = self._scr
        if not self.hw.onchip_store:
            self._h_from_dram(call, self.ctx.res(call.yh),
                              self.ctx.region(call.yh).addr + dr * bsz * call.hidden, "h")
        if call.family == "gru" and not call.linear_before_reset:
            g = 2                    # the h gate's terms come from the second GEMM (_reset_path)
        for nb in range(g * kb):
            acc = lay.gh + nb * bsz
            self._gemm_store(self._hin(call), c["R"][nb], c["nx"] + nb * kb, acc, self._hrow,
                             bsz, kb,
                             [(acc, base + nb * bsz * d * 4, bsz, d * 4, c["ph"] + 3 * nb)],
                             f"h block {nb}")
        shadow()
        ex = self.b.group("ex", reads=[scr], writes=[acc_rows(lay.gh, g * kb * bsz)])
        ex.add(make("LOAD", buf="ACC", dtype="i32", sram=lay.gh, dram=base, rows=g * kb * bsz,
                    cols=d, stride=d * 4, note="h-path gate terms"))

    def _reset_path(self, call, lay, c):
        """GRU linear_before_reset = 0: the int8 vector ``r (h - h_zp) >> 15 + h_zp`` (out rows)
        into the h rows of the input buffer, one GEMM per h-gate lane block with the R blocks
        of that gate, the h path's epilogue (its PARAM rows are the last loaded), and the
        int32 terms back into the h gate's gh rows."""
        d, bsz, h = self.d, call.batch, call.hidden
        kb, (base, scr) = h // d, self._scr
        if self.hw.onchip_store:
            self._h_to_inp(call, lay.out, "r (h - h_zp)")
        else:
            st = self.b.group("st", reads=[acc_rows(lay.out, lay.n1)], writes=[scr])
            self.clamp(st, "i8")
            for k in range(kb):
                st.add(make("STORE", dtype="i8", mode="tensor", sram=lay.out + k * bsz,
                            dram=base + k * d, rows=bsz, cols=d, stride=h, note=f"r (h - h_zp) k={k}"))
            self._h_from_dram(call, scr, base, "r (h - h_zp)")
        for j in range(kb):
            nb = 2 * kb + j
            acc = lay.gh + nb * bsz
            self._gemm_store(self._hin(call), c["R"][nb], c["nx"] + nb * kb, acc, self._hrow,
                             bsz, kb,
                             [(acc, base + j * bsz * d * 4, bsz, d * 4, c["ph"] + 3 * nb)],
                             f"R_h block {j}")
        ex = self.ex(reads=[scr])
        ex.add(make("LOAD", buf="ACC", dtype="i32", sram=lay.gh + 2 * kb * bsz, dram=base,
                    rows=kb * bsz, cols=d, stride=d * 4, note="R_h (r (h - h_zp)) terms"))
