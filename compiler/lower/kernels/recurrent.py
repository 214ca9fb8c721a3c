"""Integer recurrent kernels: LSTM and GRU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from qcc.ir import Value

from .base import Const, Kernel, _in, _out


@dataclass(eq=False, kw_only=True)
class Lstm(Kernel):
    """Integer LSTM (``qcc.lstm``, docs/integer_ops.md "Recurrent"): x ``[seq, batch, in]``,
    gate rows ``w [dirs, 4*hid, in]``, ``r [dirs, 4*hid, hid]``, ``bias [dirs, 4*hid]`` (Q3.12),
    per-row requant of the x path (``mx``/``sx``) and the h path (``mh``/``sh``) to Q3.12,
    int16 ``sigmoid``/``tanh`` tables [513], optional ``h0``/``c0``; outputs ``y``
    ``[seq, dirs, batch, hid]``, ``yh`` (the hidden state, updated in place) and ``yc``.
    ``xpath`` (``Target.rnn_xpath``): ``"step"``: the scratch holds one time step's gate
    terms; ``"sequence"``: the scratch holds the x-path gate terms of every step, int32
    ``[dirs, seq, batch, gates*hid]`` (a GEMM per direction fills it before the recurrence)."""

    family: ClassVar[str] = "lstm"
    x: Value = _in()
    w: Const = _in()
    r: Const = _in()
    bias: Const = _in()
    mx: Const = _in()
    sx: Const = _in()
    mh: Const = _in()
    sh: Const = _in()
    h0: Optional[Value] = _in()
    c0: Optional[Value] = _in()
    sigmoid: Const = _in()
    tanh: Const = _in()
    y: Value = _out()
    yh: Value = _out()
    yc: Value = _out()
    seq: int = 0
    batch: int = 0
    inputs: int = 0
    hidden: int = 0
    dirs: int = 1
    reverse: bool = False
    x_zp: int = 0
    h_zp: int = 0
    cell_frac: int = 11
    mo: int = 0
    so: int = 1
    xpath: str = "step"


@dataclass(eq=False, kw_only=True)
class Gru(Kernel):
    """Integer GRU (``qcc.gru``): as :class:`Lstm` with 3 gate rows (z r h), separate x-path
    and h-path biases ``bx``/``bh`` and ``linear_before_reset``; outputs ``y`` and ``yh``."""

    family: ClassVar[str] = "gru"
    x: Value = _in()
    w: Const = _in()
    r: Const = _in()
    bx: Const = _in()
    bh: Const = _in()
    mx: Const = _in()
    sx: Const = _in()
    mh: Const = _in()
    sh: Const = _in()
    h0: Optional[Value] = _in()
    sigmoid: Const = _in()
    tanh: Const = _in()
    y: Value = _out()
    yh: Value = _out()
    seq: int = 0
    batch: int = 0
    inputs: int = 0
    hidden: int = 0
    dirs: int = 1
    reverse: bool = False
    x_zp: int = 0
    h_zp: int = 0
    linear_before_reset: int = 0
    mo: int = 0
    so: int = 1
    xpath: str = "step"
