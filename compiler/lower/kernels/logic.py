"""Raw-integer logic kernels and the threshold step function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from qcc.ir import Value

from .base import Const, Kernel, _in, _out


LOGIC_OPS = ("equal", "less", "less_equal", "greater", "greater_equal", "and", "or", "xor",
             "bitwise_and", "bitwise_or", "bitwise_xor", "add", "sub", "mul", "not",
             "bitwise_not", "cast", "to_bool", "where")


@dataclass(eq=False, kw_only=True)
class Logic(Kernel):
    """Raw-integer ops on up to three broadcast operands (numpy semantics: wrap around, bool
    as one byte 0/1); ``op`` one of :data:`LOGIC_OPS`."""

    family: ClassVar[str] = "logic"
    op: str = "equal"
    a: Value = _in()
    b: Optional[Value] = _in()
    c: Optional[Value] = _in()
    y: Value = _out()
    dims: list = None
    sa: list = None
    sb: list = None
    sc: list = None


@dataclass(eq=False, kw_only=True)
class Threshold(Kernel):
    """y = values[#(thresholds <= x)]: a monotone step function of an integer tensor."""

    family: ClassVar[str] = "threshold"
    x: Value = _in()
    thresholds: Const = _in()
    values: Const = _in()
    y: Value = _out()
    count: int = 0
    nt: int = 0
