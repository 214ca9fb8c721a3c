"""Data-movement kernels: strided copies, index tables, run-time gathers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from qcc.ir import Value

from .base import Const, Kernel, _in, _out


@dataclass(eq=False, kw_only=True)
class CopyNd(Kernel):
    """Strided copy: ``y[i] = x[offset + i . xs]`` over ``dims`` (folded, padded to 6);
    ``esize`` bytes per element."""

    family: ClassVar[str] = "copy"
    x: Value = _in()
    y: Value = _out()
    dims: list = None
    xs: list = None
    offset: int = 0
    esize: int = 1


@dataclass(eq=False, kw_only=True)
class GatherTable(Kernel):
    """``y[i] = x[index[i]]`` (``index[i] == -1``: ``fill``), a constant index map."""

    family: ClassVar[str] = "gather_table"
    x: Value = _in()
    index: Const = _in()
    y: Value = _out()
    count: int = 0
    esize: int = 1
    fill: int = 0


@dataclass(eq=False, kw_only=True)
class Gather(Kernel):
    """onnx Gather with run-time indices over [outer, axis, inner]."""

    family: ClassVar[str] = "gather"
    data: Value = _in()
    indices: Value = _in()
    y: Value = _out()
    outer: int = 0
    axis: int = 0
    inner: int = 0
    idx_count: int = 0
    esize: int = 1
