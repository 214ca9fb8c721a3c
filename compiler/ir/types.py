"""Element types, tensor types and quantization parameters of the IR."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from onnx import TensorProto


class DType(enum.Enum):
    """Element types.  ``int4``/``int2`` hold their values unpacked in an int8
    numpy array inside the compiler; backends pack them (low bits first)."""

    float32 = ("f32", np.float32, 32, TensorProto.FLOAT)
    float16 = ("f16", np.float16, 16, TensorProto.FLOAT16)
    float64 = ("f64", np.float64, 64, TensorProto.DOUBLE)
    int64 = ("i64", np.int64, 64, TensorProto.INT64)
    int32 = ("i32", np.int32, 32, TensorProto.INT32)
    int16 = ("i16", np.int16, 16, TensorProto.INT16)
    int8 = ("i8", np.int8, 8, TensorProto.INT8)
    uint8 = ("u8", np.uint8, 8, TensorProto.UINT8)
    uint16 = ("u16", np.uint16, 16, TensorProto.UINT16)
    uint32 = ("u32", np.uint32, 32, TensorProto.UINT32)
    uint64 = ("u64", np.uint64, 64, TensorProto.UINT64)
    int4 = ("i4", np.int8, 4, TensorProto.INT4)
    int2 = ("i2", np.int8, 2, getattr(TensorProto, "INT2", TensorProto.INT8))
    bool = ("bool", np.bool_, 1, TensorProto.BOOL)
    string = ("str", np.object_, 0, TensorProto.STRING)

    def __init__(self, short: str, np_type, bits: int, onnx_type: int):
        self.short = short
        self.np = np.dtype(np_type)
        self.bits = bits
        self.onnx = onnx_type

    @property
    def is_float(self) -> bool:
        return self in (DType.float32, DType.float16, DType.float64)

    @property
    def is_int(self) -> bool:
        return not self.is_float and self not in (DType.bool, DType.string)

    @property
    def min(self) -> int:
        if self is DType.int4:
            return -8
        if self is DType.int2:
            return -2
        return int(np.iinfo(self.np).min)

    @property
    def max(self) -> int:
        if self is DType.int4:
            return 7
        if self is DType.int2:
            return 1
        return int(np.iinfo(self.np).max)

    @staticmethod
    def from_short(s: str) -> "DType":
        try:
            return _BY_SHORT[s]
        except KeyError:
            raise ValueError(f"unknown dtype '{s}'") from None

    @staticmethod
    def from_numpy(dt) -> "DType":
        dt = np.dtype(dt)
        for d in _NUMPY_ORDER:
            if d.np == dt:
                return d
        raise ValueError(f"numpy dtype {dt} has no IR dtype")

    @staticmethod
    def from_onnx(t: int) -> "DType":
        try:
            return _BY_ONNX[t]
        except KeyError:
            raise ValueError(f"ONNX element type {TensorProto.DataType.Name(t)} is not supported") from None


_BY_SHORT = {d.short: d for d in DType}
_BY_ONNX = {d.onnx: d for d in DType if not (d is DType.int2 and d.onnx == TensorProto.INT8)}
# preferred IR dtype for a numpy dtype (int8 arrays are int8, not int4)
_NUMPY_ORDER = [DType.float32, DType.float16, DType.float64, DType.int64, DType.int32,
                DType.int16, DType.int8, DType.uint8, DType.uint16, DType.uint32,
                DType.uint64, DType.bool, DType.string]


@dataclass(frozen=True)
class TensorType:
    """A static tensor type: element type and shape (a tuple of ints)."""

    dtype: DType
    shape: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        """Storage size in bytes (sub-byte types packed)."""
        return (self.numel * self.dtype.bits + 7) // 8

    def __str__(self) -> str:
        return f"{self.dtype.short}[{','.join(str(d) for d in self.shape)}]"


@dataclass
class QParams:
    """Quantization parameters: ``real = scale * (q - zero_point)``.

    ``scale``/``zero_point`` are 1-D arrays: length 1 for per-tensor, the size
    of ``axis`` for per-channel, or ``shape[axis] * ceil(K/group_size)`` laid
    out ``[channel, group]`` for per-group weights (groups run along the
    reduction axis ``group_axis``).
    """

    scale: np.ndarray
    zero_point: np.ndarray
    bits: int = 8
    axis: Optional[int] = None
    group_size: Optional[int] = None
    group_axis: Optional[int] = None
    signed: bool = True

    def __post_init__(self):
        self.scale = np.atleast_1d(np.asarray(self.scale, dtype=np.float64))
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64))
        if self.zero_point.size == 1 and self.scale.size > 1:
            self.zero_point = np.full(self.scale.shape, int(self.zero_point[0]), np.int64)

    @property
    def per_tensor(self) -> bool:
        return self.axis is None and self.group_size is None

    @property
    def qmin(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def __str__(self) -> str:
        parts = []
        if self.scale.size == 1:
            parts.append(f"s={float(self.scale[0]):.9g}")
            parts.append(f"zp={int(self.zero_point[0])}")
        else:
            parts.append(f"s=[{self.scale.size}]")
        if self.axis is not None:
            parts.append(f"axis={self.axis}")
        if self.group_size is not None:
            parts.append(f"g={self.group_size}")
        if self.bits != 8:
            parts.append(f"b={self.bits}")
        return "{" + ",".join(parts) + "}"
