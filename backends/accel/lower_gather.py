"""Rendering of ``gather`` (onnx Gather with run-time indices, e.g. an embedding lookup) with
ISA v2's indexed load (docs/target_accel.md §7).

The indices are loaded into accumulator rows (lane 0; an int64 index as its two 32-bit
words in lanes 0 and 1, by a stride-8 DMA), CONFIG GATHER sets the size of the gathered
axis, and one LOADX per outer slice and block of DIM lanes fetches the selected table rows
(negative indices count from the end, out-of-range ones are errors, as in the reference);
a STORE with the identity epilogue writes them to the output.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType

from .isa import make
from .layout import ESIZE, ISA_DTYPE
from .lower_elem import IDENTITY, MAX_ROWS

INDEX_DTYPES = (DType.int32, DType.int64)


def _plain(ctx, v) -> bool:
    r = ctx.region(v)
    return r.compat and r.layout == "rm"


def _rows_per_chunk(ctx, call) -> int:
    nlb = -(-call.inner // ctx.hw.dim)
    return max(0, min(MAX_ROWS, ctx.hw.acc_rows // 2 // (1 + call.outer * nlb)))


def check_gather(ctx, call) -> str | None:
    if call.indices.is_const:
        return "constant indices (an index map)"
    if call.indices.dtype not in INDEX_DTYPES:
        return f"indices of dtype {call.indices.dtype.name}"
    for v in (call.indices, call.y) + (() if call.data.is_const else (call.data,)):
        if not _plain(ctx, v):
            return f"'{v.name}' is not a plain row-major tensor in DRAM"
    if call.inner * ESIZE[ISA_DTYPE[call.data.dtype]] * call.axis >= 1 << 32 or call.axis >= 1 << 31:
        return "the table is larger than the 32-bit DRAM addresses"
    return None if _rows_per_chunk(ctx, call) else "the gathered rows do not fit the accumulator"


class GatherLowering:
    FAMILIES = ("gather",)

    def __init__(self, ctx, elem):
        self.ctx, self.elem = ctx, elem
        self.d = ctx.hw.dim
        self.half = ctx.hw.acc_rows // 2
        self.aslot = 0

    def _table(self, call):
        """(DRAM address, dtype, resource to wait for) of the data tensor."""
        ctx = self.ctx
        dt = ISA_DTYPE[call.data.dtype]
        if call.data.is_const:
            arr = np.asarray(ctx.kp.const_of(call.data).data).reshape(-1, call.inner)
            reg = ctx.ap.plan.add_const(call.node.name + ".table", arr.astype(call.data.dtype.np), dt)
            return reg.addr, dt, None
        return ctx.region(call.data).addr, dt, ctx.res(call.data)

    def lower(self, call) -> None:
        ctx, d = self.ctx, self.d
        addr, dt, dres = self._table(call)
        es = ESIZE[dt]
        ri, ry = ctx.region(call.indices), ctx.region(call.y)
        wide = call.indices.dtype == DType.int64
        self.elem._config_st(0, call.y.dtype.min, call.y.dtype.max, *IDENTITY,
                             note=f"gather {call.node.name}")
        nlb = -(-call.inner // d)
        nmax = _rows_per_chunk(ctx, call)
        reads = [ctx.res(call.indices)] + ([dres] if dres else [])
        for k0 in range(0, call.idx_count, nmax):
            n = min(nmax, call.idx_count - k0)
            base, slot = (self.aslot % 2) * self.half, ("ACC", self.aslot % 2)
            self.aslot += 1
            g = ctx.b.group("ex", reads=reads, writes=[slot])
            g.add(make("CONFIG", reg="GATHER", a=call.axis, note=f"{call.axis} table rows"))
            g.add(make("LOAD", buf="ACC", dtype="i32", sram=base, dram=ri.addr + k0 * ri.esize,
                       rows=n, cols=2 if wide else 1, stride=ri.esize,
                       note=f"indices {k0}+{n}{' (int64: low, high words)' if wide else ''}"))
            st = ctx.b.group("st", reads=[slot], writes=[ctx.res(call.y)])
            for o in range(call.outer):
                for lb in range(nlb):
                    cols = min(d, call.inner - lb * d)
                    dst = base + n * (1 + o * nlb + lb)
                    g.add(make("LOADX", dtype=dt, dst=dst, idx=base, rows=n, wide=int(wide),
                               dram=addr + (o * call.axis * call.inner + lb * d) * es,
                               stride=call.inner * es, cols=cols, note=f"rows of {call.data.name}"))
                    y0 = ((o * call.idx_count + k0) * call.inner + lb * d) * ry.esize
                    st.add(make("STORE", dtype=ry.dtype, sram=dst, dram=ry.addr + y0, rows=n,
                                cols=cols, stride=call.inner * ry.esize,
                                note=f"{call.y.name} rows {k0}+{n}"))
