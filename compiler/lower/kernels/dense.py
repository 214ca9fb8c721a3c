"""Dense kernels (NCHW): convolution, transposed convolution, linear, matmul."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

from qcc.ir import Value

from .base import Const, Epilogue, Grouping, Kernel, Residual, _in, _out


@dataclass(eq=False)
class ConvGeometry:
    n: int
    c: int
    h: int
    w: int
    m: int
    oh: int
    ow: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pl: int
    group: int


@dataclass(eq=False, kw_only=True)
class Conv2d(Kernel):
    """2-D convolution, NCHW, weights as rows [M, C/group*kH*kW] (packed for 4/2 bits).

    ``algo``: ``"im2col"`` (``block`` output positions per im2col block), ``"direct"``
    (weight-stationary) or ``"depthwise"`` (phase planes); chosen by the target's tiling."""

    family: ClassVar[str] = "conv2d"
    x: Value = _in()
    w: Const = _in()
    y: Value = _out()
    geom: ConvGeometry = None
    x_zp: int = 0
    epi: Epilogue = None
    wbits: int = 8
    grouping: Optional[Grouping] = None
    block: int = 0
    algo: str = "direct"
    residual: Optional[Residual] = None
    pw_cols: int = 0  # a pointwise conv's GEMM scratch columns (0: rules_nn.PW_DSP_COLS)


@dataclass(eq=False, kw_only=True)
class ConvTranspose2d(Kernel):
    """Transposed 2-D convolution, NCHW.  ``w``: the IR weight ``[C, M/group, kH, kW]``, or
    with ``phases`` (``Target.convt_phases``) the int8 conv2d weight rows of every output
    phase and ``phases`` their int32 geometry table (:mod:`qcc.lower.convt_phases`);
    ``phase_scratch``: the byte offset of the phases' conv2d scratch in the call's scratch
    (after the buffer of one phase's outputs)."""

    family: ClassVar[str] = "conv_transpose2d"
    x: Value = _in()
    w: Const = _in()
    phases: Optional[Const] = field(default=None, metadata={"io": "in"})
    phase_scratch: int = 0
    y: Value = _out()
    geom: ConvGeometry = None
    x_zp: int = 0
    epi: Epilogue = None
    residual: Optional[Residual] = None


@dataclass(eq=False, kw_only=True)
class Linear(Kernel):
    """y[rows, n] = x[rows, k] @ w[k, n]; ``w`` stored transposed as rows [n, k] (packed)."""

    family: ClassVar[str] = "linear"
    x: Value = _in()
    w: Const = _in()
    y: Value = _out()
    rows: int = 0
    k: int = 0
    n: int = 0
    x_zp: int = 0
    epi: Epilogue = None
    wbits: int = 8
    grouping: Optional[Grouping] = None
    residual: Optional[Residual] = None


@dataclass(eq=False, kw_only=True)
class Matmul(Kernel):
    """Batched a[.., m, k] @ b[.., k, n] of two tensors; ``a_off``/``b_off``: element offset
    of each broadcast batch; ``packed``: b is transposed into scratch first (tiling)."""

    family: ClassVar[str] = "matmul"
    a: Value = _in()
    b: Value = _in()
    a_off: Const = _in()
    b_off: Const = _in()
    y: Value = _out()
    batch: int = 0
    m: int = 0
    k: int = 0
    n: int = 0
    a_zp: int = 0
    b_zp: int = 0
    epi: Epilogue = None
    packed: bool = False
    residual: Optional[Residual] = None
