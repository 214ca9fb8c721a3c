"""The C program: the kernel program (``qcc.lower``) rendered into C terms.

Every call of the kernel program becomes a :class:`Step` (the C function, its parameter
struct type and initializer values, its operands as C expressions); every constant buffer
a :class:`ConstArray` (a named C array in ``NAME_weights.c``); every boundary tensor an
:class:`IoSpec` (its C pointer type).  Which C kernel renders which family is in
``calls.py``; the arena offsets come from the kernel program's memory plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node, Value
from qcc.lower.program import buffer_nbytes

CTYPES = {DType.int8: "int8_t", DType.uint8: "uint8_t", DType.int16: "int16_t",
          DType.int32: "int32_t", DType.int64: "int64_t", DType.float32: "float",
          DType.int4: "int8_t", DType.int2: "int8_t", DType.bool: "uint8_t"}
DT_CODES = {DType.int8: "QCC_I8", DType.uint8: "QCC_U8", DType.int16: "QCC_I16",
            DType.int32: "QCC_I32", DType.int64: "QCC_I64", DType.bool: "QCC_U8"}


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
    cargs: list = field(default_factory=list)
    call: object = None  # the qcc.lower kernel call


@dataclass
class ConstArray:
    cname: str
    ctype: str
    data: np.ndarray
    source: str
    guard: str = ""   # a macro of NAME_weights.h: the array exists only where it is defined


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
    consts: dict = field(default_factory=dict)   # kernel-program const key -> ConstArray
    kernels: set = field(default_factory=set)
    arena: int = 0
    lower_bound: int = 0
    strategy: str = ""
    offsets: dict = field(default_factory=dict)
    extra_info: dict = field(default_factory=dict)
    kernel_program: object = None


def c_nbytes(v: Value) -> int:
    """Bytes of a value in the arena (``qcc.lower.program.buffer_nbytes``)."""
    return buffer_nbytes(v)


def cident(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_") or "t"
    return s if not s[0].isdigit() else "t" + s


def dtype_code(dt: DType) -> str:
    if dt not in DT_CODES:
        raise LoweringError(f"target c: dtype {dt.name} has no C kernel type")
    return DT_CODES[dt]
