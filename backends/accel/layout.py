"""Tensor layouts in DRAM and the DRAM image plan (docs/target_accel.md §5).

Every integer tensor is a matrix of ``rows x lanes`` elements, row-major, with
no padding: a rank-4 NCHW tensor is stored NHWC (``rows = N*H*W``, ``lanes =
C``), any other rank keeps its own order (``lanes`` = the last axis).  A
buffer row holds up to DIM lanes of one DRAM row, so a channel block of a
position is one DMA row.  The image is ``[activation arena | constants]``;
arena offsets come from tensor lifetimes (first fit over the schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcc.ir import DType, Value

ALIGN = 64
ISA_DTYPE = {DType.int8: "i8", DType.uint8: "u8", DType.int16: "i16", DType.int32: "i32"}
ESIZE = {"i8": 1, "u8": 1, "i16": 2, "i32": 4}


def is_dram_type(v: Value) -> bool:
    return v.dtype in ISA_DTYPE


def rows_lanes(shape, cl: bool = True) -> tuple[int, int]:
    """The DRAM matrix of a tensor: channels-last ``N*H*W x C`` for a 4-D tensor stored
    channels-last (or whose H*W or C is 1: the bytes are the same), else row-major with
    ``lanes`` = the last axis."""
    shape = tuple(int(x) for x in shape)
    if len(shape) == 4 and (cl or not canonical(shape)):
        n, c, h, w = shape
        return n * h * w, c
    if not shape:
        return 1, 1
    return int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]


def to_rows(a: np.ndarray, cl: bool = True) -> np.ndarray:
    """The DRAM element order of a tensor as a [rows, lanes] array."""
    r, l = rows_lanes(a.shape, cl)
    if a.ndim == 4 and cl:
        a = a.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(a).reshape(r, l)


def from_rows(m: np.ndarray, shape, cl: bool = True) -> np.ndarray:
    shape = tuple(int(x) for x in shape)
    if len(shape) == 4 and cl:
        n, c, h, w = shape
        return m.reshape(n, h, w, c).transpose(0, 3, 1, 2).copy()
    return m.reshape(shape).copy()


def canonical(shape) -> bool:
    """True when a tensor of this shape is stored channels-last (NHWC) rather than row-major."""
    s = tuple(int(x) for x in shape)
    return len(s) == 4 and s[2] * s[3] != 1 and s[1] != 1


def phys_positions(shape, cl: bool = True) -> np.ndarray:
    """Physical element position in DRAM of every logical (row-major) element."""
    s = tuple(int(x) for x in shape)
    n = int(np.prod(s, dtype=np.int64)) if s else 1
    if not cl or not canonical(s):
        return np.arange(n, dtype=np.int64)
    order = np.arange(n, dtype=np.int64).reshape(s).transpose(0, 2, 3, 1).ravel()
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n, dtype=np.int64)
    return pos


@dataclass
class Region:
    """A tensor in DRAM.  ``shape``/``rows``/``lanes``: its own layout; ``root_shape``: the
    shape of the buffer whose bytes it shares (a view: Reshape, Flatten, ...), whose layout
    decides where each element is; ``cl``: the root is stored channels-last (4-D tensors that
    a convolution or pooling reads or writes, and those tied to them by elementwise ops),
    otherwise row-major; ``compat``: the tensor is a plain ``rows x lanes`` matrix of its
    own shape."""
    name: str
    addr: int
    nbytes: int
    dtype: str = "i8"          # ISA dtype of the elements (or a numpy dtype name off the ISA)
    shape: tuple = ()
    rows: int = 0
    lanes: int = 0
    root_shape: tuple = None
    cl: bool = True

    @property
    def esize(self) -> int:
        return ESIZE.get(self.dtype) or np.dtype(self.dtype).itemsize

    @property
    def compat(self) -> bool:
        rs = self.shape if self.root_shape is None else tuple(self.root_shape)
        return tuple(rs) == tuple(self.shape) or not (self.cl and canonical(rs)) and \
            not (self.cl and canonical(self.shape))

    @property
    def layout(self) -> str:
        """``"cl"`` (a channels-last 4-D matrix) or ``"rm"`` (row-major)."""
        return "cl" if self.cl and canonical(self.shape) else "rm"

    def positions(self) -> np.ndarray:
        """Physical element position of every logical element of this tensor."""
        return phys_positions(self.shape if self.root_shape is None else self.root_shape,
                              self.cl)

    @property
    def pitch(self) -> int:
        return self.lanes * self.esize


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass
class DramPlan:
    """The activation arena of the shared memory plan at address 0, the caller's input and
    output buffers after it, then the constants one after another."""
    const_blobs: list = field(default_factory=list)   # (Region, bytes)
    const_size: int = 0
    arena_size: int = 0
    io_size: int = 0
    lazy: dict = field(default_factory=dict)           # name -> (data, dtype): not placed yet
    placed: dict = field(default_factory=dict)         # name -> Region of a placed lazy one

    @property
    def io_base(self) -> int:
        return _align(self.arena_size)

    def add_io(self, nbytes: int) -> int:
        """Address of a new input/output buffer (before any constant is added)."""
        assert not self.const_blobs, "input/output buffers go before the constants"
        addr = self.io_base + self.io_size
        self.io_size = _align(self.io_size + max(nbytes, 1))
        return addr

    @property
    def const_base(self) -> int:
        return _align(self.io_base + self.io_size)

    def add_const(self, name: str, data: np.ndarray, dtype: str = "i8", rows: int = 0,
                  lanes: int = 0) -> Region:
        raw = np.ascontiguousarray(data).tobytes()
        reg = Region(name, self.const_base + self.const_size, len(raw), dtype, tuple(data.shape),
                     rows, lanes)
        self.const_blobs.append((reg, raw))
        self.const_size = _align(self.const_size + len(raw))
        return reg

    def lazy_const(self, name: str, data: np.ndarray, dtype: str = "i8") -> Region:
        """A constant that takes DRAM only once ``place`` places it: a conv's weights in a
        form that only some schedules read (the packed taps, the im2col rows, the plain
        blocks), prepared before its tiling is chosen.  Until then the Region has address 0
        (the tile search simulates its LOADs: their cost depends on sizes, not addresses)."""
        raw = np.ascontiguousarray(data)
        self.lazy[name] = (raw, dtype)
        return Region(name, 0, raw.nbytes, dtype, tuple(raw.shape))

    def place(self, reg: Region) -> Region:
        """The placed Region of the lazy constant ``reg`` (placed now if it is not yet)."""
        if reg.name not in self.placed:
            raw, dtype = self.lazy.pop(reg.name)
            self.placed[reg.name] = self.add_const(reg.name, raw, dtype)
        return self.placed[reg.name]

    def const_once(self, name: str, data: np.ndarray, dtype: str = "i8") -> Region:
        """A constant shared by every call that asks for it by ``name`` (placed once)."""
        if name not in self.placed:
            self.placed[name] = self.add_const(name, data, dtype)
        return self.placed[name]

    def image(self) -> np.ndarray:
        img = np.zeros(self.const_base + self.const_size, np.uint8)
        for reg, raw in self.const_blobs:
            img[reg.addr:reg.addr + len(raw)] = np.frombuffer(raw, np.uint8)
        return img
