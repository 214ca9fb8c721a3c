"""qcc.lower: the target-neutral lowering layer between the integer IR and the backends.

``lower(graph, name, target, support)`` turns a quantized graph into a
:class:`KernelProgram`: a schedule of typed kernel calls (:mod:`qcc.lower.kernels`) over
abstract buffers with one memory plan (boundary, views, liveness, in-place reuse,
scratch), sized and tiled by the backend's :class:`Target` description.  Every backend
(C, Triton, accelerator) renders that program (docs/lowering.md).

It imports the core (``qcc.ir``, ``qcc.ops``, ``qcc.arith``) and never ``qcc.passes``,
``qcc.backends`` or ``qcc.bench``.
"""

from .kernels import FAMILIES, Const, Epilogue, Grouping, Kernel, imm
from .lowering import lower
from .program import Boundary, KernelProgram, Loc, MemoryPlan, buffer_nbytes
from .support import Support
from .target import DEFAULT, Target

__all__ = ["FAMILIES", "Boundary", "Const", "DEFAULT", "Epilogue", "Grouping", "Kernel",
           "KernelProgram", "Loc", "MemoryPlan", "Support", "Target", "buffer_nbytes", "imm",
           "lower"]
