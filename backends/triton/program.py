"""The Triton program of an integer graph: the shared kernel program, rendered.

``build_program`` lowers the graph with ``qcc.lower`` (the Triton :data:`TARGET_DESC` and
:data:`SUPPORT`), then turns every kernel program call into one or more kernel launches
with the renderer of its family (``render_*.py``, :data:`RENDER`), and places every
operand in one workspace: the kernel program's arena (its memory plan, offsets as
planned) followed by one buffer per program input and output.  Nothing here reads IR
nodes or attributes: the kernel program is the whole interface (docs/lowering.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from qcc.errors import LoweringError
from qcc.ir import DType, Graph, Value
from qcc.lower import KernelProgram, lower

from .render_dense import RENDER as _DENSE
from .render_elem import RENDER as _ELEM
from .render_row import RENDER as _ROW
from .render import TORCH_DTYPES
from .target import SUPPORT, TARGET_DESC

RENDER = {**_DENSE, **_ELEM, **_ROW}


@dataclass
class Act:
    """An activation operand of a launch: ``value`` at ``offset`` elements into its storage
    (the slab of a concat destination), seen as ``shape`` (None: the value's own); or the
    call's scratch (``value`` None) at ``offset`` bytes, ``dtype``/``shape`` given."""

    value: Optional[Value]
    offset: int = 0
    shape: Optional[tuple] = None
    dtype: str = ""


@dataclass
class IoSpec:
    name: str              # graph input/output name
    value: Value           # the integer value the program reads/writes
    dtype: str             # its torch dtype name
    offset: int = 0        # workspace byte offset of its buffer
    scale: Optional[float] = None
    zero_point: int = 0
    qmin: int = 0
    qmax: int = 0


@dataclass
class Launch:
    index: int             # kernel program call it renders
    call: object           # the kernel program call (qcc.lower.kernels)
    kernel: object         # the Triton launch (calls.Call)


@dataclass
class Program:
    name: str
    kp: KernelProgram
    launches: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    workspace: int = 0
    lower_bound: int = 0
    strategy: str = ""
    io_base: dict = field(default_factory=dict)   # ("input"|"output", index) -> byte offset

    def offset_of(self, v: Value) -> int:
        """Workspace byte offset of value ``v``'s storage."""
        loc = self.kp.location(v)
        if loc.space == "arena":
            return loc.offset
        return self.io_base[(loc.space, loc.index)]


def ws_dtype(v: Value) -> str:
    if v.dtype not in TORCH_DTYPES:
        raise LoweringError(f"target triton: value '{v.name}' has dtype {v.dtype.name}, which "
                            f"no kernel stores")
    return "uint8" if v.dtype is DType.bool else TORCH_DTYPES[v.dtype]


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


def build_program(graph: Graph, name: str) -> Program:
    kp = lower(graph, name, TARGET_DESC, SUPPORT)
    return render_program(kp)


def render_program(kp: KernelProgram) -> Program:
    p = Program(kp.name, kp)
    mp = kp.plan
    p.lower_bound, p.strategy = mp.lower_bound, mp.strategy
    end = _align(mp.arena, kp.target.align)
    for space, bounds, dest in (("input", kp.inputs, p.inputs), ("output", kp.outputs, p.outputs)):
        for k, b in enumerate(bounds):
            v = b.value
            p.io_base[(space, k)] = end
            dt = v.dtype
            scaled = b.scale is not None
            dest.append(IoSpec(b.graph_name, v, TORCH_DTYPES.get(dt, dt.name), end, b.scale,
                               b.zero_point, int(dt.min) if space == "input" else 0,
                               int(dt.max) if space == "input" else 0))
            if not scaled and dt not in TORCH_DTYPES:
                raise LoweringError(f"target triton: {space} '{b.graph_name}' has dtype "
                                    f"{dt.name}")
            end = _align(end + v.type.numel * max(dt.bits, 8) // 8, kp.target.align)
    p.workspace = end
    for i, call in enumerate(kp.calls):
        for launch in RENDER[call.family](kp, i, call):
            p.launches.append(Launch(i, call, launch))
    return p
