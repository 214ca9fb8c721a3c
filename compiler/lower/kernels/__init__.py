"""The kernel program's calls: one typed, target-neutral dataclass per kernel family.

A call names its tensor operands by IR :class:`~qcc.ir.Value` (activations: their storage
comes from the memory plan, see :mod:`qcc.lower.program`), its constant operands by
:class:`Const` (a constant buffer of the program, or an immediate a backend passes by
value), its scalars as Python ints and its element types as IR :class:`~qcc.ir.DType`.
Nothing here names a C type, a C function or a struct field: a backend maps each family
to its kernel (docs/lowering.md).

Every requantizing family shares one :class:`Epilogue` record:
``y = clamp(zero_point + rshift_round(acc * mult, shift), lo, hi)`` with the arithmetic of
docs/arithmetic.md (``qcc.arith``).

Operand order: :meth:`Kernel.operands` lists the tensor/constant/scratch fields in
declaration order; tensor inputs come before the outputs, which the memory plan relies on.

The families live in one module per group (``base``: the shared records; ``dense``,
``elementwise``, ``movement``, ``logic``, ``transformer``, ``recurrent``); every name is
importable from ``qcc.lower.kernels`` itself.
"""

from __future__ import annotations

from .base import Const, Epilogue, Grouping, Kernel, Residual, _in, _out, imm
from .dense import Conv2d, ConvGeometry, ConvTranspose2d, Linear, Matmul
from .elementwise import (ArgMax, Binary, ConcatPart, GlobalAvgPool, Lut, Pool, Reduce, Requant,
                          Resize)
from .movement import CopyNd, Gather, GatherTable
from .logic import Logic, LOGIC_OPS, Threshold
from .transformer import IGelu, ILayerNorm, ISoftmax
from .recurrent import Gru, Lstm

__all__ = ["Const", "Epilogue", "Residual", "Grouping", "Kernel", "imm", "_in", "_out",
           "ConvGeometry", "Conv2d", "ConvTranspose2d", "Linear", "Matmul", "Binary", "Requant",
           "Lut", "ConcatPart", "Pool", "GlobalAvgPool", "Reduce", "ArgMax", "Resize", "CopyNd",
           "GatherTable", "Gather", "LOGIC_OPS", "Logic", "Threshold", "ISoftmax", "IGelu",
           "ILayerNorm", "Lstm", "Gru", "FAMILIES"]

FAMILIES = {k.family: k for k in (
    Conv2d, ConvTranspose2d, Linear, Matmul, Binary, Requant, Lut, ConcatPart, Pool,
    GlobalAvgPool, Reduce, ArgMax, Resize, CopyNd, GatherTable, Gather, Logic, Threshold,
    ISoftmax, IGelu, ILayerNorm, Lstm, Gru)}
