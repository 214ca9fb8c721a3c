"""Rendering of the integer recurrent families ``lstm`` and ``gru`` (both GRU forms;
docs/integer_ops.md "Recurrent", docs/target_accel.md §7) as GEMM + STORE-epilogue +
ALU/LUT sequences per time step, bit-exact with ``qcc.ops.integer_rnn``.

Per direction, the weight blocks of ``W`` (x path) and ``R`` (h path) stay in the weight
buffer, the per-row requantization parameters in the parameter buffer, the four LUT
tables (sigmoid and tanh, each as two 256-entry halves) in the LUT buffer, and the
biases, the LSTM cell state and the GRU hidden state (its out rows) in accumulator rows.
Every gate occupies whole lane blocks (``hidden`` is a multiple of DIM), so the accumulator
rows of gate ``g``, lane block ``k`` and batch row ``b`` are ``(g*KB + k)*B + b``, and the
gates' elementwise steps are row-aligned ALU instructions.

The time steps run in chunks of ``tc`` (``chunk_steps``: as many as the accumulator rows
allow).  Per chunk, the x path of all its steps is one GEMM per gate lane block over
``tc * B`` input rows, stored with the per-row epilogue (bias ``-x_zp*sum(W_row)``, ``mx``,
``sx``, int32 clamp: exactly ``sat32(rq(W (x - x_zp)))``) into the call's scratch and loaded
back into the chunk's accumulator rows, one step's gate layout after the other
(``lower_rnn_paths``; the direction's first chunk loads the weight blocks in pieces behind
its input rows).  Then one time step:

1. EX runs one GEMM per gate lane block of the h path on ``h``'s input-buffer rows; ST stores
   each block with the per-row epilogue (``sat32(rq(R (h - h_zp)))``) into the scratch while
   the array computes the next; meanwhile EX adds the biases to the step's x terms (the
   "x side"), then loads the h terms back;
2. the ALU adds them, saturates, and runs the interpolated tables (``lut16``), the cell/state
   update and the output requantization (MULSHR ``mo``, ``so``) exactly as the reference does;
3. ST stores ``h`` into its input-buffer rows (v5; else into ``yh``, which LD loads back) and
   into ``y[t]``; after the last step into ``yh`` (LSTM: the cell into ``yc``).

The reference sums some terms in int64 where the ALU saturates each add to int32; the
renderer proves from the constants that no partial sum leaves int32 (``_bounds``), else the
call stays on the host with that reason.
"""

from __future__ import annotations

import copy

import numpy as np

from qcc.ops.integer_rnn import LUT_SIZE

from .isa import make
from .lower_elem import IDENTITY
from .lower_rnn_alu import Alu
from .lower_rnn_paths import MAX_ROWS, RnnPaths, _gates, _isize, acc_rows

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def rnn_macs(call) -> int:
    """Multiply-accumulates of the call: both paths' GEMMs, every step and direction."""
    per_step = _gates(call) * call.hidden * (_isize(call) + call.hidden)
    return call.dirs * call.seq * call.batch * per_step


def _wr(call):
    """The gate rows ``W [dirs, G*H, inputs]`` and ``R [dirs, G*H, H]`` as int64."""
    gh = _gates(call) * call.hidden
    return (np.asarray(call.w.data, np.int64).reshape(call.dirs, gh, _isize(call)),
            np.asarray(call.r.data, np.int64).reshape(call.dirs, gh, call.hidden))


def _rq_bound(wrows: np.ndarray, lo: int, hi: int, zp: int, m: np.ndarray, s: np.ndarray):
    """Per gate row: the largest |sat32(rq(w . (v - zp), m, s))| over every v in [lo, hi]."""
    c = max(abs(lo - zp), abs(hi - zp))
    acc = [int(a) * c for a in np.abs(wrows).sum(axis=1)]
    out = [min(INT32_MAX + 1, (int(a) * abs(int(mm)) >> int(ss)) + 1)
           for a, mm, ss in zip(acc, m, s)]
    return np.array(out, dtype=object)


def _bounds(call) -> str | None:
    """Why a partial sum the ALU saturates at int32 could differ from the reference's
    int64 sum (None: every one provably fits int32)."""
    g, h, nd = _gates(call), call.hidden, call.dirs
    w, r = _wr(call)
    mx, sx, mh, sh = (np.asarray(c.data, np.int64).reshape(nd, g * h)
                      for c in (call.mx, call.sx, call.mh, call.sh))
    xlo, xhi = (-128, 127)
    for d in range(nd):
        bx = _rq_bound(w[d], xlo, xhi, call.x_zp, mx[d], sx[d])
        bh = _rq_bound(r[d], -128, 127, call.h_zp, mh[d], sh[d])
        if call.family == "lstm":
            b = np.abs(np.asarray(call.bias.data, np.int64).reshape(nd, -1)[d]).astype(object)
            worst = max(bx + bh + b)
        else:
            bxx = np.abs(np.asarray(call.bx.data, np.int64).reshape(nd, -1)[d]).astype(object)
            bhh = np.abs(np.asarray(call.bh.data, np.int64).reshape(nd, -1)[d]).astype(object)
            hterm = (1 << 15) if call.linear_before_reset else max(bh[2 * h:] + bhh[2 * h:])
            worst = max(max((bx + bh + bxx + bhh)[:2 * h]), max(bx[2 * h:] + bxx[2 * h:]) + hterm,
                        max(bh[2 * h:] + bhh[2 * h:]))
        if worst + (1 << 15) > INT32_MAX:   # the gates' bias rows hold b + 2^15 (lut16's u)
            return ("a sum of gate terms could leave int32 before the int16 saturation (the "
                    "ALU saturates each add; the reference sums in int64)")
    # the output terms (LSTM o tanh(c) mo >> so; GRU (2^15 - z) h~ mo >> so + z (h - h_zp)
    # >> 15) may saturate at int32, but then the int8 clamp that follows gives the same h:
    # the terms added after it are below 2^9
    return None


def check_rnn(ctx, call) -> str | None:
    """Why this LSTM/GRU call cannot run on the accelerator (None when it can)."""
    hw, d = ctx.hw, ctx.hw.dim
    g, h, b, nd = _gates(call), call.hidden, call.batch, call.dirs
    if call.x.dtype.name != "int8":
        return f"input '{call.x.name}' is {call.x.dtype.name} (the array multiplies int8)"
    if h % d:
        return f"hidden size {h} is not a multiple of the array's {d} lanes"
    if hw.lut_tables < 4:
        return f"{hw.lut_tables} LUT tables (the sigmoid and tanh halves need 4)"
    kb, ki = h // d, -(-_isize(call) // d)
    if g * kb * (ki + kb) > hw.wgt_blocks:
        return f"{g * kb * (ki + kb)} weight blocks per direction exceed the {hw.wgt_blocks}-block buffer"
    if 3 * g * kb > hw.param_rows:
        return f"{3 * g * kb} parameter rows of one path exceed the {hw.param_rows}-row buffer"
    if Layout(call, d).rows > hw.acc_rows or ki * b + kb * b > hw.inp_rows or b > MAX_ROWS:
        return "the step's accumulator or input rows exceed the buffers"
    if not 0 <= call.so <= 62:
        return f"output shift {call.so} outside the ALU's 0..62"
    if call.scratch < 4 * g * h * b * call.seq * nd:
        return "scratch too small for the x-path gate terms of every step"
    for v in (call.x, call.y, call.yh, getattr(call, "yc", None), call.h0, getattr(call, "c0", None)):
        if v is not None and not v.is_const and (not ctx.region(v).compat
                                                 or ctx.region(v).layout == "cl"):
            return f"'{v.name}' is not a row-major tensor"
    return _bounds(call)


class Layout:
    """Accumulator rows of one direction's step (all regions row-aligned by gate); ``xt``:
    the x-path gate terms of a chunk of ``tc`` steps (``ng`` rows per step), each step's
    rows also its working gate rows (``step``)."""

    def __init__(self, call, d: int, tc: int = 1):
        g, b = _gates(call), call.batch
        self.n1 = (call.hidden // d) * b          # rows of one gate (lane blocks x batch)
        self.ng = g * self.n1                      # rows of all gates
        nb = g * (call.hidden // d)                # bias rows (one per gate lane block)
        names = [("gh", self.ng), ("bias", nb * (1 if g == 4 else 2)),   # GRU: out is the state
                 ("state", self.n1 if g == 4 else 0), ("out", self.n1)] + [(f"t{k}", self.ng) for k in range(5)]
        names.append(("xt", tc * self.ng))
        at = 0
        for name, n in names:
            setattr(self, name, at)
            at += n
        self.rows, self.gx = at, self.xt

    def step(self, j: int) -> "Layout":
        """The layout of the chunk's step ``j``: its gate rows ``gx`` are its x terms."""
        lay = copy.copy(self)
        lay.gx = self.xt + j * self.ng
        return lay


def chunk_steps(call, hw) -> int:
    """Time steps whose x path runs as one GEMM per gate lane block: as many as the
    accumulator rows (beside the step's own), the input buffer and the row fields allow."""
    d, b = hw.dim, call.batch
    fixed = Layout(call, d, 0)
    ki, kb = -(-_isize(call) // d), call.hidden // d
    return max(1, min(call.seq, (hw.acc_rows - fixed.rows) // fixed.ng,
                      (hw.inp_rows - kb * b) // (ki * b), MAX_ROWS, 4095 // b))


def tables(sig: np.ndarray, tanh: np.ndarray) -> np.ndarray:
    """The four 256-entry int32 tables of ``lut16``: per function its low and high half,
    entry ``k`` = ``t[j]*2^16 + (t[j+1] - t[j])`` with ``j = k`` (low) or ``256 + k`` (high)."""
    out = []
    for t in (np.asarray(sig, np.int64), np.asarray(tanh, np.int64)):
        assert len(t) == LUT_SIZE
        for j0 in (0, 256):
            j = np.arange(j0, j0 + 256)
            out.append(t[j] * 65536 + (t[j + 1] - t[j]))
    return np.stack(out).astype(np.int32)


class RnnLowering(RnnPaths):
    FAMILIES = ("lstm", "gru")

    def __init__(self, ctx):
        self.ctx, self.hw, self.d = ctx, ctx.hw, ctx.hw.dim
        self.acc = [("ACC", 0), ("ACC", 1)]
        self.par = [("PARAM", 0), ("PARAM", 1)]
        self.lut = [("LUT", k) for k in range(4)]

    @property
    def b(self):
        return self.ctx.b

    def ex(self, reads=(), writes=()):
        return self.b.group("ex", reads=list(reads) + self.acc, writes=list(writes) + self.acc)

    # -- constants ---------------------------------------------------------------------------
    def _blocks(self, mat: np.ndarray, g: int, kb: int, kin: int) -> np.ndarray:
        """Weight blocks ``[g*kb*kin, D, D]`` of ``mat [g*H, K]``: block ``nb*kin + k`` holds
        ``mat[nb*D + n, k*D + kk]`` at ``[kk][n]`` (zero past K)."""
        d = self.d
        k = mat.shape[1]
        pad = np.zeros((mat.shape[0], kin * d), np.int64)
        pad[:, :k] = mat
        blk = pad.reshape(g * kb, d, kin, d)            # [nb, n, k, kk]
        return blk.transpose(0, 2, 3, 1).reshape(g * kb * kin, d, d).astype(np.int8)

    def _params(self, mat, zp, m, s) -> np.ndarray:
        """PARAM rows ``[nblocks, 3, D]``: bias ``-zp*sum(row)``, multiplier, shift per lane."""
        d = self.d
        bias = -int(zp) * np.asarray(mat, np.int64).sum(axis=1)
        if np.abs(bias).max(initial=0) > INT32_MAX:
            raise ValueError("folded zero-point bias outside int32")
        p = np.stack([bias, np.asarray(m, np.int64), np.asarray(s, np.int64)], axis=0)
        return p.reshape(3, -1, d).transpose(1, 0, 2).astype(np.int32)

    def _setup(self, call, dr: int, lay: Layout, name: str) -> dict:
        """The PARAM rows, tables and biases of direction ``dr`` loaded on chip (EX); returns
        the buffer and DRAM addresses of its constants (the weight blocks load in ``_xchunk``,
        behind the first chunk's input rows)."""
        ctx, d, g = self.ctx, self.d, _gates(call)
        h, kb, ki = call.hidden, call.hidden // self.d, -(-_isize(call) // self.d)
        w, r = (a[dr] for a in _wr(call))
        wx = ctx.plan.add_const(f"{name}.d{dr}.wblocks", self._blocks(w, g, kb, ki), "i8")
        wr = ctx.plan.add_const(f"{name}.d{dr}.rblocks", self._blocks(r, g, kb, kb), "i8")
        sl = slice(dr * g * h, (dr + 1) * g * h)
        px = self._params(w, call.x_zp, np.asarray(call.mx.data).ravel()[sl],
                          np.asarray(call.sx.data).ravel()[sl])
        ph = self._params(r, call.h_zp, np.asarray(call.mh.data).ravel()[sl],
                          np.asarray(call.sh.data).ravel()[sl])
        preg = ctx.plan.add_const(f"{name}.d{dr}.params", np.concatenate([px, ph]), "i32")
        nx = g * kb * ki
        resident = 6 * g * kb <= self.hw.param_rows   # else each path loads its own per step
        if resident:
            ex = self.ex(writes=self.par)
            ex.add(make("LOAD", buf="PARAM", dtype="i32", sram=0, dram=preg.addr, rows=6 * g * kb,
                        cols=d, stride=d * 4, note="x-path and h-path requant rows"))
        tpr = self.hw.lut_rows_per_table
        treg = ctx.plan.add_const(f"{name}.tables", self._table_rows(call), "i32")
        biases = [call.bias] if g == 4 else [call.bx, call.bh]
        brows = np.concatenate([np.asarray(c.data, np.int64).reshape(call.dirs, -1)[dr]
                                for c in biases])
        brows[:g * h] += 1 << 15    # lut16's u = g + 2^15 with the bias (_bounds checks it)
        breg = ctx.plan.add_const(f"{name}.d{dr}.bias", brows.reshape(-1, d).astype(np.int32), "i32")
        ex = self.ex(writes=self.lut)
        ex.add(make("LOAD", buf="LUT", dtype="i32", sram=0, dram=treg.addr, rows=4 * tpr,
                    cols=d, stride=d * 4, note="sigmoid/tanh halves"))
        ex.add(make("LOAD", buf="ACC", dtype="i32", sram=lay.bias, dram=breg.addr,
                    rows=len(brows) // d, cols=d, stride=d * 4, note="biases"))
        c = {"nx": nx, "wreg": wx.addr, "rreg": wr.addr}   # the blocks load in _xchunk
        if resident:
            return dict(c, px=0, ph=3 * g * kb, preg=None)
        return dict(c, px=0, ph=0, preg=preg.addr, prow=3 * g * kb)

    def _table_rows(self, call) -> np.ndarray:
        tpr = self.hw.lut_rows_per_table
        t = tables(call.sigmoid.data, call.tanh.data)
        out = np.zeros((4, tpr * self.d), np.int32)
        out[:, :256] = t
        return out.reshape(4 * tpr, self.d)

    def _addr(self, v) -> int:
        """DRAM address of an initial state: its arena region, or a constant of the image."""
        if not v.is_const:
            return self.ctx.region(v).addr
        data = np.asarray(self.ctx.kp.const_of(v).data).astype(v.dtype.np)
        return self.ctx.plan.add_const(f"{v.name}.state", data, "i8").addr

    # -- state in and out ----------------------------------------------------------------------
    def clamp(self, g, dtype: str) -> None:
        """CONFIG CLAMP to ``dtype``'s range before this ST group's stores (when it changes)."""
        if self._clamped != dtype:
            lo, hi = {"i8": (-128, 127), "i16": (-(1 << 15), (1 << 15) - 1),
                      "i32": (INT32_MIN, INT32_MAX)}[dtype]
            g.add(make("CONFIG", reg="CLAMP", a=0, b=lo, d=hi, note=f"clamp {dtype}"))
            self._clamped = dtype

    def _rows_io(self, g, v, dtype: str, base: int, row0: int, sram: int, load: bool, note: str):
        """LOAD/STORE the ``B x H`` matrix at row ``row0`` of ``v`` ([.., H]) from/to the
        accumulator rows ``sram + k*B + b`` (lane block ``k``)."""
        d, es = self.d, {"i8": 1, "i16": 2, "i32": 4}[dtype]
        h, bsz = v.shape[-1], self._bsz
        for k in range(h // d):
            addr = base + (row0 * h + k * d) * es
            if load:
                g.add(make("LOAD", buf="ACC", dtype=dtype, sram=sram + k * bsz, dram=addr, rows=bsz,
                           cols=d, stride=h * es, note=f"{note} k={k}"))
            else:
                self.clamp(g, dtype)
                g.add(make("STORE", dtype=dtype, mode="tensor", sram=sram + k * bsz, dram=addr,
                           rows=bsz, cols=d, stride=h * es, note=f"{note} k={k}"))

    def alu(self, lay, reads=()):
        """An EX group of ALU work; it names the out and state rows, which STOREs read."""
        state = [acc_rows(lay.state, lay.n1)] if self._call.family == "lstm" else []
        return self.ex(reads=reads, writes=[acc_rows(lay.out, lay.n1)] + state)

    def _store_rows(self, v, dr: int, t, lay, note: str) -> None:
        """ST: the out rows (``h``) into ``y[t]`` (``t`` given) or ``yh``; LSTM's state rows
        into ``yc``."""
        ctx, bsz = self.ctx, self._bsz
        sram, dtype = (lay.state, "i16") if v is getattr(self._call, "yc", None) else (lay.out, "i8")
        row0 = (t * self._call.dirs + dr) * bsz if t is not None else dr * bsz
        g = self.b.group("st", reads=[acc_rows(sram, lay.n1)], writes=[ctx.res(v)])
        self._rows_io(g, v, dtype, ctx.region(v).addr, row0, sram, False, note)

    def _init_state(self, call, dr: int, lay: Layout, a: Alu):
        """h = h0[dr] (or h_zp) in the out rows (the GRU's state) and into the input buffer
        (or ``yh``); LSTM: the cell rows = c0 (or 0)."""
        res = self.ctx.res
        ex = self.alu(lay, reads=[res(v) for v in (call.h0, getattr(call, "c0", None))
                                  if v is not None and not v.is_const])
        if call.h0 is not None:
            self._rows_io(ex, call.h0, "i8", self._addr(call.h0), dr * call.batch, lay.out,
                          True, "h0")
        else:
            a.on(ex).mov(lay.out, lay.n1, imm=call.h_zp)
        if call.family == "lstm" and call.c0 is not None:
            self._rows_io(ex, call.c0, "i16", self._addr(call.c0), dr * call.batch,
                          lay.state, True, "c0")
        elif call.family == "lstm":
            a.on(ex).mov(lay.state, lay.n1, imm=0)
        if self.hw.onchip_store:
            self._h_to_inp(call, lay.out, "h0")
        else:
            self._store_rows(call.yh, dr, None, lay, "h")

    # -- one call --------------------------------------------------------------------------------
    def lower(self, call, index: int) -> None:
        ctx, d = self.ctx, self.d
        self._bsz, self._call = call.batch, call
        tc = chunk_steps(call, self.hw)
        lay = Layout(call, d, tc)
        self._hrow = -(-_isize(call) // d) * tc * call.batch   # h's input-buffer rows
        scr = ("DRAM", f"scratch.{index}")
        self._scr = (ctx.kp.scratch_offset(index), scr)
        st = self.b.group("st")   # tensor-mode stores: the identity epilogue
        st.add(make("CONFIG", reg="SCALE", a=IDENTITY[0], b=0, c=IDENTITY[1],
                    note=f"rnn {call.node.name}"))
        self._clamped = None
        tpr = self.hw.lut_rows_per_table
        for dr in range(call.dirs):
            c = self._setup(call, dr, lay, call.node.name)
            a = Alu(lay, tpr)

            def first():   # after the direction's first x-path GEMMs
                self._init_state(call, dr, lay, a)
            rev = call.reverse or dr == 1
            for t0 in range(0, call.seq, tc):   # chunks of steps in processing order
                ta = call.seq - min(t0 + tc, call.seq) if rev else t0
                n = min(tc, call.seq - t0)
                self._xchunk(call, dr, ta, n, lay, c, first if t0 == 0 else None)
                for t in (range(ta + n - 1, ta - 1, -1) if rev else range(ta, ta + n)):
                    a.lay = lay.step(t - ta)
                    self._step(call, dr, t, a.lay, c, a)
            if self.hw.onchip_store:
                self._store_rows(call.yh, dr, None, lay, "h")
            if call.family == "lstm":
                self._store_rows(call.yc, dr, None, lay, "c")

    def _step(self, call, dr, t, lay, c, a: Alu):
        bsz = call.batch

        def shadow():   # the x-side sums, while ST stores the h path's terms
            a.on(self.b.group("ex", writes=[acc_rows(lay.gx, lay.ng), acc_rows(lay.t4, lay.n1)]))
            a.x_side(call, bsz)

        self._hpath(call, dr, lay, c, shadow)
        a.on(self.alu(lay, reads=self.lut))
        if call.family == "lstm":
            a.lstm_cell(call, bsz)
        else:
            a.gru_zr(call, bsz)
            a.gru_hterm(call, bsz)
            if not call.linear_before_reset:
                self._reset_path(call, lay, c)
                a.on(self.alu(lay, reads=self.lut))
            a.gru_update(call, bsz)
        if self.hw.onchip_store:
            self._h_to_inp(call, lay.out, "h")
        else:
            self._store_rows(call.yh, dr, None, lay, "h")
        self._store_rows(call.y, dr, t, lay, "y")
