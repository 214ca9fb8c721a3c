"""The latency floor of a layer (docs/target_accel.md §4, "Latency floor").

The roofline bound of a layer has no latency in it: ``max(MACs / MACs per cycle, the busiest
engine's DRAM bytes / bandwidth)``.  The latency floor adds to each of those terms the serial
latencies that the timing model's rules put before and after it on every schedule of the layer
as lowered (its input in DRAM or on chip, its output to DRAM or on chip, its bytes per engine):

* compute: ``head + fill + MACs / lanes + drain + tail``: the first GEMM cannot start before
  the DRAM load it waits for has landed (``head = dma_overhead + dma_latency``, when a load of
  the layer's own gives its first GEMM a token), the first weight block preloads (``fill = R``,
  weight-stationary, unless a GEMM before it in the stream can chain), every GEMM streams (at
  most ``R*C`` MACs a cycle, ``min(R, C)`` for a depthwise layer on the diagonal), the last one
  drains (``R + C - 2``), and the STORE of its output (the ``tail``: ``dma_overhead + 1 +
  dma_latency`` to DRAM, ``dma_overhead + 1 + sram_latency`` on chip) follows;
* LD and EX loads: ``dma_overhead + bytes / bw + dma_latency`` (the last load lands);
* ST: ``head + fill + R + drain`` before the first STORE that carries a GEMM's output, then
  ``dma_overhead + bytes / bw`` and the STOREs' least latency.

The floor is the largest of these.  It bounds the layer's *span* (the first start to the last
ready time of its own instructions) on any schedule; the per-layer cycles partition the total
by finishing time, so a layer whose work started under its predecessor's can show fewer (§4).
Every term comes from ``HwConfig``; none is a constant.
"""

from __future__ import annotations

import math

from .hw import HwConfig
from .isa import Instr
from .timing import Schedule, chained, copies, dma_bytes, token_fifos


def token_pushers(prog: list[Instr]) -> list[dict]:
    """For each instruction, ``{fifo: index of the instruction that pushed the token it pops}``
    (each FIFO pairs its n-th pop with its n-th push)."""
    pushed: dict[str, list[int]] = {}
    popped: dict[str, int] = {}
    out = []
    flags = [token_fifos(ins) for ins in prog]
    for i, (_pops, pushes) in enumerate(flags):   # one engine pushes a FIFO, in program order
        for fn in pushes:
            pushed.setdefault(fn, []).append(i)
    for i, (pops, _pushes) in enumerate(flags):
        row = {}
        for fn in pops:
            k = popped.get(fn, 0)
            row[fn] = pushed[fn][k] if k < len(pushed.get(fn, [])) else -1
            popped[fn] = k + 1
        out.append(row)
    return out


def is_depthwise(shape: dict) -> bool:
    """A depthwise convolution: one input channel per output channel (group = c = m)."""
    g = shape.get("group", 1)
    return g > 1 and g == shape.get("c") == shape.get("m")


def _lanes(ly: dict, hw: HwConfig) -> int:
    """MACs per cycle the array can do for this layer: ``R*C``, or ``min(R, C)`` for a
    depthwise convolution (the diagonal)."""
    return min(hw.rows, hw.cols) if is_depthwise(ly.get("shape") or {}) else hw.pe


def _st_waits(prog: list[Instr], pushers: list[dict]) -> list[int]:
    """For each ST instruction, the latest EX instruction whose token it or an ST
    instruction before it popped (ST runs in order: a STORE after a CONFIG that popped the
    token waits for it too); -1 elsewhere."""
    out, last = [], -1
    for ins, pu in zip(prog, pushers):
        if ins.engine == "st" and "c2s" in pu:
            last = max(last, pu["c2s"])
        out.append(last if ins.engine == "st" else -1)
    return out


def _store_tail(ins: Instr, hw: HwConfig) -> int:
    return hw.dma_overhead + 1 + (hw.sram_latency if ins.f.get("inp") else hw.dma_latency)


def layer_floors(prog: list[Instr], sched: Schedule, layers: list[dict], hw: HwConfig) -> list[dict]:
    """Per layer (``first``/``last`` instruction ranges of ``prog``, as ``timing.layer_stats``
    takes them): ``span_cycles`` (its first start to its last ready time), ``floor_cycles`` and
    ``floor_terms``."""
    pushers, reps = token_pushers(prog), copies(prog)
    after = _st_waits(prog, pushers)
    out = []
    for ly in layers:
        idx = range(ly["first"], ly["last"])
        span = (max(sched.ready[i] for i in idx) - min(sched.start[i] for i in idx)) if idx else 0
        row = latency_floor(prog, ly["first"], ly["last"], ly, hw, pushers, reps, after)
        row["span_cycles"] = span
        out.append(row)
    return out


def _bytes(prog, idx, reps, hw, engine=None) -> int:
    return sum(dma_bytes(prog[i], hw) * reps[i] for i in idx
               if engine is None or prog[i].engine == engine)


def latency_floor(prog: list[Instr], first: int, last: int, ly: dict, hw: HwConfig,
                  pushers: list[dict], reps: list[int], after: list[int]) -> dict:
    """The floor's terms for instructions ``[first, last)`` of ``prog`` (one layer); ``after``
    is ``_st_waits`` of the whole program."""
    idx = range(first, last)
    bw = hw.dram_bytes_per_cycle
    engine_bytes = {e: _bytes(prog, idx, reps, hw, e) for e in ("ld", "ex", "st")}
    gemms = [i for i in idx if prog[i].op == "GEMM"]
    terms = {}
    for e in ("ld", "ex"):
        if engine_bytes.get(e):
            terms[e] = hw.dma_overhead + math.ceil(engine_bytes[e] / bw) + hw.dma_latency
    if gemms:
        g0, g1 = gemms[0], gemms[-1]
        # a token one of the layer's own LOADs pushed to an EX instruction at or before g0
        head = any(first <= p < last and prog[p].op == "LOAD"
                   for i in idx if prog[i].engine == "ex" and i <= g0
                   for fn, p in pushers[i].items() if fn == "l2c")
        head = hw.dma_overhead + hw.dma_latency if head else 0
        ws = hw.dataflow == "ws"
        first_in_stream = not any(ins.op == "GEMM" for ins in prog[:first])
        fill = hw.rows if ws and (first_in_stream or not chained(hw)) else 0
        drain = hw.rows + hw.cols - 2
        # STOREs that carry the last GEMM's output: their token comes from g1 or an EX
        # instruction after it (which waits for the drain)
        tails = [_store_tail(prog[i], hw) for i in idx
                 if prog[i].op == "STORE" and after[i] >= g1]
        tail = max(tails, default=0)
        macs = int(ly.get("macs", 0))
        terms["compute"] = head + fill + math.ceil(macs / _lanes(ly, hw)) + drain + tail
        out_stores = [i for i in idx if prog[i].op == "STORE" and after[i] >= g0]
        # the ST bytes from the first STORE of a GEMM's output on (ST runs in order)
        late = _bytes(prog, range(out_stores[0], last), reps, hw, "st") if out_stores else 0
        if late:
            lat = min(_store_tail(prog[i], hw) - hw.dma_overhead - 1
                      for i in range(out_stores[0], last) if prog[i].op == "STORE")
            terms["st"] = (head + fill + (hw.rows if ws else hw.dim) + drain + hw.dma_overhead
                           + math.ceil(late / bw) + lat)
    if not gemms and engine_bytes.get("st"):
        terms["st"] = hw.dma_overhead + math.ceil(engine_bytes["st"] / bw) + min(
            _store_tail(prog[i], hw) - hw.dma_overhead - 1 for i in idx if prog[i].op == "STORE")
    floor = max(terms.values(), default=0)
    return {"floor_cycles": floor, "floor_terms": terms}
