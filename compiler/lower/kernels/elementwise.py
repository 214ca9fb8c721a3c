"""Elementwise, pooling, reduction and resize kernels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from qcc.ir import Value

from .base import Const, Epilogue, Kernel, _in, _out


@dataclass(eq=False, kw_only=True)
class Binary(Kernel):
    """Broadcast binary op over ``dims`` (folded, padded to 4) with element strides ``sa``/``sb``.
    ``op``: add | sub | mul (requantized: ``epi.mult`` holds [ma] or [ma, mb]) | max | min
    (raw values, no epilogue)."""

    family: ClassVar[str] = "binary"
    op: str = "add"
    a: Value = _in()
    b: Value = _in()
    y: Value = _out()
    dims: list = None
    sa: list = None
    sb: list = None
    a_zp: int = 0
    b_zp: int = 0
    epi: Epilogue = None


@dataclass(eq=False, kw_only=True)
class Requant(Kernel):
    """y = epilogue(x - x_zp) over [outer, channels, inner] (per-channel along ``channels``)."""

    family: ClassVar[str] = "requant"
    x: Value = _in()
    y: Value = _out()
    outer: int = 1
    channels: int = 1
    inner: int = 1
    x_zp: int = 0
    epi: Epilogue = None


@dataclass(eq=False, kw_only=True)
class Lut(Kernel):
    """y = table[x] (8-bit input; the table is indexed by the unsigned byte of x).  With
    ``channels`` > 1 the table is ``[channels, 256]`` and x is ``[outer, channels, inner]``:
    each channel's ``inner`` elements use their own row (``Target.lut_per_channel``)."""

    family: ClassVar[str] = "lut"
    x: Value = _in()
    table: Const = _in()
    y: Value = _out()
    count: int = 0
    channels: int = 1
    inner: int = 0


@dataclass(eq=False, kw_only=True)
class ConcatPart(Kernel):
    """One input of a concat: ``inner`` elements per outer row, written at ``offset`` of each
    ``stride``-long output row, requantized by ``epi``."""

    family: ClassVar[str] = "concat"
    x: Value = _in()
    y: Value = _out()
    outer: int = 0
    inner: int = 0
    stride: int = 0
    offset: int = 0
    x_zp: int = 0
    epi: Epilogue = None


@dataclass(eq=False, kw_only=True)
class Pool(Kernel):
    """2-D pooling, NCHW.  ``op``: avg (``epi.mult``/``shift`` per-tensor arrays) | max."""

    family: ClassVar[str] = "pool"
    op: str = "max"
    x: Value = _in()
    y: Value = _out()
    n: int = 0
    c: int = 0
    h: int = 0
    w: int = 0
    oh: int = 0
    ow: int = 0
    kh: int = 0
    kw: int = 0
    sh: int = 1
    sw: int = 1
    pt: int = 0
    pl: int = 0
    include_pad: bool = False
    x_zp: int = 0
    epi: Epilogue = None


@dataclass(eq=False, kw_only=True)
class GlobalAvgPool(Kernel):
    family: ClassVar[str] = "global_avgpool"
    x: Value = _in()
    y: Value = _out()
    planes: int = 0
    size: int = 0
    x_zp: int = 0
    epi: Epilogue = None


@dataclass(eq=False, kw_only=True)
class Reduce(Kernel):
    """Reduce over the folded ``dims`` (padded to 6) into the output strides ``ys`` (0: reduced).
    ``op``: mean (requantized sum) | max | min."""

    family: ClassVar[str] = "reduce"
    op: str = "mean"
    x: Value = _in()
    y: Value = _out()
    dims: list = None
    ys: list = None
    out_count: int = 0
    x_zp: int = 0
    epi: Epilogue = None


@dataclass(eq=False, kw_only=True)
class ArgMax(Kernel):
    family: ClassVar[str] = "argmax"
    x: Value = _in()
    y: Value = _out()
    outer: int = 0
    n: int = 0
    inner: int = 0
    is_min: bool = False
    select_last: bool = False


@dataclass(eq=False, kw_only=True)
class Resize(Kernel):
    """2-D resize of ``planes`` planes.  ``mode``: nearest (``ty``/``tx``: source row/column
    of each output row/column) | linear (``ty``/``tx``: [2, out] of index and weight)."""

    family: ClassVar[str] = "resize"
    mode: str = "nearest"
    x: Value = _in()
    ty: Const = _in()
    tx: Const = _in()
    y: Value = _out()
    planes: int = 0
    h: int = 0
    w: int = 0
    oh: int = 0
    ow: int = 0
    x_zp: int = 0
    lo: int = -128
    hi: int = 127
