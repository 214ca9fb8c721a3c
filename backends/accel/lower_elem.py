"""Lowering of the vector ops: add/sub/mul, requant, LUT, global average pooling,
concat (by addressing the output's channel slice).

They run on the EX engine's ALU over accumulator rows: load the operands into
an accumulator slot (sign-extending), centre them with ALU ADD, combine
(DYADD / MUL / LUT / ADD-reduction), and STORE with the requantization
epilogue (docs/target_accel.md §7).  Rows are processed in chunks that fit
half of the accumulator buffer; the halves alternate, so EX and ST overlap.
"""

from __future__ import annotations

import numpy as np

from .hw import HwConfig
from .isa import make
from .layout import ISA_DTYPE, DramPlan, Region, rows_lanes
from .stream import Builder

IDENTITY = (1 << 30, 30)   # m, s with rshift_round(v * m, s) == v
MAX_ROWS = 1023


def lanes_axis(rank: int) -> int:
    return 1 if rank == 4 else rank - 1


def check_elem(node) -> str | None:
    """Why ``node`` cannot run on the ALU (None when it can)."""
    op = node.op
    ins = [v for v in node.inputs if v is not None]
    if op in ("qcc.add", "qcc.sub", "qcc.mul"):
        a, b = node.inputs[0], node.inputs[1]
        if a.shape != b.shape:
            return "broadcasting operands"
        if a.is_const or b.is_const:
            return "constant operand"
        return None
    if op == "qcc.requant":
        x = node.inputs[0]
        if node.inputs[1].data.size > 1 and int(node.attrs.get("axis", 1)) % max(x.type.rank, 1) \
                != lanes_axis(x.type.rank):
            return "per-channel requant on a non-channel axis"
        return None
    if op == "qcc.lut":
        if node.inputs[0].dtype.name not in ("int8", "uint8"):
            return "16-bit LUT input (65536-entry table)"
        return None
    if op == "qcc.global_avgpool":
        return None if node.inputs[0].type.rank == 4 else "global_avgpool on a non-4-D tensor"
    if op == "qcc.concat":
        n = len(ins) - 2
        r = node.inputs[0].type.rank
        if int(node.attrs.get("axis", 1)) % r != lanes_axis(r):
            return "concat on a non-channel axis"
        if any(v.is_const for v in node.inputs[:n]):
            return "constant operand"
        return None
    return "no accelerator rule"


class ElemLowering:
    def __init__(self, hw: HwConfig, plan: DramPlan, b: Builder, regions: dict, res):
        self.hw, self.plan, self.b, self.reg, self.res = hw, plan, b, regions, res
        self.d = hw.dim
        self.acc_half = hw.acc_rows // 2
        self.pslot = 0
        self.aslot = 0
        self.lslot = 0

    def _acc(self):
        k = self.aslot % 2
        self.aslot += 1
        return k * self.acc_half, ("ACC", k)

    def _load(self, g, reg: Region, r0: int, rows: int, lb: int, sram: int):
        cols = min(self.d, reg.lanes - lb * self.d)
        g.add(make("LOAD", buf="ACC", dtype=reg.dtype, sram=sram,
                   dram=reg.addr + r0 * reg.pitch + lb * self.d * reg.esize, rows=rows, cols=cols,
                   stride=reg.pitch, note=f"{reg.name} rows {r0}+{rows} lb={lb}"))

    def _store(self, g, reg: Region, r0: int, rows: int, lane0: int, cols: int, sram: int,
               mode="tensor", param=0):
        g.add(make("STORE", dtype=reg.dtype, mode=mode, sram=sram,
                   dram=reg.addr + r0 * reg.pitch + lane0 * reg.esize, rows=rows, cols=cols,
                   stride=reg.pitch, param=param, note=f"{reg.name} rows {r0}+{rows}"))

    def _chunks(self, rows: int, per_row_slots: int):
        rc = max(1, min(MAX_ROWS, self.acc_half // per_row_slots))
        for r0 in range(0, rows, rc):
            yield r0, min(rc, rows - r0)

    def _config_st(self, zp, lo, hi, m, s, bias=0, note=""):
        g = self.b.group("st")
        g.add(make("CONFIG", reg="CLAMP", a=zp, b=lo, d=hi, note=note))
        g.add(make("CONFIG", reg="SCALE", a=int(m), b=int(bias), c=int(s), note=note))

    def _clamp(self, node, y) -> tuple[int, int, int]:
        return (int(node.attrs.get("y_zp", 0)), int(node.attrs.get("act_min", y.dtype.min)),
                int(node.attrs.get("act_max", y.dtype.max)))

    # -- ops -------------------------------------------------------------------------------
    def binary(self, node) -> None:
        a, b, y = node.inputs[0], node.inputs[1], node.outputs[0]
        ra, rb, ry = self.reg[a.name], self.reg[b.name], self.reg[y.name]
        za, zb = int(node.attrs.get("a_zp", 0)), int(node.attrs.get("b_zp", 0))
        zp, lo, hi = self._clamp(node, y)
        mult = node.inputs[2].data.astype(np.int64)
        s = int(node.inputs[3].data[0])
        if node.op == "qcc.mul":
            self._config_st(zp, lo, hi, mult[0], s, note=f"requant {node.name}")
        else:
            self._config_st(zp, lo, hi, *IDENTITY, note=f"clamp {node.name}")
            m1 = -int(mult[1]) if node.op == "qcc.sub" else int(mult[1])
            g = self.b.group("ex")
            g.add(make("CONFIG", reg="ALU_SCALE", a=int(mult[0]), b=m1, c=s, note=node.name))
        rows, lanes = rows_lanes(y.shape)
        for lb in range(-(-lanes // self.d)):
            cols = min(self.d, lanes - lb * self.d)
            for r0, n in self._chunks(rows, 2):
                base, slot = self._acc()
                g = self.b.group("ex", reads=[self.res(a), self.res(b)], writes=[slot])
                self._load(g, ra, r0, n, lb, base)
                self._load(g, rb, r0, n, lb, base + n)
                for off, z in ((0, za), (n, zb)):
                    if z:
                        g.add(make("ALU", alu_op="ADD", use_imm=1, dst=base + off, rows=n, dst_inc=1,
                                   imm=-z, note="centre"))
                op = "MUL" if node.op == "qcc.mul" else "DYADD"
                g.add(make("ALU", alu_op=op, dst=base, src=base + n, rows=n, dst_inc=1, src_inc=1,
                           note=node.op))
                st = self.b.group("st", reads=[slot], writes=[self.res(y)])
                self._store(st, ry, r0, n, lb * self.d, cols, base)

    def requant(self, node) -> None:
        x, y = node.inputs[0], node.outputs[0]
        rx, ry = self.reg[x.name], self.reg[y.name]
        zx = int(node.attrs.get("x_zp", 0))
        zp, lo, hi = self._clamp(node, y)
        m, s = node.inputs[1].data.astype(np.int64), node.inputs[2].data.astype(np.int64)
        rows, lanes = rows_lanes(y.shape)
        per_ch = m.size > 1
        preg = None
        if per_ch:
            nlb = -(-lanes // self.d)
            p = np.zeros((nlb, 3, self.d), np.int64)
            p[:, 2, :] = 1
            pad = nlb * self.d - lanes
            p[:, 1, :] = np.pad(m, (0, pad)).reshape(nlb, self.d)
            p[:, 2, :] = np.pad(s, (0, pad), constant_values=1).reshape(nlb, self.d)
            preg = self.plan.add_const(node.name + ".params", p.astype(np.int32), "i32")
        self._config_st(zp, lo, hi, m[0], s[0], note=f"requant {node.name}")
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
            for r0, n in self._chunks(rows, 1):
                base, slot = self._acc()
                g = self.b.group("ex", reads=[self.res(x)], writes=[slot])
                self._load(g, rx, r0, n, lb, base)
                if zx:
                    g.add(make("ALU", alu_op="ADD", use_imm=1, dst=base, rows=n, dst_inc=1, imm=-zx,
                               note="centre"))
                st = self.b.group("st", reads=[slot] + ([pres] if pres else []),
                                  writes=[self.res(y)])
                self._store(st, ry, r0, n, lb * self.d, cols, base,
                            mode="channel" if per_ch else "tensor", param=pbase)

    def lut(self, node) -> None:
        x, y = node.inputs[0], node.outputs[0]
        rx, ry = self.reg[x.name], self.reg[y.name]
        tpr = self.hw.lut_rows_per_table
        table = np.zeros(tpr * self.d, np.int64)
        table[:256] = node.inputs[1].data.astype(np.int64)
        treg = self.plan.add_const(node.name + ".table", table.astype(np.int32), "i32")
        k = self.lslot % 2
        self.lslot += 1
        tbase = k * tpr
        g = self.b.group("ex", writes=[("LUT", k)])
        g.add(make("LOAD", buf="LUT", dtype="i32", sram=tbase, dram=treg.addr, rows=tpr, cols=self.d,
                   stride=self.d * 4, note=f"table {node.name}"))
        self._config_st(0, y.dtype.min, y.dtype.max, *IDENTITY, note=f"lut {node.name}")
        rows, lanes = rows_lanes(y.shape)
        for lb in range(-(-lanes // self.d)):
            cols = min(self.d, lanes - lb * self.d)
            for r0, n in self._chunks(rows, 1):
                base, slot = self._acc()
                g = self.b.group("ex", reads=[self.res(x), ("LUT", k)], writes=[slot])
                self._load(g, rx, r0, n, lb, base)
                g.add(make("LUT", dst=base, src=base, rows=n, table=tbase, offset=-x.dtype.min))
                st = self.b.group("st", reads=[slot], writes=[self.res(y)])
                self._store(st, ry, r0, n, lb * self.d, cols, base)

    def global_avgpool(self, node) -> None:
        x, y = node.inputs[0], node.outputs[0]
        rx, ry = self.reg[x.name], self.reg[y.name]
        n_, c, h, w = x.shape
        hw_ = h * w
        zx = int(node.attrs.get("x_zp", 0))
        zp, lo, hi = self._clamp(node, y)
        self._config_st(zp, lo, hi, int(node.inputs[1].data[0]), int(node.inputs[2].data[0]),
                        note=f"mean {node.name}")
        for n in range(n_):
            for lb in range(-(-c // self.d)):
                cols = min(self.d, c - lb * self.d)
                base, slot = self._acc()
                g = self.b.group("ex", reads=[self.res(x)], writes=[slot])
                g.add(make("ALU", alu_op="MOV", use_imm=1, dst=base, rows=1, imm=0, note="sum=0"))
                step = min(MAX_ROWS, self.acc_half - 1)
                for q0 in range(0, hw_, step):
                    k = min(step, hw_ - q0)
                    self._load(g, rx, n * hw_ + q0, k, lb, base + 1)
                    g.add(make("ALU", alu_op="ADD", dst=base, src=base + 1, rows=k, src_inc=1,
                               note="sum"))
                if zx:
                    g.add(make("ALU", alu_op="ADD", use_imm=1, dst=base, rows=1, imm=-zx * hw_,
                               note="centre"))
                st = self.b.group("st", reads=[slot], writes=[self.res(y)])
                self._store(st, ry, n, 1, lb * self.d, cols, base)

    def concat(self, node) -> None:
        n_in = len(node.inputs) - 2
        y = node.outputs[0]
        ry = self.reg[y.name]
        m, s = node.inputs[n_in].data, node.inputs[n_in + 1].data
        zps = node.attrs.get("zps", [0] * n_in)
        zp, lo, hi = self._clamp(node, y)
        lane0 = 0
        for i in range(n_in):
            x = node.inputs[i]
            rx = self.reg[x.name]
            self._config_st(zp, lo, hi, int(m[i]), int(s[i]), note=f"concat {node.name} input {i}")
            rows, lanes = rows_lanes(x.shape)
            for lb in range(-(-lanes // self.d)):
                cols = min(self.d, lanes - lb * self.d)
                for r0, n in self._chunks(rows, 1):
                    base, slot = self._acc()
                    g = self.b.group("ex", reads=[self.res(x)], writes=[slot])
                    self._load(g, rx, r0, n, lb, base)
                    if int(zps[i]):
                        g.add(make("ALU", alu_op="ADD", use_imm=1, dst=base, rows=n, dst_inc=1,
                                   imm=-int(zps[i]), note="centre"))
                    st = self.b.group("st", reads=[slot], writes=[self.res(y)])
                    self._store(st, ry, r0, n, lane0 + lb * self.d, cols, base)
            lane0 += lanes

    RULES = {"qcc.add": "binary", "qcc.sub": "binary", "qcc.mul": "binary", "qcc.requant": "requant",
             "qcc.lut": "lut", "qcc.global_avgpool": "global_avgpool", "qcc.concat": "concat"}

    def lower(self, node) -> None:
        getattr(self, self.RULES[node.op])(node)


def dram_dtype_ok(v) -> bool:
    return v.dtype in ISA_DTYPE
