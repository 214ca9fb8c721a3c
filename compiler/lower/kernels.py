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
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar, Optional

import numpy as np

from qcc.ir import DType, Node, Value


@dataclass(eq=False)
class Const:
    """A constant operand.

    ``resident``: a constant buffer of the program (``KernelProgram.consts``, emitted once
    into the weights image and shared by every call that names it); otherwise an immediate
    (a few values a backend passes by value, e.g. a per-tensor multiplier).
    ``kind``: ``"weight"`` (the data of an IR constant named ``source``) or ``"table"``
    (computed by the lowering: packed weight rows, index maps, offsets; ``key`` is unique).
    """

    key: str
    dtype: DType
    data: np.ndarray
    source: str
    kind: str = "table"
    resident: bool = True

    @property
    def values(self) -> list[int]:
        return [int(v) for v in np.asarray(self.data).ravel()]

    @property
    def scalar(self) -> int:
        return int(np.asarray(self.data).ravel()[0])


def imm(values, dtype: DType = DType.int32) -> Const:
    """An immediate (not in the constant image)."""
    arr = np.asarray(values, dtype.np).ravel()
    return Const("", dtype, arr, "", "imm", resident=False)


@dataclass(eq=False)
class Epilogue:
    """The requantization every family shares (one record, per-tensor or per-channel).

    ``mult``/``shift`` ``None``: no requantization, the call writes its int32 accumulators.
    ``lo``/``hi``: the clamp (the fused activation's bounds within ``out_dtype``).
    ``bias``: int32 per output channel added to the accumulators (conv/linear), else None.
    """

    out_dtype: DType
    mult: Optional[Const] = None
    shift: Optional[Const] = None
    per_channel: bool = False
    zero_point: int = 0
    lo: int = 0
    hi: int = 0
    bias: Optional[Const] = None

    @property
    def requant(self) -> bool:
        return self.mult is not None


@dataclass(eq=False)
class Residual:
    """A requantized ``add``/``sub`` folded into the epilogue of the call that makes one of
    its operands (``Target.fuse_residual``, :mod:`qcc.lower.fuse`).  The call first computes
    its own output ``y0`` exactly as unfused (epilogue, clamp, ``Epilogue.out_dtype``), then

    ``out = clamp(zero_point + rshift_round((y0 - y_zp) * m_y +- (r - r_zp) * m_r, shift),
    lo, hi)`` as ``out_dtype``

    (``+`` for add, ``-`` for sub with ``y0`` on the left), the add's own single rounding
    (docs/integer_ops.md); the call's output field is then the add's output.  ``node``: the
    add/sub node it implements."""

    node: Node
    op: str
    r: Value
    m_y: int
    m_r: int
    shift: int
    y_zp: int
    r_zp: int
    out_dtype: DType
    zero_point: int = 0
    lo: int = 0
    hi: int = 0


@dataclass
class Grouping:
    """Per-group weight scales along the reduction axis (``--group-size``): ``gmult`` [M, ng]."""

    gmult: Const
    size: int
    shift: int
    groups: int


def _in():
    return field(metadata={"io": "in"})


def _out():
    return field(metadata={"io": "out"})


@dataclass(eq=False, kw_only=True)
class Kernel:
    """Base of every call.  ``node``: the IR node it implements (several calls may share one,
    e.g. the parts of a concat).  ``scratch``: bytes of per-call scratch (planned in the
    arena, live during the call only).  ``inplace_of``: an input whose storage the output may
    take over (the kernel is safe when the two overlap exactly)."""

    family: ClassVar[str] = ""
    node: Node
    scratch: int = 0
    inplace_of: Optional[Value] = None

    def operands(self) -> list[tuple[str, object, bool]]:
        """(field, Value | Const | None, is_output) of every operand field, inputs first,
        each group in declaration order; a fused residual's operand is ``residual.r``."""
        ins, outs = [], []
        for f in fields(self):
            io = f.metadata.get("io")
            v = getattr(self, f.name)
            if io is not None:
                (outs if io == "out" else ins).append((f.name, v, io == "out"))
            elif isinstance(v, Residual):
                ins.append((f"{f.name}.r", v.r, False))
        return ins + outs

    def tensors(self) -> list[tuple[Value, bool]]:
        return [(v, w) for _, v, w in self.operands() if isinstance(v, Value)]

    def consts(self) -> list[Const]:
        """Every resident constant buffer the call reads (operand fields, the epilogue's
        multiplier/shift/bias, per-group scales), in field order, without repeats."""
        found: list = []

        def add(c):
            if isinstance(c, Const) and c.resident and all(c is not f for f in found):
                found.append(c)

        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Epilogue):
                for c in (v.bias, v.mult, v.shift):
                    add(c)
            elif isinstance(v, Grouping):
                add(v.gmult)
            else:
                add(v)
        return found

    @property
    def out(self) -> Optional[Value]:
        return next((v for v, w in self.tensors() if w), None)

    @property
    def acc_bits(self) -> int:
        """32, or 64 when the node has the widened accumulator (docs/arithmetic.md §5.1)."""
        return 64 if int(self.node.attrs.get("acc_bits", 32) or 32) == 64 else 32



# ------------------------------------------------------------------------ dense (NCHW)
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


@dataclass(eq=False, kw_only=True)
class ConvTranspose2d(Kernel):
    family: ClassVar[str] = "conv_transpose2d"
    x: Value = _in()
    w: Const = _in()          # the IR weight [C, M/group, kH, kW], int8
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


# -------------------------------------------------------------------------- elementwise
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
    """y = table[x] (8-bit input; the table is indexed by the unsigned byte of x)."""

    family: ClassVar[str] = "lut"
    x: Value = _in()
    table: Const = _in()
    y: Value = _out()
    count: int = 0


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


# --------------------------------------------------------------------------- data movement
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


# ------------------------------------------------------------------------ integer logic
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


# -------------------------------------------------------------------------- transformer
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


# ---------------------------------------------------------------------------- recurrent
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


FAMILIES = {k.family: k for k in (
    Conv2d, ConvTranspose2d, Linear, Matmul, Binary, Requant, Lut, ConcatPart, Pool,
    GlobalAvgPool, Reduce, ArgMax, Resize, CopyNd, GatherTable, Gather, Logic, Threshold,
    ISoftmax, IGelu, ILayerNorm, Lstm, Gru)}
