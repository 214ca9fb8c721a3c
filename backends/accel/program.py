"""The whole-model lowering: IR graph -> segments of instruction streams + DRAM image.

Each node is classified (``classify``): a GEMM layer (conv, linear), a vector
layer (ALU/LUT), a layout-preserving alias (a Reshape that keeps the DRAM
bytes), a boundary op (quantize of a graph input, dequantize of a graph output:
the host converts float <-> int8 there), or a host fallback (listed in the
manifest with its reason).  Consecutive accelerator layers form one segment
that ends in FINISH; a host op sits between segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import Graph
from qcc.lower.support import needs_wide_acc

from .check import check_stream
from .gemm_emit import choose_tiling, emit_gemm
from .hw import HwConfig
from .isa import make
from .layout import ISA_DTYPE, DramPlan, Region, plan_arena, rows_lanes, same_bytes
from .lower_elem import ElemLowering, check_elem
from .lower_gemm import check_gemm, prepare
from .stream import Builder

ALIAS_OPS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")


@dataclass
class AccelProgram:
    hw: HwConfig
    instrs: list = field(default_factory=list)
    layers: list = field(default_factory=list)      # dicts: name, op, kind, first, last, macs, ...
    segments: list = field(default_factory=list)    # dicts: kind accel|host|boundary, ...
    plan: DramPlan = None
    regions: dict = field(default_factory=dict)     # value name -> Region (absolute address)
    host_ops: list = field(default_factory=list)    # fallbacks: {node, op, reason}


def classify(node, graph: Graph) -> tuple[str, str]:
    """(kind, reason) with kind in gemm | elem | alias | boundary | host."""
    outs = {id(v) for v in graph.outputs}
    x = node.inputs[0] if node.inputs else None
    if node.op == "qcc.quantize" and x is not None and x.producer is None and not x.is_const:
        return "boundary", "float input -> int8 on the host"
    if node.op == "qcc.dequantize" and id(node.outputs[0]) in outs:
        return "boundary", "int -> float output on the host"
    if any(v.dtype not in ISA_DTYPE for v in node.outputs) or any(
            v is not None and not v.is_const and v.dtype not in ISA_DTYPE for v in node.inputs):
        return "host", "operands outside int8/uint8/int16/int32"
    if needs_wide_acc(node):  # the GEMM/ALU accumulators are int32 (docs/arithmetic.md 5.1)
        return "host", "int64 accumulator (acc_bits=64)"
    if node.op in ALIAS_OPS:
        if x is not None and not x.is_const and same_bytes(x.shape, node.outputs[0].shape):
            return "alias", "same DRAM bytes"
        return "host", "reshape that moves bytes"
    if node.op in ("qcc.conv2d", "qcc.linear"):
        why = check_gemm(node)
        return ("gemm", "") if why is None else ("host", why)
    why = check_elem(node)
    return ("elem", "") if why is None else ("host", why)


class _Lowering:
    def __init__(self, graph: Graph, hw: HwConfig, search: int):
        self.g, self.hw, self.search = graph, hw, search
        self.ap = AccelProgram(hw, plan=DramPlan())
        self.kinds = {n.name: classify(n, graph) for n in graph.nodes}
        self.root: dict = {}
        self.b = None
        self.written: set = set()

    # -- memory -----------------------------------------------------------------------------
    def plan_memory(self) -> None:
        g = self.g
        for n in g.nodes:
            if self.kinds[n.name][0] == "alias":
                src = n.inputs[0].name
                self.root[n.outputs[0].name] = self.root.get(src, src)
        vals, first, last = [], {}, {}
        for v in g.inputs:
            if v.dtype in ISA_DTYPE:
                vals.append(v)
                first[v.name] = -1
        for i, n in enumerate(g.nodes):
            for v in n.outputs:
                if v.dtype in ISA_DTYPE:
                    vals.append(v)
                    first[v.name] = i
            for v in n.inputs:
                if v is not None and not v.is_const and v.dtype in ISA_DTYPE:
                    r = self.root.get(v.name, v.name)
                    last[r] = max(last.get(r, -1), i)
        pinned = {self.root.get(v.name, v.name) for v in list(g.outputs) + list(g.inputs)}
        offs, size = plan_arena(vals, last, first, self.root, pinned)
        self.ap.plan.arena_size = size
        self._vals, self._offs = vals, offs
        self._life = {k: (first.get(k, -1), last.get(k, first.get(k, -1))) for k in offs}

    def finish_memory(self) -> None:
        for v in self._vals:
            r = self.root.get(v.name, v.name)
            off, nbytes = self._offs[r]
            rows, lanes = rows_lanes(v.shape)
            self.ap.regions[v.name] = Region(v.name, off, nbytes, ISA_DTYPE[v.dtype],
                                             tuple(v.shape), rows, lanes)

    def res(self, v):
        return ("DRAM", self.root.get(v.name, v.name))

    def overlaps(self) -> dict:
        out = {}
        items = list(self._offs.items())
        for a, (oa, sa) in items:
            for b, (ob, sb) in items:
                if a != b and oa < ob + sb and ob < oa + sa and self._life[b][1] <= self._life[a][0]:
                    out.setdefault(("DRAM", a), []).append(("DRAM", b))
        return out

    # -- segments ---------------------------------------------------------------------------
    def _open(self):
        if self.b is None:
            self.b = Builder()
            self.b.also_write = self._overlaps
            self.written = set()

    def _close(self):
        if self.b is None:
            return
        b = self.b
        g = b.group("ex", reads=sorted(self.written))
        g.add(make("FINISH", note="end of segment"))
        prog, tags = b.finalize()
        base = len(self.ap.instrs)
        self.ap.instrs.extend(prog)
        for ly in self._seg_layers:
            idx = [i for i, t in enumerate(tags) if t == ly["_tag"]]
            ly["first"], ly["last"] = base + min(idx), base + max(idx) + 1
            del ly["_tag"]
        self.ap.segments.append({"kind": "accel", "first": base, "last": base + len(prog),
                                 "layers": [ly["name"] for ly in self._seg_layers]})
        self.b = None

    def run(self) -> AccelProgram:
        self.plan_memory()
        self._overlaps = self.overlaps()
        self.finish_memory()
        self._elem = ElemLowering(self.hw, self.ap.plan, None, self.ap.regions, self.res)
        self._seg_layers = []
        tag = 0
        for n in self.g.nodes:
            kind, why = self.kinds[n.name]
            if kind == "alias":
                continue
            if kind in ("host", "boundary"):
                self._close()
                self._seg_layers = []
                self.ap.segments.append({"kind": kind, "node": n.name, "op": n.op, "reason": why})
                if kind == "host":
                    self.ap.host_ops.append({"node": n.name, "op": n.op, "reason": why})
                continue
            self._open()
            self.b.layer = tag
            entry = {"name": n.name, "op": n.op, "kind": kind, "_tag": tag, "macs": 0}
            tag += 1
            if kind == "gemm":
                self._gemm(n, prepare(n, self.ap.plan, self.hw), entry)
            else:
                self._elem.b = self.b
                self._elem.lower(n)
            self.written.update(self.res(v) for v in n.outputs)
            self._seg_layers.append(entry)
            self.ap.layers.append(entry)
        self._close()
        check_stream(self.ap)
        return self.ap

    def _gemm(self, n, ly, entry):
        x, y = n.inputs[0], n.outputs[0]
        xr, yr = self.ap.regions[x.name], self.ap.regions[y.name]
        t, cyc, tried = choose_tiling(ly, xr, yr, self.hw, self.search)
        emit_gemm(ly, t, xr, yr, self.hw, self.b, self.res(x), self.res(y))
        entry.update(macs=ly.macs, tiling=t.describe(), tiling_tried=tried, est_cycles=cyc,
                     shape={"n": ly.n, "h": ly.h, "w": ly.w, "c": ly.c, "oh": ly.oh, "ow": ly.ow,
                            "m": ly.m, "kh": ly.kh, "kw": ly.kw, "stride": list(ly.stride),
                            "group": ly.group})


def build_program(graph: Graph, hw: HwConfig, search: int = 16) -> AccelProgram:
    try:
        return _Lowering(graph, hw, search).run()
    except LoweringError:
        raise
