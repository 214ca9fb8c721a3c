"""Lowering of the integer IR to a C program: kernel steps, constants and storage.

``lower(graph, name)`` walks the nodes in order and asks the per-op rules
(``rules_nn``, ``rules_elem``, ``rules_move``) for kernel calls.  Each call
names its operands symbolically (:class:`Arg`); once every step is known the
activation buffers get arena offsets from the memory planner
(``memplan.plan_memory``) and every operand becomes a C expression.

Storage of a value: a caller-owned input or output pointer (the graph
boundary, after the input ``qcc.quantize`` and before the output
``qcc.dequantize``), a constant array in ``NAME_weights.c``, or bytes of the
arena.  Reshape-like ops are views: their result shares the storage of their
input (an alias group), so they cost no step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Graph, Node, Value

from qcc.lower.memplan import Buffer, check_plan, plan_memory

CTYPES = {DType.int8: "int8_t", DType.uint8: "uint8_t", DType.int16: "int16_t",
          DType.int32: "int32_t", DType.int64: "int64_t", DType.float32: "float",
          DType.int4: "int8_t", DType.int2: "int8_t", DType.bool: "uint8_t"}
DT_CODES = {DType.int8: "QCC_I8", DType.uint8: "QCC_U8", DType.int16: "QCC_I16",
            DType.int32: "QCC_I32", DType.int64: "QCC_I64", DType.bool: "QCC_U8"}
ALIGN = 16


@dataclass
class Arg:
    """A kernel operand: a value (read or written), a constant array, scratch, or NULL."""

    kind: str  # "val" | "const" | "scratch" | "null"
    value: Optional[Value] = None
    cname: str = ""
    ctype: str = "int8_t"
    write: bool = False


NULL = Arg("null")


@dataclass
class Step:
    node: Node
    kernel: str          # kernel group (templates/kernels/<kernel>.c)
    fn: str              # C function
    struct: str          # C parameter struct type
    params: dict
    args: list
    scratch: int = 0     # bytes of scratch in the arena
    inplace_of: Optional[Value] = None
    out: Optional[Value] = None


@dataclass
class ConstArray:
    cname: str
    ctype: str
    data: np.ndarray
    source: str


@dataclass
class IoSpec:
    index: int
    graph_name: str      # the graph input/output name
    value: Value         # the integer value at the C boundary
    ctype: str
    count: int
    onnx_dtype: str      # dtype of the runner's file data
    scale: Optional[float] = None   # set when the runner (de)quantizes
    zero_point: int = 0


@dataclass
class Program:
    name: str
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    consts: dict = field(default_factory=dict)   # id(value) or key -> ConstArray
    kernels: set = field(default_factory=set)
    arena: int = 0
    lower_bound: int = 0
    strategy: str = ""
    offsets: dict = field(default_factory=dict)
    extra_info: dict = field(default_factory=dict)


def c_nbytes(v: Value) -> int:
    """Bytes of a value in the arena: one C element per value (bool as a byte, sub-byte
    activations unpacked), unlike ``TensorType.nbytes`` which packs sub-byte types."""
    if v.dtype.is_float:
        return v.type.nbytes
    return v.type.numel * max(v.dtype.bits, 8) // 8


def cident(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_") or "t"
    return s if not s[0].isdigit() else "t" + s


class Lowerer:
    """Collects steps and constants; rules call :meth:`step`, :meth:`const`, :meth:`alias`."""

    def __init__(self, graph: Graph, name: str):
        self.g = graph
        self.p = Program(name=name)
        self._parent: dict[int, Value] = {}
        self._binding: dict[int, tuple] = {}   # root id -> ("in"|"out", index)
        self._cnames: set[str] = set()

    # -- operands ------------------------------------------------------------------
    def read(self, v: Value, ctype: Optional[str] = None) -> Arg:
        if v.is_const:
            return self.const(v, ctype)
        return Arg("val", v, ctype=ctype or CTYPES[v.dtype])

    def write(self, v: Value, ctype: Optional[str] = None) -> Arg:
        return Arg("val", v, ctype=ctype or CTYPES[v.dtype], write=True)

    def const(self, v: Value, ctype: Optional[str] = None) -> Arg:
        key = id(v)
        if key not in self.p.consts:
            self.p.consts[key] = ConstArray(self._cname("w_" + v.name), CTYPES[v.dtype],
                                            np.asarray(v.data).ravel(), v.name)
        c = self.p.consts[key]
        return Arg("const", cname=c.cname, ctype=ctype or c.ctype)

    def table(self, key: str, data, ctype: str = "int32_t") -> Arg:
        if key not in self.p.consts:
            self.p.consts[key] = ConstArray(self._cname("t_" + key), ctype,
                                            np.asarray(data).ravel(), key)
        return Arg("const", cname=self.p.consts[key].cname, ctype=ctype)

    def _cname(self, base: str) -> str:
        base = f"{self.p.name}_{base}"  # external symbols: prefixed, so models link together
        name, k = cident(base), 1
        while name in self._cnames:
            name, k = f"{cident(base)}_{k}", k + 1
        self._cnames.add(name)
        return name

    # -- steps -----------------------------------------------------------------------
    def step(self, node: Node, kernel: str, fn: str, struct: str, params: dict, args: list,
             scratch: int = 0, inplace_of: Optional[Value] = None) -> Step:
        out = next((a.value for a in args if a.kind == "val" and a.write), None)
        if inplace_of is not None and (inplace_of.is_const or out is None
                                       or inplace_of.type.numel != out.type.numel
                                       or c_nbytes(inplace_of) < c_nbytes(out)):
            inplace_of = None  # elementwise kernels may narrow in place (ascending order)
        st = Step(node, kernel, fn, struct, params, args, scratch, inplace_of, out)
        self.p.steps.append(st)
        self.p.kernels.add(kernel)
        return st

    # -- alias groups (views) ------------------------------------------------------------
    def find(self, v: Value) -> Value:
        while id(v) in self._parent:
            v = self._parent[id(v)]
        return v

    def alias(self, node: Node, out: Value, src: Value) -> None:
        """``out`` is a view of ``src`` (same bytes); a copy where storage forbids it."""
        rs = self.find(src)
        b_src, b_out = self._binding.get(id(rs)), self._binding.get(id(out))
        if rs.is_const or (b_src is not None and b_out is not None):
            from .rules_move import emit_copy

            emit_copy(self, node, src, out)
            return
        self._parent[id(out)] = rs
        if b_out is not None:
            self._binding[id(rs)] = b_out

    def bind(self, v: Value, kind: str, index: int) -> None:
        self._binding[id(v)] = (kind, index)

    def binding(self, v: Value):
        return self._binding.get(id(self.find(v)))


def check_node_dtypes(node: Node, allowed=(DType.int8,), what: str = "inputs") -> None:
    for v in node.inputs:
        if v is not None and not v.is_const and v.dtype not in allowed:
            raise LoweringError(
                f"target c: {node.op} node '{node.name}' has input '{v.name}' of dtype "
                f"{v.dtype.short}; the C kernel takes {'/'.join(d.short for d in allowed)}")


def param_value(x: Any):
    """Python ints/lists for the parameter struct initializers."""
    if isinstance(x, (list, tuple, np.ndarray)):
        return [int(v) for v in np.asarray(x).ravel()]
    return int(x)
