"""The ALU/LUT sequences of one LSTM/GRU time step (``lower_rnn``): the interpolated
513-entry int16 tables of ``qcc.ops.integer_rnn.lut16`` and the cell updates, each an
exact integer step of the reference (every intermediate provably inside int32).

``lut16`` over rows ``X`` (int16 Q3.12 values): ``u = X + 2^15``, ``i = u >> 7`` (ASR),
``f = u - 128 i``; the table index ``i`` (0..511) is split into halves: ``E = T_lo[min(i,
255)] (1 - s) + T_hi[max(i - 256, 0)] s`` with ``s = i >> 8``, where each entry packs
``t[j] 2^16 + (t[j+1] - t[j])`` (``lower_rnn.tables``); ``t = (E + 2^15) >> 16`` (one SHR:
the ALU's rounding shift is ``(x + 2^(s-1)) >> s``), ``dt = E - t 2^16``, and ``y = t +
((dt f + 64) >> 7)`` (one MULSHR, the same rounding shift of the 64-bit product), as the
reference's floor shifts.  The gates' ``u`` comes with their biases: each gate's bias row
holds ``b + 2^15`` (``lower_rnn``), so the gate sums saturate to ``[0, 2^16)`` and skip the
add.
"""

from __future__ import annotations

from .isa import make

I16 = (-(1 << 15), (1 << 15) - 1)
U16 = (0, (1 << 16) - 1)     # a gate sum saturated to int16, plus the 2^15 of its bias row


class Alu:
    """Appends ALU/LUT instructions to the current EX group (``on``); ``lay``: the
    accumulator rows (``lower_rnn.Layout``), ``tpr``: LUT rows per table."""

    def __init__(self, lay, tpr: int):
        self.lay, self.tpr, self.g = lay, tpr, None

    def on(self, g):
        self.g = g
        return self

    def op(self, op: str, dst: int, n: int, src=None, imm=0, shift=0, div=0, note=""):
        if src is None:
            self.g.add(make("ALU", alu_op=op, use_imm=1, dst=dst, rows=n, dst_inc=1, imm=int(imm),
                            shift=shift, note=note))
        else:
            self.g.add(make("ALU", alu_op=op, dst=dst, src=src, rows=n, dst_inc=1, src_inc=1,
                            shift=shift, src_div=div, note=note))

    def mov(self, dst: int, n: int, src=None, imm=0):
        self.op("MOV", dst, n, src=src, imm=imm)

    def clamp(self, dst: int, n: int, lo: int, hi: int):
        self.op("MAX", dst, n, imm=lo)
        self.op("MIN", dst, n, imm=hi)

    # -- the interpolated tables -----------------------------------------------------------
    def lut16(self, x: int, parts, biased: bool = False):
        """Rows ``x ..`` in place; ``parts``: [(rows, function)] consecutive row ranges, function
        0 = sigmoid, 1 = tanh (LUT rows ``2*function*tpr`` low half, ``+tpr`` high half);
        ``biased``: the rows already hold ``u = g + 2^15`` (the gates: in their biases)."""
        lay = self.lay
        n = sum(k for k, _ in parts)
        i, f, s, e = lay.t0, lay.t1, lay.t2, lay.t3
        if not biased:
            self.op("ADD", x, n, imm=1 << 15, note="u = g + 2^15")
        self.mov(i, n, src=x)
        self.op("ASR", i, n, imm=7, note="i = u >> 7")
        self.mov(f, n, src=i)
        self.op("MUL", f, n, imm=-128)
        self.op("ADD", f, n, src=x, note="f = u & 127")
        self.mov(s, n, src=i)
        self.op("ASR", s, n, imm=8, note="half = i >> 8")
        self.mov(e, n, src=i)
        self.op("MIN", e, n, imm=255, note="low-half index")
        self.op("ADD", i, n, imm=-256)
        self.op("MAX", i, n, imm=0, note="high-half index")
        at = 0
        for rows, fn in parts:
            lo = 2 * fn * self.tpr
            self.g.add(make("LUT", dst=e + at, src=e + at, rows=rows, table=lo, offset=0,
                            note=("sigmoid", "tanh")[fn] + " low half"))
            self.g.add(make("LUT", dst=i + at, src=i + at, rows=rows, table=lo + self.tpr,
                            offset=0, note=("sigmoid", "tanh")[fn] + " high half"))
            at += rows
        self.op("MUL", i, n, src=s)
        self.op("MUL", s, n, imm=-1)
        self.op("ADD", s, n, imm=1)
        self.op("MUL", e, n, src=s)
        self.op("ADD", e, n, src=i, note="E: the entry of i")
        self.mov(x, n, src=e)
        self.op("SHR", x, n, imm=16, note="t[i] = (E + 2^15) >> 16")
        self.mov(i, n, src=x)
        self.op("MUL", i, n, imm=-(1 << 16))
        self.op("ADD", e, n, src=i, note="t[i+1] - t[i]")
        self.op("MULSHR", e, n, src=f, shift=7, note="((t[i+1] - t[i]) f + 64) >> 7")
        self.op("ADD", x, n, src=e, note="interpolated")

    # -- the cells ---------------------------------------------------------------------------
    def x_side(self, call, bsz: int):
        """What a step computes before the h path's terms are back: the biases added to the
        step's x terms (one bias row per lane block, ``src_div = batch``; GRU: ``bx + bh`` to
        z and r, ``bx`` to the h gate's), and the GRU's ``h - h_zp`` (``h`` in the out rows,
        which are its state) into the t4 rows."""
        lay = self.lay
        if call.family == "lstm":
            self.op("ADD", lay.gx, lay.ng, src=lay.bias, div=bsz)
            return
        n1 = lay.n1
        bx, bh = lay.bias, lay.bias + lay.ng // bsz
        self.op("ADD", lay.gx, 2 * n1, src=bx, div=bsz)
        self.op("ADD", lay.gx, 2 * n1, src=bh, div=bsz)
        self.op("ADD", lay.gx + 2 * n1, n1, src=bx + 2 * (n1 // bsz), div=bsz)
        self.mov(lay.t4, n1, src=lay.out)              # h (the GRU's state)
        self.op("ADD", lay.t4, n1, imm=-call.h_zp)

    def lstm_cell(self, call, bsz: int):
        lay = self.lay
        n1, ng = lay.n1, lay.ng
        self.op("ADD", lay.gx, ng, src=lay.gh)      # x terms + bias (x_side) + h terms
        self.clamp(lay.gx, ng, *U16)
        self.lut16(lay.gx, [(3 * n1, 0), (n1, 1)], biased=True)   # i, o, f sigmoid; c~ tanh
        gi, go, gf, gc = (lay.gx + k * n1 for k in range(4))
        cf = call.cell_frac
        self.op("MULSHR", lay.state, n1, src=gf, shift=15, note="f c >> 15")
        self.op("MULSHR", gi, n1, src=gc, shift=30 - cf, note="i c~ >> (30 - cell_frac)")
        self.op("ADD", lay.state, n1, src=gi)
        self.clamp(lay.state, n1, *I16)
        o = lay.out
        self.mov(o, n1, src=lay.state)
        if cf > 12:
            self.op("SHR", o, n1, imm=cf - 12, note="cell to Q3.12")
        elif cf < 12:
            self.op("SHL", o, n1, imm=12 - cf, note="cell to Q3.12")
            self.clamp(o, n1, *I16)
        self.lut16(o, [(n1, 1)])
        self.op("MUL", o, n1, src=go, note="o tanh(c)")
        self._to_h(call, o, n1)

    def _to_h(self, call, o: int, n1: int):
        self.op("MULSHR", o, n1, imm=call.mo, shift=call.so, note="requant to h")
        self.op("ADD", o, n1, imm=call.h_zp)
        self.clamp(o, n1, -128, 127)

    def gru_zr(self, call, bsz: int):
        """z and r (sigmoid) in the gx rows of those gates."""
        lay = self.lay
        z = lay.gx
        self.op("ADD", z, 2 * lay.n1, src=lay.gh)    # x terms + biases (x_side) + h terms
        self.clamp(z, 2 * lay.n1, *U16)
        self.lut16(z, [(2 * lay.n1, 0)], biased=True)

    def gru_hterm(self, call, bsz: int):
        """With linear_before_reset = 1 the h-gate term ``r sat16(gh_h + bh_h) >> 15`` in its gh
        rows, else ``r (h - h_zp) >> 15`` on h's int8 grid (plus h_zp: the int8 vector of the
        second h-path GEMM) in the out rows."""
        lay = self.lay
        n1 = lay.n1
        r = lay.gx + n1
        bh = lay.bias + lay.ng // bsz
        if call.linear_before_reset:
            hh = lay.gh + 2 * n1
            self.op("ADD", hh, n1, src=bh + 2 * (n1 // bsz), div=bsz)
            self.clamp(hh, n1, *I16)
            self.op("MULSHR", hh, n1, src=r, shift=15, note="r (gh + bh) >> 15")
            return
        o, hz = lay.out, call.h_zp
        self.mov(o, n1, src=lay.t4)                  # h - h_zp (x_side)
        self.op("MULSHR", o, n1, src=r, shift=15, note="r (h - h_zp) >> 15")
        self.clamp(o, n1, -128 - hz, 127 - hz)
        self.op("ADD", o, n1, imm=hz, note="on h's int8 grid")

    def gru_blend(self, call):
        """The update's factors that need only z: ``2^15 - z`` in the out rows and ``z (h -
        h_zp) >> 15`` in the t4 rows."""
        lay = self.lay
        n1, o, z = lay.n1, lay.out, lay.gx
        self.mov(o, n1, src=z)
        self.op("MUL", o, n1, imm=-1)
        self.op("ADD", o, n1, imm=1 << 15, note="2^15 - z")
        self.op("MULSHR", lay.t4, n1, src=z, shift=15, note="z (h - h_zp) >> 15")

    def gru_update(self, call, bsz: int):
        """h~ = tanh(sat16(gx_h + bx_h + h-gate term)), then the state update into the out
        rows (linear_before_reset = 0: the term is the second GEMM's, plus bh_h)."""
        lay = self.lay
        n1 = lay.n1
        hx, hh = lay.gx + 2 * n1, lay.gh + 2 * n1
        bh = lay.bias + lay.ng // bsz
        if not call.linear_before_reset:
            self.op("ADD", hh, n1, src=bh + 2 * (n1 // bsz), div=bsz)
        self.op("ADD", hx, n1, src=hh)               # x term + bx_h (x_side) + h-gate term
        self.clamp(hx, n1, *U16)
        self.lut16(hx, [(n1, 1)], biased=True)
        self.gru_blend(call)
        o = lay.out
        self.op("MUL", o, n1, src=hx, note="(2^15 - z) h~")
        self.op("MULSHR", o, n1, imm=call.mo, shift=call.so)
        self.op("ADD", o, n1, src=lay.t4)
        self.op("ADD", o, n1, imm=call.h_zp)
        self.clamp(o, n1, -128, 127)                 # h, also the GRU's state
