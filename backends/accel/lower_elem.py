"""Rendering of the vector families of the kernel program: binary (add/sub/mul/max/min),
requant, lut, global_avgpool (`lower_mean`, a mixin), concat parts.

They run on the EX engine's ALU over accumulator rows: load the operands into an
accumulator slot (sign-extending), centre them with ALU ADD, combine (DYADD / MUL / MAX /
MIN / LUT / ADD-reduction), and STORE with the requantization epilogue
(docs/target_accel.md §7).  Rows are processed in chunks that fit half of the accumulator
buffer; the halves alternate, so EX and ST overlap.  Every tensor is a ``rows x lanes``
matrix in DRAM (:class:`Mat`); a constant operand is a matrix of the constant image.  Which
calls run here and how their operands map onto matrices: ``elem_operands``.
"""

from __future__ import annotations

import numpy as np

from .elem_operands import Mat, channel_broadcast, concat_mats, mat
from .isa import make
from .lower_mean import MeanSide

IDENTITY = (1 << 30, 30)   # m, s with rshift_round(v * m, s) == v
MAX_ROWS = 1023


class ElemLowering(MeanSide):
    """``ctx``: the program lowering (hw, plan, b: the stream builder, region(), res(),
    const_mat())."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.hw = ctx.hw
        self.d = ctx.hw.dim
        self.acc_half = ctx.hw.acc_rows // 2
        self.pslot = 0
        self.aslot = 0
        self.lslot = 0
        self.onchip = None     # (output name, OnChip): the next conv's resident input (v5)
        self.onchip_in = None  # OnChip: a global mean's input, in the input buffer

    trial_b = None   # a Builder that a trial emission (lower_mean) writes instead of ctx.b

    @property
    def b(self):
        return self.trial_b if self.trial_b is not None else self.ctx.b

    def _acc(self):
        k = self.aslot % 2
        self.aslot += 1
        return k * self.acc_half, ("ACC", k)

    def _load(self, g, m: Mat, r0: int, rows: int, lb: int, sram: int):
        cols = min(self.d, m.lanes - lb * self.d)
        g.add(make("LOAD", buf="ACC", dtype=m.dtype, sram=sram,
                   dram=m.addr + r0 * m.pitch + lb * self.d * m.esize, rows=rows, cols=cols,
                   stride=m.pitch, note=f"{m.name} rows {r0}+{rows} lb={lb}"))

    def _store(self, g, m: Mat, r0: int, rows: int, lane0: int, cols: int, sram: int,
               mode="tensor", param=0):
        spec = self.onchip[1] if self.onchip is not None and self.onchip[0] == m.name else None
        if spec is None or spec.keep_dram:
            g.add(make("STORE", dtype=m.dtype, mode=mode, sram=sram,
                       dram=m.addr + r0 * m.pitch + lane0 * m.esize, rows=rows, cols=cols,
                       stride=m.pitch, param=param, note=f"{m.name} rows {r0}+{rows}"))
        if spec is not None:  # rows = positions, lane block lane0/DIM: into the region (v5)
            for a, q0, cnt, st in spec.runs(lane0 // self.d, r0, rows, 1):
                g.add(make("STORE", dtype="i8", mode=mode, sram=sram + q0, dram=a, rows=cnt,
                           cols=cols, stride=st, param=param, inp=1,
                           note=f"{m.name} rows {r0 + q0}+{cnt} -> INP"))

    def _st_group(self, reads, writes):
        """The ST group of output STOREs (writing the resident region too, if any)."""
        extra = [self.onchip[1].data_res] if self.onchip is not None else []
        return self.b.group("st", reads=reads, writes=list(writes) + extra)

    def _chunks(self, rows: int, per_row_slots: int):
        rc = max(1, min(MAX_ROWS, self.acc_half // per_row_slots))
        for r0 in range(0, rows, rc):
            yield r0, min(rc, rows - r0)

    def _config_st(self, zp, lo, hi, m, s, bias=0, note=""):
        g = self.b.group("st")
        g.add(make("CONFIG", reg="CLAMP", a=int(zp), b=int(lo), d=int(hi), note=note))
        g.add(make("CONFIG", reg="SCALE", a=int(m), b=int(bias), c=int(s), note=note))

    def _operand(self, v, out, batch: int = 0) -> Mat:
        """The matrix of operand ``v`` as the output's rows (a broadcast operand: DRAM stride
        0 from the row of batch ``batch``)."""
        if v.is_const:
            return self.ctx.const_mat(v, out)
        m = mat(self.ctx.region(v))
        if tuple(v.shape) != tuple(out.shape):  # one row broadcast: DRAM stride 0
            ry = self.ctx.region(out)
            addr = m.addr + batch * m.pitch if channel_broadcast(self.ctx, v, out) else m.addr
            return Mat(m.name, addr, ry.rows, ry.lanes, m.dtype, 0)
        return m

    def _segments(self, a, b, y):
        """(first row, rows, a matrix, b matrix) of the row ranges one operand pair covers:
        the whole output, or one batch each where an operand is per (batch, channel)."""
        my = mat(self.ctx.region(y))
        if not any(not v.is_const and channel_broadcast(self.ctx, v, y) for v in (a, b)):
            return [(0, my.rows, self._operand(a, y), self._operand(b, y))]
        per = my.rows // int(y.shape[0])
        return [(n * per, per, self._operand(a, y, n), self._operand(b, y, n))
                for n in range(int(y.shape[0]))]

    def _outputs(self, y, xs):
        """The DRAM resource each chunk's STORE writes.  In place (``y`` over one of ``xs``)
        the chunks write disjoint rows of the bytes the later chunks still read, so each
        chunk gets its own resource: a barrier (a no-op STORE writing ``y``, after every
        earlier access of those bytes) opens the call and a join closes it (what later
        calls wait for); otherwise the whole output."""
        ry = self.ctx.region(y)
        key = self.ctx.res(y)
        if not any(not v.is_const and self.ctx.region(v).addr == ry.addr for v in xs):
            return (lambda k: key), (lambda: None)
        self.uid = getattr(self, "uid", 0) + 1
        uid, used = self.uid, []
        self.b.group("st", writes=[key])

        def chunk(k):
            used.append(key + ("chunk", uid, k))
            return used[-1]

        def join():
            self.b.group("st", reads=list(used), writes=[key])
        return chunk, join

    # -- families ---------------------------------------------------------------------------
    def binary(self, call) -> None:
        a, b, y = call.a, call.b, call.y
        my = mat(self.ctx.region(y))
        epi = call.epi
        za, zb = int(call.a_zp), int(call.b_zp)
        name = call.node.name
        if call.op in ("max", "min"):
            self._config_st(0, epi.lo, epi.hi, *IDENTITY, note=f"{call.op} {name}")
            op = call.op.upper()
        elif call.op == "mul":
            self._config_st(epi.zero_point, epi.lo, epi.hi, epi.mult.values[0],
                            epi.shift.values[0], note=f"requant {name}")
            op = "MUL"
        else:
            mult, s = epi.mult.values, epi.shift.values[0]
            self._config_st(epi.zero_point, epi.lo, epi.hi, *IDENTITY, note=f"clamp {name}")
            m1 = -int(mult[1]) if call.op == "sub" else int(mult[1])
            g = self.b.group("ex")
            g.add(make("CONFIG", reg="ALU_SCALE", a=int(mult[0]), b=m1, c=int(s), note=name))
            op = "DYADD"
        reads = [self.ctx.res(v) for v in (a, b) if not v.is_const]
        out, join = self._outputs(y, (a, b))
        k = 0
        for lb, (s0, rows, ma, mb) in ((lb, sg) for lb in range(-(-my.lanes // self.d))
                                        for sg in self._segments(a, b, y)):
            cols = min(self.d, my.lanes - lb * self.d)
            for r0, n in ((s0 + q, n) for q, n in self._chunks(rows, 2)):
                base, slot = self._acc()
                g = self.b.group("ex", reads=reads, writes=[slot])
                self._load(g, ma, r0, n, lb, base)
                self._load(g, mb, r0, n, lb, base + n)
                for off, z in ((0, za), (n, zb)):
                    if z:
                        g.add(make("ALU", alu_op="ADD", use_imm=1, dst=base + off, rows=n,
                                   dst_inc=1, imm=-z, note="centre"))
                g.add(make("ALU", alu_op=op, dst=base, src=base + n, rows=n, dst_inc=1,
                           src_inc=1, note=f"{call.node.op} {call.op}"))
                st = self._st_group([slot], [out(k)])
                k += 1
                self._store(st, my, r0, n, lb * self.d, cols, base)
        join()

    def requant(self, call) -> None:
        x, y = call.x, call.y
        mx, my = mat(self.ctx.region(x)), mat(self.ctx.region(y))
        epi = call.epi
        zx = int(call.x_zp)
        m, s = np.asarray(epi.mult.data, np.int64), np.asarray(epi.shift.data, np.int64)
        lanes = my.lanes
        per_ch = bool(epi.per_channel)
        preg = None
        if per_ch:
            nlb = -(-lanes // self.d)
            p = np.zeros((nlb, 3, self.d), np.int64)
            p[:, 2, :] = 1
            pad = nlb * self.d - lanes
            p[:, 1, :] = np.pad(m, (0, pad)).reshape(nlb, self.d)
            p[:, 2, :] = np.pad(s, (0, pad), constant_values=1).reshape(nlb, self.d)
            preg = self.ctx.plan.add_const(call.node.name + ".params", p.astype(np.int32), "i32")
        self._config_st(epi.zero_point, epi.lo, epi.hi, m[0], s[0],
                        note=f"requant {call.node.name}")
        out, join = self._outputs(y, (x,))
        ci = 0
        for lb in range(-(-lanes // self.d)):
            cols = min(self.d, lanes - lb * self.d)
            pbase, pres = 0, None
            if per_ch:
                k = self.pslot % 2
                self.pslot += 1
                pbase, pres = k * (self.hw.param_rows // 2), ("PARAM", k)
                gp = self.b.group("ex", writes=[pres])
                gp.add(make("LOAD", buf="PARAM", dtype="i32", sram=pbase,
                            dram=preg.addr + lb * 3 * self.d * 4, rows=3, cols=self.d,
                            stride=self.d * 4, note=f"params lb={lb}"))
            for r0, n in self._chunks(my.rows, 1):
                base, slot = self._acc()
                g = self.b.group("ex", reads=[self.ctx.res(x)], writes=[slot])
                self._load(g, mx, r0, n, lb, base)
                if zx:
                    g.add(make("ALU", alu_op="ADD", use_imm=1, dst=base, rows=n, dst_inc=1,
                               imm=-zx, note="centre"))
                st = self._st_group([slot] + ([pres] if pres else []), [out(ci)])
                ci += 1
                self._store(st, my, r0, n, lb * self.d, cols, base,
                            mode="channel" if per_ch else "tensor", param=pbase)
        join()

    def load_table(self, name: str, values) -> tuple[int, tuple]:
        """LOAD a 256-entry int32 table into the next LUT slot: (row base, resource)."""
        tpr = self.hw.lut_rows_per_table
        table = np.zeros(tpr * self.d, np.int64)
        vals = np.asarray(values, np.int64)
        table[:len(vals)] = vals
        treg = self.ctx.plan.add_const(name + ".table", table.astype(np.int32), "i32")
        k = self.lslot % 2
        self.lslot += 1
        tbase = k * tpr
        g = self.b.group("ex", writes=[("LUT", k)])
        g.add(make("LOAD", buf="LUT", dtype="i32", sram=tbase, dram=treg.addr, rows=tpr,
                   cols=self.d, stride=self.d * 4, note=f"table {name}"))
        return tbase, ("LUT", k)

    def lut(self, call) -> None:
        x, y = call.x, call.y
        mx, my = mat(self.ctx.region(x)), mat(self.ctx.region(y))
        tbase, tres = self.load_table(call.node.name, call.table.values)
        self._config_st(0, y.dtype.min, y.dtype.max, *IDENTITY, note=f"lut {call.node.name}")
        out, join = self._outputs(y, (x,))
        ci = 0
        for lb in range(-(-my.lanes // self.d)):
            cols = min(self.d, my.lanes - lb * self.d)
            for r0, n in self._chunks(my.rows, 1):
                base, slot = self._acc()
                g = self.b.group("ex", reads=[self.ctx.res(x), tres], writes=[slot])
                self._load(g, mx, r0, n, lb, base)
                g.add(make("LUT", dst=base, src=base, rows=n, table=tbase, offset=-x.dtype.min))
                st = self._st_group([slot], [out(ci)])
                ci += 1
                self._store(st, my, r0, n, lb * self.d, cols, base)
        join()

    def concat(self, call) -> None:
        mx, my, lane0 = concat_mats(self.ctx, call, place=True)
        reads = [] if call.x.is_const else [self.ctx.res(call.x)]
        epi = call.epi
        self._config_st(epi.zero_point, epi.lo, epi.hi, epi.mult.values[0], epi.shift.values[0],
                        note=f"concat {call.node.name} input '{call.x.name}'")
        for lb in range(-(-mx.lanes // self.d)):
            cols = min(self.d, mx.lanes - lb * self.d)
            for r0, n in self._chunks(mx.rows, 1):
                base, slot = self._acc()
                g = self.b.group("ex", reads=reads, writes=[slot])
                self._load(g, mx, r0, n, lb, base)
                if call.x_zp:
                    g.add(make("ALU", alu_op="ADD", use_imm=1, dst=base, rows=n, dst_inc=1,
                               imm=-int(call.x_zp), note="centre"))
                st = self.b.group("st", reads=[slot], writes=[self.ctx.res(call.y)])
                self._store(st, my, r0, n, lane0 + lb * self.d, cols, base)

    RULES = {"binary": "binary", "requant": "requant", "lut": "lut",
             "global_avgpool": "global_avgpool", "reduce": "global_avgpool",
             "concat": "concat"}

    def lower(self, call, onchip=None, onchip_in=None) -> None:
        """Lower ``call``; ``onchip``: the next conv/linear's resident input region
        (resident.elem_out) that its output STOREs fill, besides or instead of DRAM;
        ``onchip_in``: the flat region that the conv before a global mean filled with the
        mean's input (resident.mean_in)."""
        self.onchip = None if onchip is None else (self.ctx.region(call.out).name, onchip)
        self.onchip_in = onchip_in
        if onchip is not None:
            from .resident import emit_pads
            emit_pads(self.ctx, onchip)
        try:
            getattr(self, self.RULES[call.family])(call)
        finally:
            self.onchip = self.onchip_in = None

