"""Integer transformer kernels: softmax, GELU, LayerNorm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from qcc.ir import Value

from .base import Const, Epilogue, Kernel, _in, _out


@dataclass(eq=False, kw_only=True)
class ISoftmax(Kernel):
    """Integer softmax along the last axis (``length``), rows over ``dims`` (padded to 3);
    optional 8-bit mask broadcast with row strides ``ms`` and element stride ``ml``.
    ``inner`` > 1 (``Target.softmax_any_axis``, no mask): the normalized axis is not the
    last; ``dims`` = ``[1, outer, inner]`` and element ``j`` of row ``(o, i)`` is at
    ``(o * length + j) * inner + i``."""

    family: ClassVar[str] = "isoftmax"
    x: Value = _in()
    mask: Optional[Value] = _in()
    y: Value = _out()
    dims: list = None
    ms: list = None
    ml: int = 0
    length: int = 0
    variant: str = "ibert"
    frac_bits: int = 0
    d_clip: int = 0
    z_max: int = 0
    q_ln2: int = 1
    q_b: int = 0
    q_c: int = 0
    e_shift: int = 0
    epi: Epilogue = None
    inner: int = 1


@dataclass(eq=False, kw_only=True)
class IGelu(Kernel):
    family: ClassVar[str] = "igelu"
    x: Value = _in()
    y: Value = _out()
    count: int = 0
    x_zp: int = 0
    q_l: int = 0
    c1: int = 0
    f_shift: int = 0
    x_max: int = 0
    epi: Epilogue = None


@dataclass(eq=False, kw_only=True)
class ILayerNorm(Kernel):
    family: ClassVar[str] = "ilayernorm"
    x: Value = _in()
    gamma: Const = _in()
    beta: Const = _in()
    y: Value = _out()
    rows: int = 0
    length: int = 0
    x_zp: int = 0
    cl: int = 0
    sh_eps: int = 0
    eps_frac: int = 32
    eps_q: int = 0
    epi: Epilogue = None
