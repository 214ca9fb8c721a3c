"""The kernel program: what every backend receives (docs/lowering.md).

:class:`KernelProgram` holds the boundary (:class:`Boundary` per graph input/output),
the schedule (``calls``: :mod:`qcc.lower.kernels` dataclasses, in execution order), the
constant buffers (``consts``, in first-use order) and the memory plan.  Storage of an
activation (:meth:`KernelProgram.location`): a caller-owned input or output buffer, or
bytes of one arena at a planned offset; views (Reshape, Flatten, ...) share the storage
of their source and cost no call.

:class:`Lowerer` is the builder that the lowering rules call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Graph, Node, Value

from .kernels import Const, CopyNd, Kernel
from .target import DEFAULT, Target


@dataclass
class Boundary:
    """A graph input or output at the integer program's edge.

    ``value``: the integer tensor the program reads/writes (after the input
    ``qcc.quantize`` / before the output ``qcc.dequantize``); ``scale``/``zero_point`` set
    when the caller (the runner) (de)quantizes float data; ``file_dtype``: the numpy dtype
    name of the caller's data (``float32`` when it is quantized)."""

    index: int
    graph_name: str
    value: Value
    count: int
    file_dtype: str
    scale: Optional[float] = None
    zero_point: int = 0

    @property
    def dtype(self) -> DType:
        return self.value.dtype


@dataclass(frozen=True)
class Loc:
    """Where an operand lives: ``space`` ``"arena"`` (``offset`` bytes into the arena),
    ``"input"``/``"output"`` (``index``: the caller's buffer, ``offset`` 0)."""

    space: str
    index: int = 0
    offset: int = 0


@dataclass
class MemoryPlan:
    arena: int = 0
    lower_bound: int = 0
    strategy: str = ""
    align: int = 16
    offsets: dict = field(default_factory=dict)     # root buffer name / "scratch.<i>" -> offset
    inplace: dict = field(default_factory=dict)
    rejected: dict = field(default_factory=dict)
    tried: dict = field(default_factory=dict)


@dataclass
class KernelProgram:
    name: str
    target: Target = DEFAULT
    inputs: list = field(default_factory=list)     # Boundary
    outputs: list = field(default_factory=list)    # Boundary
    calls: list = field(default_factory=list)      # Kernel, in execution order
    consts: dict = field(default_factory=dict)     # key -> Const (resident), first-use order
    plan: MemoryPlan = field(default_factory=MemoryPlan)
    aliases: dict = field(default_factory=dict)    # id(view value) -> root value
    bindings: dict = field(default_factory=dict)   # id(root value) -> ("in"|"out", index)

    @property
    def families(self) -> set:
        return {c.family for c in self.calls}

    def const_of(self, v: Value) -> Const:
        """The constant buffer of IR constant ``v`` (an operand field may name one)."""
        return self.consts[f"value:{id(v)}"]

    def root(self, v: Value) -> Value:
        """The value whose storage ``v`` shares (itself unless ``v`` is a view)."""
        while id(v) in self.aliases:
            v = self.aliases[id(v)]
        return v

    def binding(self, v: Value):
        return self.bindings.get(id(self.root(v)))

    def location(self, v: Value) -> Loc:
        r = self.root(v)
        b = self.bindings.get(id(r))
        if b is not None:
            return Loc("input" if b[0] == "in" else "output", b[1], 0)
        return Loc("arena", 0, self.plan.offsets[r.name])

    def scratch_offset(self, i: int) -> int:
        """Arena offset of call ``i``'s scratch (``calls[i].scratch`` bytes)."""
        return self.plan.offsets[f"scratch.{i}"]


def buffer_nbytes(v: Value) -> int:
    """Bytes of an activation buffer: one element per value (bool as a byte, sub-byte
    activations unpacked), unlike ``TensorType.nbytes`` which packs sub-byte types."""
    if v.dtype.is_float:
        return v.type.nbytes
    return v.type.numel * max(v.dtype.bits, 8) // 8


class Lowerer:
    """Collects calls and constants; rules call :meth:`call`, :meth:`const`, :meth:`table`,
    :meth:`alias`.  ``err(msg)`` makes a LoweringError prefixed with the target's name."""

    def __init__(self, graph: Graph, name: str, target: Target = DEFAULT):
        self.g = graph
        self.target = target
        self.p = KernelProgram(name=name, target=target)

    def err(self, msg: str) -> LoweringError:
        return LoweringError(f"target {self.target.name}: {msg}")

    # -- constants ------------------------------------------------------------------
    def const(self, v: Value) -> Const:
        """The data of IR constant ``v`` as a constant buffer (one per value)."""
        key = f"value:{id(v)}"
        if key not in self.p.consts:
            self.p.consts[key] = Const(key, v.dtype, np.asarray(v.data).ravel(), v.name, "weight")
        return self.p.consts[key]

    def table(self, key: str, data, dtype: DType = DType.int32) -> Const:
        """A constant buffer computed by the lowering (``key`` unique in the program)."""
        if key not in self.p.consts:
            self.p.consts[key] = Const(key, dtype, np.asarray(data).ravel(), key, "table")
        return self.p.consts[key]

    def read(self, v: Value) -> Value:
        """A tensor operand that a call reads (an IR constant becomes a constant buffer)."""
        if v is not None and v.is_const:
            self.const(v)
        return v

    # -- calls -----------------------------------------------------------------------
    def call(self, k: Kernel, scratch: int = 0, inplace_of: Optional[Value] = None,
             temporaries: bool = True) -> Kernel:
        """Append call ``k``.  ``temporaries``: its scratch holds the kernel's temporaries
        (im2col columns, packed operands, accumulators), which a target with
        ``tile_temporaries`` keeps in registers (no scratch is planned then)."""
        if temporaries and self.target.tile_temporaries:
            scratch = 0
        out = k.out
        if inplace_of is not None and (inplace_of.is_const or out is None
                                       or inplace_of.type.numel != out.type.numel
                                       or buffer_nbytes(inplace_of) < buffer_nbytes(out)):
            inplace_of = None  # elementwise kernels may narrow in place (ascending order)
        k.scratch, k.inplace_of = scratch, inplace_of
        self.p.calls.append(k)
        return k

    # -- alias groups (views) ----------------------------------------------------------
    def find(self, v: Value) -> Value:
        return self.p.root(v)

    def alias(self, node: Node, out: Value, src: Value) -> None:
        """``out`` is a view of ``src`` (same bytes); a copy where storage forbids it."""
        rs = self.find(src)
        b_src, b_out = self.p.bindings.get(id(rs)), self.p.bindings.get(id(out))
        if rs.is_const or (b_src is not None and b_out is not None):
            self.copy(node, src, out)
            return
        self.p.aliases[id(out)] = rs
        if b_out is not None:
            self.p.bindings[id(rs)] = b_out

    def copy(self, node: Node, src: Value, out: Value) -> None:
        """A plain copy of ``src`` into ``out`` (same element count)."""
        self.call(CopyNd(node=node, x=self.read(src), y=out, dims=[1, 1, 1, 1, 1, out.type.numel],
                         xs=[0, 0, 0, 0, 0, 1], offset=0, esize=self.esize(out)))

    def esize(self, v: Value) -> int:
        """Bytes per element of a tensor that data-movement kernels copy."""
        if v.dtype.bits % 8 or v.dtype.is_float:
            raise self.err(f"cannot move '{v.name}' of dtype {v.dtype.name}")
        return v.dtype.bits // 8

    def bind(self, v: Value, kind: str, index: int) -> None:
        self.p.bindings[id(v)] = (kind, index)

    def binding(self, v: Value):
        return self.p.binding(v)
