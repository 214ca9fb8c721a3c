"""The records every kernel family shares: constant operands, the epilogue, the fused
residual, the grouping, and the :class:`Kernel` base class (operands in declaration order)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar, Optional

import numpy as np

from qcc.ir import DType, Node, Value


@dataclass(eq=False)
class Const:
    """A constant operand.

    ``resident``: a constant buffer of the program (``KernelProgram.consts``, emitted once
    into the weights image and shared by every call that names it); otherwise an immediate
    (a few values a backend passes by value, e.g. a per-tensor multiplier).
    ``kind``: ``"weight"`` (the data of an IR constant named ``source``) or ``"table"``
    (computed by the lowering: packed weight rows, index maps, offsets; ``key`` is unique).
    """

    key: str
    dtype: DType
    data: np.ndarray
    source: str
    kind: str = "table"
    resident: bool = True

    @property
    def values(self) -> list[int]:
        return [int(v) for v in np.asarray(self.data).ravel()]

    @property
    def scalar(self) -> int:
        return int(np.asarray(self.data).ravel()[0])


def imm(values, dtype: DType = DType.int32) -> Const:
    """An immediate (not in the constant image)."""
    arr = np.asarray(values, dtype.np).ravel()
    return Const("", dtype, arr, "", "imm", resident=False)


@dataclass(eq=False)
class Epilogue:
    """The requantization every family shares (one record, per-tensor or per-channel).

    ``mult``/``shift`` ``None``: no requantization, the call writes its int32 accumulators.
    ``lo``/``hi``: the clamp (the fused activation's bounds within ``out_dtype``).
    ``bias``: int32 per output channel added to the accumulators (conv/linear), else None.
    """

    out_dtype: DType
    mult: Optional[Const] = None
    shift: Optional[Const] = None
    per_channel: bool = False
    zero_point: int = 0
    lo: int = 0
    hi: int = 0
    bias: Optional[Const] = None

    @property
    def requant(self) -> bool:
        return self.mult is not None


@dataclass(eq=False)
class Residual:
    """A requantized ``add``/``sub`` folded into the epilogue of the call that makes one of
    its operands (``Target.fuse_residual``, :mod:`qcc.lower.fuse`).  The call first computes
    its own output ``y0`` exactly as unfused (epilogue, clamp, ``Epilogue.out_dtype``), then

    ``out = clamp(zero_point + rshift_round((y0 - y_zp) * m_y +- (r - r_zp) * m_r, shift),
    lo, hi)`` as ``out_dtype``

    (``+`` for add, ``-`` for sub with ``y0`` on the left), the add's own single rounding
    (docs/integer_ops.md); the call's output field is then the add's output.  ``node``: the
    add/sub node it implements."""

    node: Node
    op: str
    r: Value
    m_y: int
    m_r: int
    shift: int
    y_zp: int
    r_zp: int
    out_dtype: DType
    zero_point: int = 0
    lo: int = 0
    hi: int = 0


@dataclass
class Grouping:
    """Per-group weight scales along the reduction axis (``--group-size``): ``gmult`` [M, ng]."""

    gmult: Const
    size: int
    shift: int
    groups: int


def _in():
    return field(metadata={"io": "in"})


def _out():
    return field(metadata={"io": "out"})


@dataclass(eq=False, kw_only=True)
class Kernel:
    """Base of every call.  ``node``: the IR node it implements (several calls may share one,
    e.g. the parts of a concat).  ``scratch``: bytes of per-call scratch (planned in the
    arena, live during the call only).  ``inplace_of``: an input whose storage the output may
    take over (the kernel is safe when the two overlap exactly).  ``wider``: larger scratch
    sizes the kernel can use, best first, as ``(bytes, field, value)``: the memory plan
    grants the first that fits its arena at the call and sets ``field`` to ``value``
    (:func:`qcc.lower.plan.widen_scratch`)."""

    family: ClassVar[str] = ""
    node: Node
    scratch: int = 0
    inplace_of: Optional[Value] = None
    wider: tuple = ()

    def operands(self) -> list[tuple[str, object, bool]]:
        """(field, Value | Const | None, is_output) of every operand field, inputs first,
        each group in declaration order; a fused residual's operand is ``residual.r``."""
        ins, outs = [], []
        for f in fields(self):
            io = f.metadata.get("io")
            v = getattr(self, f.name)
            if io is not None:
                (outs if io == "out" else ins).append((f.name, v, io == "out"))
            elif isinstance(v, Residual):
                ins.append((f"{f.name}.r", v.r, False))
        return ins + outs

    def tensors(self) -> list[tuple[Value, bool]]:
        return [(v, w) for _, v, w in self.operands() if isinstance(v, Value)]

    def consts(self) -> list[Const]:
        """Every resident constant buffer the call reads (operand fields, the epilogue's
        multiplier/shift/bias, per-group scales), in field order, without repeats."""
        found: list = []

        def add(c):
            if isinstance(c, Const) and c.resident and all(c is not f for f in found):
                found.append(c)

        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Epilogue):
                for c in (v.bias, v.mult, v.shift):
                    add(c)
            elif isinstance(v, Grouping):
                add(v.gmult)
            else:
                add(v)
        return found

    @property
    def out(self) -> Optional[Value]:
        return next((v for v, w in self.tensors() if w), None)

    @property
    def acc_bits(self) -> int:
        """32, or 64 when the node has the widened accumulator (docs/arithmetic.md §5.1)."""
        return 64 if int(self.node.attrs.get("acc_bits", 32) or 32) == 64 else 32
