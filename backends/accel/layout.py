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


def is_dram_type(v: Value) -> bool:
    return v.dtype in ISA_DTYPE


def rows_lanes(shape) -> tuple[int, int]:
    shape = tuple(int(x) for x in shape)
    if len(shape) == 4:
        n, c, h, w = shape
        return n * h * w, c
    if not shape:
        return 1, 1
    return int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]


def to_rows(a: np.ndarray) -> np.ndarray:
    """The DRAM element order of a tensor as a [rows, lanes] array."""
    r, l = rows_lanes(a.shape)
    if a.ndim == 4:
        a = a.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(a).reshape(r, l)


def from_rows(m: np.ndarray, shape) -> np.ndarray:
    shape = tuple(int(x) for x in shape)
    if len(shape) == 4:
        n, c, h, w = shape
        return m.reshape(n, h, w, c).transpose(0, 3, 1, 2).copy()
    return m.reshape(shape).copy()


def same_bytes(a_shape, b_shape) -> bool:
    """True when two shapes of one element sequence have the same DRAM layout."""
    def canon(s):
        s = tuple(int(x) for x in s)
        return len(s) == 4 and s[2] * s[3] != 1 and s[1] != 1
    return not canon(a_shape) and not canon(b_shape)


@dataclass
class Region:
    name: str
    addr: int
    nbytes: int
    dtype: str = "i8"          # ISA dtype of the elements
    shape: tuple = ()
    rows: int = 0
    lanes: int = 0

    @property
    def esize(self) -> int:
        return {"i8": 1, "u8": 1, "i16": 2, "i32": 4}[self.dtype]

    @property
    def pitch(self) -> int:
        return self.lanes * self.esize


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass
class DramPlan:
    """The activation arena at address 0, then the constants one after another."""
    const_blobs: list = field(default_factory=list)   # (Region, bytes)
    const_size: int = 0
    arena_size: int = 0

    @property
    def const_base(self) -> int:
        return _align(self.arena_size)

    def add_const(self, name: str, data: np.ndarray, dtype: str = "i8", rows: int = 0,
                  lanes: int = 0) -> Region:
        raw = np.ascontiguousarray(data).tobytes()
        reg = Region(name, self.const_base + self.const_size, len(raw), dtype, tuple(data.shape),
                     rows, lanes)
        self.const_blobs.append((reg, raw))
        self.const_size = _align(self.const_size + len(raw))
        return reg

    def image(self) -> np.ndarray:
        img = np.zeros(self.const_base + self.const_size, np.uint8)
        for reg, raw in self.const_blobs:
            img[reg.addr:reg.addr + len(raw)] = np.frombuffer(raw, np.uint8)
        return img


def plan_arena(order: list[Value], last_use: dict[str, int], first_def: dict[str, int],
               aliases: dict[str, str], pinned: set) -> tuple[dict, int]:
    """First-fit offsets for tensors by lifetime; aliases share their root's region.

    ``pinned`` names live for the whole program (graph inputs/outputs).  Returns
    ({name: (offset, nbytes)}, arena size).
    """
    end = max(last_use.values(), default=0) + 1
    items = []
    for v in order:
        if v.name in aliases:
            continue
        r, l = rows_lanes(v.shape)
        nbytes = _align(r * l * np.dtype(v.dtype.np).itemsize)
        lo = 0 if v.name in pinned else first_def.get(v.name, 0)
        hi = end if v.name in pinned else last_use.get(v.name, lo)
        items.append((v.name, nbytes, lo, hi))
    placed: list[tuple[int, int, int, int]] = []  # offset, size, lo, hi
    out = {}
    for name, size, lo, hi in sorted(items, key=lambda t: -t[1]):
        busy = sorted((o, o + s) for o, s, l2, h2 in placed if not (h2 < lo or hi < l2))
        off = 0
        for a, b in busy:
            if off + size <= a:
                break
            off = max(off, b)
        placed.append((off, size, lo, hi))
        out[name] = (off, size)
    total = max((o + s for o, s, _, _ in placed), default=0)
    return out, _align(total)
