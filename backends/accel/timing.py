"""Discrete-event timing model of the three in-order engines (docs/target_accel.md §4).

LD runs LOADs into the input/weight buffers, EX runs GEMM/ALU/LUT, the loads
into the accumulator/parameter/LUT buffers, the ALU CONFIG and FINISH, ST runs
STOREs and the store CONFIGs.  Four token FIFOs connect them (l2c, c2l, c2s,
s2c).  An instruction starts at ``max(engine free, ready time of every token it
pops, time the slot it pushes into was freed)``; a token is ready when the
pushing instruction's data is (DMA latency included).  The EX engine's own loads
(accumulator, parameters, tables) are pipelined like LD's: a scoreboard makes ALU/LUT
wait until they have landed, and a token EX pushes is ready only when they have.  If no engine can issue
while instructions remain, the stream deadlocks and ``DeadlockError`` names the
blocked heads: the lowering's checker runs this on every stream it emits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .hw import HwConfig
from .isa import DTYPE_BYTES, ITERATIVE_ALU_OPS, Instr, IsaError

ENGINES = ("ld", "ex", "st")
# (engine, flag) -> fifo; pops read the fifo, pushes write it
# LD's *_prev and ST's *_next flags close the ring: ST -> LD (s2l) and LD -> ST (l2s)
_POPS = {("ld", "pop_next"): "c2l", ("ex", "pop_prev"): "l2c", ("ex", "pop_next"): "s2c",
         ("st", "pop_prev"): "c2s", ("ld", "pop_prev"): "s2l", ("st", "pop_next"): "l2s"}
_PUSHES = {("ld", "push_next"): "l2c", ("ex", "push_prev"): "c2l", ("ex", "push_next"): "c2s",
           ("st", "push_prev"): "s2c", ("st", "push_next"): "s2l", ("ld", "push_prev"): "l2s"}
FIFOS = ("l2c", "c2l", "c2s", "s2c", "s2l", "l2s")
PAD_ROWS_PER_CYCLE = 4
# EX instructions that read data an EX-side LOAD (ACC/PARAM/LUT) may have brought in
_READS_EX_LOADS = ("ALU", "LUT", "REDUCE", "LOADX", "FINISH")
# CONFIG registers that only the GEMMs issued after them read (latched at a GEMM's issue)
_GEMM_REGS = ("GEMM_ROWS", "GEMM_TAPS")


class DeadlockError(IsaError):
    """The dependency tokens of a stream can never all be satisfied (a compiler bug)."""


def token_fifos(ins: Instr) -> tuple[list[str], list[str]]:
    """(fifos popped, fifos pushed) by ``ins``; flags that make no sense for its engine raise."""
    eng = ins.engine
    pops, pushes = [], []
    for d in ins.deps:
        if (eng, d) in _POPS:
            pops.append(_POPS[(eng, d)])
        elif (eng, d) in _PUSHES:
            pushes.append(_PUSHES[(eng, d)])
        else:
            raise IsaError(f"{ins.op} runs on the {eng.upper()} engine, which has no '{d}' FIFO")
    return pops, pushes


def _transfer(rows: int, row_bytes: int, stride: int, bw: int) -> int:
    if rows == 0 or row_bytes == 0:
        return 0
    if stride == row_bytes:
        return math.ceil(rows * row_bytes / bw)
    return rows * math.ceil(row_bytes / bw)


def load_row_bytes(f: dict, dim: int) -> int:
    """DRAM bytes per row of a LOAD: a dense weight block (DIM x DIM), a diagonal weight
    block (``cols`` bytes on the diagonal: a WGT load with ``cols > 0``), a partial one
    (``cols`` K-rows of DIM bytes: v6 ``part``) or ``cols`` elements."""
    if f["buf"] == "WGT":
        if f.get("part"):
            return f["cols"] * dim
        return f["cols"] if f["cols"] else dim * dim
    return f["cols"] * DTYPE_BYTES[f["dtype"]]


def dma_bytes(ins: Instr, hw: HwConfig) -> int:
    f = ins.f
    if ins.op == "LOAD":
        return f["rows"] * load_row_bytes(f, hw.dim)
    if ins.op == "STORE" and f.get("inp"):  # v5: into the input buffer, no DRAM traffic
        return 0
    if ins.op in ("STORE", "LOADX"):
        return f["rows"] * f["cols"] * DTYPE_BYTES[f["dtype"]]
    return 0


def copies(prog: list[Instr]) -> list[int]:
    """How many times each instruction moves its rows: a v4 ``outer`` LOAD the count of the
    LD engine's last CONFIG LOAD_OUTER before it (LD runs in program order), a v7 ``outer``
    STORE that of the ST engine's last CONFIG STORE_OUTER, else 1."""
    n = {"LOAD": 0, "STORE": 0}
    out = []
    for ins in prog:
        if ins.op == "CONFIG" and ins.f["reg"] in ("LOAD_OUTER", "STORE_OUTER"):
            n[ins.f["reg"][:-6]] = max(ins.f["a"], 0)
        out.append(n[ins.op] if ins.op in n and ins.f.get("outer") else 1)
    return out


def gemm_cycles(rows: int, kblocks: int, hw: HwConfig) -> int:
    """Cycles of one GEMM micro-loop on the array (see the docs for each dataflow)."""
    if rows == 0 or kblocks == 0:
        return 1
    r, c, d = hw.rows, hw.cols, hw.dim
    if hw.dataflow == "ws":  # a weight block per kb; `rows` input rows stream through it
        if hw.gemm_overlap:
            return r + kblocks * max(rows, r) + (r + c - 2)
        return kblocks * (2 * r + c + rows - 2)
    folds = -(-rows // r)    # os: r output rows per fold, K = kblocks*dim streams through
    if hw.gemm_overlap:
        return folds * kblocks * d + (r + c - 2)
    return folds * (kblocks * d + r + c - 2)


def gemm_parts(rows: int, kblocks: int, hw: HwConfig) -> tuple[int, int, int]:
    """(fill, stream, drain) of a GEMM with ``gemm_overlap``: the first weight block's
    preload, the cycles in which rows enter the array, the pipeline drain; their sum is
    ``gemm_cycles``."""
    r, c, d = hw.rows, hw.cols, hw.dim
    if rows == 0 or kblocks == 0:
        return 0, 1, 0
    if hw.dataflow == "ws":
        return r, kblocks * max(rows, r), r + c - 2
    return 0, -(-rows // r) * kblocks * d, r + c - 2


def chained(hw: HwConfig) -> bool:
    return hw.gemm_chain and hw.gemm_overlap


def cost(ins: Instr, hw: HwConfig, n: int = 1) -> tuple[int, int]:
    """(busy cycles of the engine, extra latency until the result is usable); ``n``: the
    copies of an ``outer`` LOAD or STORE (one issue overhead, ``n`` transfers)."""
    f = ins.f
    if ins.op == "STORE" and f.get("inp"):  # v5: one input-buffer row per cycle, no DRAM
        return hw.dma_overhead + n * f["rows"], hw.sram_latency
    if ins.op in ("LOAD", "STORE"):
        rb = load_row_bytes(f, hw.dim) if ins.op == "LOAD" else f["cols"] * DTYPE_BYTES[f["dtype"]]
        busy = _transfer(f["rows"], rb, f["stride"], hw.dram_bytes_per_cycle)
        if ins.op == "LOAD":
            busy += -(-(f["pad_before"] + f["pad_after"]) // PAD_ROWS_PER_CYCLE)
        return hw.dma_overhead + n * busy, hw.dma_latency
    if ins.op == "LOADX":  # one DMA row per index (rows are not contiguous)
        rb = f["cols"] * DTYPE_BYTES[f["dtype"]]
        return hw.dma_overhead + f["rows"] * -(-rb // hw.dram_bytes_per_cycle), hw.dma_latency
    if ins.op == "GEMM":
        return gemm_cycles(f["rows"], f["kblocks"], hw), 0
    if ins.op == "ALU":
        ii = hw.div_ii if f["alu_op"] in ITERATIVE_ALU_OPS else hw.alu_ii
        return ii * f["rows"] + 1, 0
    if ins.op == "REDUCE":  # one member row per alu_ii, then a log2(DIM)-deep lane tree
        return hw.alu_ii * f["rows"] * max(1, f["members"]) + (hw.dim - 1).bit_length() + 1, 0
    if ins.op == "LUT":
        return hw.lut_ii * f["rows"] + 1, 0
    return 1, 0


@dataclass
class Schedule:
    start: list
    end: list          # engine free again
    ready: list        # results usable (tokens pushed)
    order: list        # instruction indices by start time (a valid interleaving)
    busy: dict = field(default_factory=dict)
    ex_data_stall: int = 0
    total: int = 0


class _Fifo:
    def __init__(self):
        self.ready, self.popped_at = [], []


class _ExBoard:
    """The EX engine's scoreboard: its own loads (ALU/LUT/... wait until they have landed; a
    token EX pushes is ready only when they have) and, with ``gemm_chain``, the GEMM drain:
    a GEMM's drain is latency, not EX busy time, so the next GEMM streams its rows right
    behind it (its first weight block preloading behind them when it issues back to back),
    while every other EX instruction waits until the GEMMs have drained (but a CONFIG of the
    GEMM loop registers, which only the GEMMs after it read)."""

    def __init__(self, hw: HwConfig):
        self.hw, self.chain = hw, chained(hw)
        self.loads = 0        # when the EX engine's loads issued so far have landed
        self.drained = 0      # when the GEMMs issued so far have drained
        self.gemm_end = -1    # EX free time after the last GEMM, if EX ran nothing since

    def earliest(self, ins: Instr, t: int) -> int:
        if ins.op in _READS_EX_LOADS:
            t = max(t, self.loads)
        if self.chain and ins.op != "GEMM" and not _gemm_config(ins):
            t = max(t, self.drained)
        return t

    def cost(self, ins: Instr, t: int) -> tuple[int, int]:
        if not (self.chain and ins.op == "GEMM"):
            return cost(ins, self.hw)
        fill, stream, drain = gemm_parts(ins.f["rows"], ins.f["kblocks"], self.hw)
        return stream + (0 if t == self.gemm_end else fill), drain

    def issued(self, ins: Instr, end: int, ready: int, pushes) -> int:
        """Record an issued EX instruction; returns its (possibly later) ready time."""
        if ins.op in ("LOAD", "LOADX"):
            self.loads = max(self.loads, ready)
        elif pushes:  # what it hands over includes the data of earlier loads
            ready = max(ready, self.loads)
        self.gemm_end = end if ins.op == "GEMM" else -1
        if ins.op == "GEMM":
            self.drained = max(self.drained, ready)
        return ready


def _gemm_config(ins: Instr) -> bool:
    return ins.op == "CONFIG" and ins.f["reg"] in _GEMM_REGS


def _slot_time(fifos, pops, pushes, t: int, depth: int):
    """(earliest start for the FIFO slots, data ready time of the popped tokens), or None
    while a popped token is missing or a pushed-to FIFO is full."""
    t_data = 0
    for fn in pops:
        fo = fifos[fn]
        k = len(fo.popped_at)
        if k >= len(fo.ready):
            return None
        t_data = max(t_data, fo.ready[k])
    for fn in pushes:
        fo = fifos[fn]
        k = len(fo.ready) - depth
        if k >= 0:
            if k >= len(fo.popped_at):
                return None
            t = max(t, fo.popped_at[k])
    return t, t_data


def simulate(prog: list[Instr], hw: HwConfig) -> Schedule:
    n = len(prog)
    queues = {e: [i for i, ins in enumerate(prog) if ins.engine == e] for e in ENGINES}
    flags = [token_fifos(ins) for ins in prog]
    fifos = {k: _Fifo() for k in FIFOS}
    ptr = dict.fromkeys(ENGINES, 0)
    free = dict.fromkeys(ENGINES, 0)
    busy = dict.fromkeys(ENGINES, 0)
    start, end, ready = [0] * n, [0] * n, [0] * n
    stall = 0
    done = 0
    board = _ExBoard(hw)
    reps = copies(prog)
    while done < n:
        progress = False
        for e in ENGINES:
            q = queues[e]
            while ptr[e] < len(q):
                i = q[ptr[e]]
                ins = prog[i]
                pops, pushes = flags[i]
                slot = _slot_time(fifos, pops, pushes, free[e], hw.fifo_depth)
                if slot is None:
                    break
                t, t_data = slot
                if e == "ex" and "l2c" in pops and t_data > t:
                    stall += t_data - t
                t = max(t, t_data)
                if e == "ex":
                    t = board.earliest(ins, t)
                    b, lat = board.cost(ins, t)
                else:
                    b, lat = cost(ins, hw, reps[i])
                start[i], end[i], ready[i] = t, t + b, t + b + lat
                if e == "ex":
                    ready[i] = board.issued(ins, end[i], ready[i], pushes)
                free[e] = end[i]
                busy[e] += end[i] - t
                for fn in pops:
                    fifos[fn].popped_at.append(t)
                for fn in pushes:
                    fifos[fn].ready.append(ready[i])
                ptr[e] += 1
                done += 1
                progress = True
        if not progress:
            heads = [f"{e.upper()}: instruction {queues[e][ptr[e]]} ({prog[queues[e][ptr[e]]].op} "
                     f"{','.join(prog[queues[e][ptr[e]]].deps)})"
                     for e in ENGINES if ptr[e] < len(queues[e])]
            raise DeadlockError("instruction stream deadlocks; blocked heads: " + "; ".join(heads))
    leftover = {k: len(f.ready) - len(f.popped_at) for k, f in fifos.items()
                if len(f.ready) != len(f.popped_at)}
    if leftover:
        raise DeadlockError(f"tokens pushed but never popped: {leftover} (unbalanced dependency flags)")
    order = sorted(range(n), key=lambda i: (start[i], i))
    total = max(ready) if n else 0
    return Schedule(start, end, ready, order, busy, stall, total)


def layer_stats(prog: list[Instr], sched: Schedule, layers: list[dict], hw: HwConfig) -> list[dict]:
    """Per-layer cycles (partitioning the total), EX busy, DMA stall, bytes, utilisation, roofline.

    ``layers``: dicts with ``name``, ``op``, ``first``, ``last`` (instruction range) and ``macs``.
    """
    out = []
    prev_end = 0
    reps = copies(prog)
    for ly in layers:
        idx = range(ly["first"], ly["last"])
        fin = max((sched.ready[i] for i in idx), default=prev_end)
        cycles = max(fin - prev_end, 0)
        ex_busy = sum(sched.end[i] - sched.start[i] for i in idx if prog[i].engine == "ex")
        per_engine = {"ld": 0, "ex": 0, "st": 0}
        for i in idx:
            per_engine[prog[i].engine] += dma_bytes(prog[i], hw) * reps[i]
        nbytes = sum(per_engine.values())
        macs = int(ly.get("macs", 0))
        row = {"name": ly["name"], "op": ly["op"], "cycles": cycles, "macs": macs,
               "ex_busy": ex_busy, "ex_busy_frac": ex_busy / cycles if cycles else 0.0,
               "dram_bytes": nbytes, "instructions": len(idx)}
        row.update(roofline(macs, nbytes, cycles, hw, peak_bytes=max(per_engine.values())))
        if ly.get("min_bytes"):  # the bound of the layer itself: every byte moved once
            # every engine's DMA has its own DRAM bandwidth (§4): the busiest one bounds
            once = max(ly.get(k, 0) for k in ("min_load_bytes", "min_param_bytes", "min_store_bytes"))
            once = once or ly["min_bytes"]
            ideal = max(math.ceil(macs / hw.pe), math.ceil(once / hw.dram_bytes_per_cycle))
            row.update(ideal_cycles=ideal, ideal_eff=ideal / cycles if cycles else 0.0)
        out.append(row)
        prev_end = max(prev_end, fin)
    return out


def roofline(macs: int, nbytes: int, cycles: int, hw: HwConfig, peak_bytes: int | None = None) -> dict:
    """Utilisation = MACs/(PE*cycles); attainable MAC/cycle = min(PE, AI*bandwidth).

    ``peak_bytes``: the DRAM bytes of the busiest engine (LD, EX and ST each have their own
    bandwidth in the timing model), which bound the layer; by default all ``nbytes``. AI
    stays MACs per byte moved in both directions."""
    util = macs / (hw.pe * cycles) if cycles else 0.0
    peak = nbytes if peak_bytes is None else peak_bytes
    if macs == 0:
        return {"utilization": util, "bound": "memory" if nbytes else "none",
                "roofline_cycles": math.ceil(peak / hw.dram_bytes_per_cycle), "roofline_eff": 0.0}
    ai = macs / nbytes if nbytes else float("inf")
    attain = min(hw.pe, (macs / peak if peak else float("inf")) * hw.dram_bytes_per_cycle)
    bound_cycles = math.ceil(macs / attain)
    return {"utilization": util, "bound": "compute" if attain >= hw.pe else "memory",
            "arith_intensity": ai, "roofline_cycles": bound_cycles,
            "roofline_eff": bound_cycles / cycles if cycles else 0.0}
