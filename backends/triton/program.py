"""The Triton kernel program of an integer graph: kernel calls over one workspace.

1. the boundary: a float graph input must feed one ``qcc.quantize`` (done in torch by
   the generated ``Model``, float32 division and round half to even, exactly ONNX
   QuantizeLinear); a graph output made by ``qcc.dequantize`` is dequantized in torch;
   integer inputs/outputs pass as they are;
2. every other node is lowered by the rule registered for its op into kernel calls
   (:class:`~qcc.backends.triton.calls.Call`); views (Reshape, ...) share bytes;
3. every non-constant value gets a byte range of the workspace from the static memory
   planner (lifetimes in steps; inputs live from the start, outputs to the end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from qcc.errors import LoweringError, UnsupportedOpError
from qcc.ir import DType, Graph, Node, Value

from .adapter import Buffer, check_plan, plan_memory
from .calls import Call

ALIGN = 64
RULES: dict[str, Callable] = {}
TORCH_DTYPES = {DType.int8: "int8", DType.uint8: "uint8", DType.int16: "int16",
                DType.int32: "int32", DType.int64: "int64", DType.bool: "bool",
                DType.uint16: "uint16", DType.uint32: "uint32"}


def rule(*ops: str):
    def deco(fn):
        for op in ops:
            RULES[op] = fn
        return fn
    return deco


@dataclass
class Step:
    node: Node
    call: Call
    reads: dict            # role -> Value (activations)
    out: Value
    out_offset: int = 0    # elements into the output (writes into a concat destination)
    extra_outs: dict = field(default_factory=dict)  # role -> Value (ops with several outputs)


@dataclass
class IoSpec:
    name: str              # graph input/output name
    value: Value           # the integer value in the workspace
    dtype: str             # its torch dtype name
    scale: Optional[float] = None
    zero_point: int = 0
    qmin: int = 0
    qmax: int = 0


@dataclass
class Program:
    name: str
    steps: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    offsets: dict = field(default_factory=dict)    # root value name -> byte offset
    workspace: int = 0
    lower_bound: int = 0
    strategy: str = ""


def nbytes(v: Value) -> int:
    if v.dtype not in TORCH_DTYPES:
        raise LoweringError(f"target triton: value '{v.name}' has dtype {v.dtype.name}, which "
                            f"no kernel stores")
    return v.type.numel * max(v.dtype.bits, 8) // 8


class Lowerer:
    def __init__(self, graph: Graph, name: str):
        self.g = graph
        self.p = Program(name)
        self._parent: dict[int, Value] = {}
        self.consts: dict[int, Value] = {}     # alias id -> const value it views
        self._n = 0

    def kname(self, family: str) -> str:
        self._n += 1
        return f"{family}_{self._n}"

    def find(self, v: Value) -> Value:
        while id(v) in self._parent:
            v = self._parent[id(v)]
        return v

    def const_data(self, v: Value):
        """numpy data of a constant (or a view of one), else None."""
        if v is None:
            return None
        if v.is_const:
            return np.asarray(v.data)
        c = self.consts.get(id(v))
        return None if c is None else np.asarray(c.data).reshape(v.shape)

    def alias(self, out: Value, src: Value) -> None:
        if src.is_const or id(src) in self.consts:
            self.consts[id(out)] = self.consts.get(id(src), src)
            return
        self._parent[id(out)] = self.find(src)

    def step(self, node: Node, call: Call, reads: dict, out: Value, out_offset: int = 0,
             extra_outs: dict | None = None) -> None:
        for role, v in reads.items():
            if self.const_data(v) is not None:
                call.consts[role] = self.const_data(v)
        reads = {r: v for r, v in reads.items() if self.const_data(v) is None}
        self.p.steps.append(Step(node, call, reads, out, out_offset, dict(extra_outs or {})))


def _load_rules() -> None:
    from . import rules_dense, rules_elem, rules_move, rules_rnn, rules_row  # noqa: F401


def build_program(graph: Graph, name: str) -> Program:
    _load_rules()
    lw = Lowerer(graph, name)
    skip = _boundary(lw)
    todo = [n for n in graph.nodes if id(n) not in skip]
    missing = [n for n in todo if n.op not in RULES]
    if missing:
        kinds = sorted({n.op for n in missing})
        shown = ", ".join(f"{n.op} '{n.name}'" for n in missing[:12])
        err = UnsupportedOpError([(n.op, n.name, 0) for n in missing], "node")
        err.args = (f"target triton has no kernel for {len(missing)} node(s) "
                    f"[{', '.join(kinds)}]: {shown}; a float op left after quantization needs "
                    f"a calibration range (--calib) or an integer rule",)
        raise err
    for n in todo:
        RULES[n.op](lw, n)
    _plan(lw)
    return lw.p


def _qrange(dt: DType):
    return int(dt.min), int(dt.max)


def _boundary(lw: Lowerer) -> set:
    g, p = lw.g, lw.p
    skip = set()
    for gi in g.inputs:
        if gi.dtype.is_float:
            users = list(gi.users)
            if len(users) != 1 or users[0].op != "qcc.quantize":
                ops = sorted({u.op for u in users}) or ["nothing"]
                raise LoweringError(f"target triton: float input '{gi.name}' must feed exactly "
                                    f"one qcc.quantize (it feeds {', '.join(ops)}); compile "
                                    f"with --calib so it is quantized")
            q = users[0]
            skip.add(id(q))
            v = q.outputs[0]
            spec = IoSpec(gi.name, v, TORCH_DTYPES[v.dtype], float(q.attr("scale")),
                          int(q.attr("zero_point", 0)), *_qrange(v.dtype))
        elif gi.dtype in TORCH_DTYPES:
            spec = IoSpec(gi.name, gi, TORCH_DTYPES[gi.dtype])
        else:
            raise LoweringError(f"target triton: input '{gi.name}' has dtype {gi.dtype.name}")
        p.inputs.append(spec)
    for go in g.outputs:
        prod = go.producer
        if prod is not None and prod.op == "qcc.dequantize" and not go.users:
            skip.add(id(prod))
            v = prod.inputs[0]
            spec = IoSpec(go.name, v, TORCH_DTYPES[v.dtype], float(prod.attr("scale")),
                          int(prod.attr("zero_point", 0)))
        elif prod is not None and go.dtype in TORCH_DTYPES:
            spec = IoSpec(go.name, go, TORCH_DTYPES[go.dtype])
        else:
            raise LoweringError(f"target triton: output '{go.name}' ({go.dtype.name}) is "
                                f"neither an integer tensor nor a qcc.dequantize of one; the "
                                f"kernels have no float (drop --allow-float, or --calib)")
        if spec.value.is_const:
            raise LoweringError(f"target triton: output '{go.name}' is a constant")
        p.outputs.append(spec)
    return skip


def _lifetimes(lw: Lowerer):
    first, last, roots = {}, {}, {}
    for io in lw.p.inputs:
        r = lw.find(io.value)
        roots[r.name], first[r.name] = r, 0
        last[r.name] = 0
    for i, st in enumerate(lw.p.steps):
        for v in list(st.reads.values()):
            r = lw.find(v)
            if r.name not in first:
                raise LoweringError(f"target triton: internal error, '{r.name}' is read "
                                    f"before it is written")
            last[r.name] = i
        for o in [st.out] + list(st.extra_outs.values()):
            r = lw.find(o)
            roots[r.name] = r
            first.setdefault(r.name, i)
            last[r.name] = max(last.get(r.name, i), i)
    end = max(len(lw.p.steps) - 1, 0)
    for io in lw.p.outputs:
        r = lw.find(io.value)
        if r.name not in roots:
            roots[r.name], first[r.name] = r, 0
        last[r.name] = end
    return first, last, roots


def _plan(lw: Lowerer) -> None:
    first, last, roots = _lifetimes(lw)
    buffers = [Buffer(k, nbytes(r), first[k], last[k]) for k, r in roots.items()]
    plan = plan_memory(buffers, ALIGN)
    check_plan(buffers, plan)
    p = lw.p
    p.workspace, p.lower_bound, p.strategy = plan.arena, plan.lower_bound, plan.strategy
    p.offsets = dict(plan.offsets)
    p.root = {id(v): lw.find(v).name for st in p.steps
              for v in list(st.reads.values()) + [st.out] + list(st.extra_outs.values())}
    for io in p.inputs + p.outputs:
        p.root[id(io.value)] = lw.find(io.value).name
