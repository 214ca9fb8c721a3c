"""On-chip layer residency (ISA v5): a conv/linear writes its requantized output straight
into the next conv/linear's input buffer (STORE ``inp = 1``), so the consumer skips the
DRAM round trip (the producer's STOREs, then the consumer's LOADs, two DMA latencies).

A pair qualifies when the consumer is the next call of the same segment and reads the
producer's whole output as its input (batch 1, int8), and the consumer's whole input fits
a *region* of the input buffer in one of two layouts (the lanes past the last channel hold
the STORE's zero point, which the consumer multiplies by zero weights):

* ``flat`` (1x1, stride-1, unpadded consumers): one plane of ``H*W`` rows per channel
  block, row = position, which the gather schedules read as their tile rows;
* ``window`` (consumers of the two-level window schedule, ``gemm_loop2d``): one padded
  window of ``rows_full x Wp`` rows per channel block, exactly the window the ``w2d``
  schedule would load for a tile of all output rows; the padding rows and columns are
  written once by padding-only LOADs (no DRAM traffic), the producer's STOREs fill the rest.

The producer may also be an elementwise call (``elem_out``: a residual add, a requantization,
a LUT pass, a global average pool) whose STOREs write whole lane blocks of positions; its
STOREs then go to the region the same way (``lower_elem.ElemLowering._store``).

The region sits at one end of the input buffer (the top, or the other end from the
producer's own resident input in a chain), the producer's own input slots share the rest.
The dependency tokens come from the stream builder: the region is a buffer resource
(rows = tensor positions, so the consumer's first tiles wait only for the STOREs of the
rows they read), and the buffer-interval overlap of ``stream.Builder`` orders it against
every other use of those input-buffer rows (docs/target_accel.md §2.4, §6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .elem_operands import reduce_view
from .isa import make

MAX_PAD = 255
MAX_ROWS = 1023      # STORE rows (10 bits)


@dataclass(frozen=True)
class OnChip:
    kind: str          # "flat" or "window"
    base: int          # first INP row of the region
    blocks: int        # channel blocks (planes)
    plane: int         # INP rows per channel block
    h: int             # the consumer's input rows / columns (the producer's output)
    w: int
    pt: int = 0        # window: padding rows above / columns left of the input
    pl: int = 0
    wp: int = 0        # window: width and rows of the full padded window
    rows_full: int = 0
    x_zp: int = 0      # the consumer's input zero point (the padding value)
    keep_dram: bool = False   # the producer also stores to DRAM (another reader needs it)

    @property
    def size(self) -> int:
        return self.blocks * self.plane

    @property
    def data_res(self):
        return ("INP", self.base, self.base + self.size, "data")

    @property
    def pad_res(self):
        return ("INP", self.base, self.base + self.size, "pad")

    def describe(self) -> str:
        shape = f"{self.rows_full}x{self.wp}" if self.kind == "window" else f"{self.h}x{self.w}"
        return (f"{self.kind} {self.blocks}x{shape} at INP rows {self.base}..{self.base + self.size - 1}"
                f"{' (and DRAM)' if self.keep_dram else ''}")

    # -- the producer's side ------------------------------------------------------------
    def offsets(self, q: np.ndarray) -> np.ndarray:
        """Row offset inside a plane of input positions ``q`` (row-major), -1 outside the
        window (input rows/columns no output of the consumer reads)."""
        if self.kind == "flat":
            return q
        ih, iw = np.divmod(q, self.w)
        r, c = ih + self.pt, iw + self.pl
        return np.where((r < self.rows_full) & (c < self.wp), r * self.wp + c, -1)

    def runs(self, nb: int, pos: int, rows: int, step: int) -> list[tuple[int, int, int, int]]:
        """(first INP row, first of the ``rows``, count, INP row step) of the on-chip STOREs
        that put output positions ``pos + r*step`` (channel block ``nb``) into the region."""
        off = self.offsets(pos + np.arange(rows) * step)
        out: list = []
        for r in range(rows):
            if off[r] < 0:
                continue
            a = self.base + nb * self.plane + int(off[r])
            if out:
                a0, r0, cnt, st = out[-1]
                if r0 + cnt == r and cnt < MAX_ROWS and (cnt == 1 and a > a0 or a == a0 + cnt * st):
                    out[-1] = (a0, r0, cnt + 1, a - a0 if cnt == 1 else st)
                    continue
            out.append((a, r, 1, 1))
        return out

    def pad_runs(self) -> list[tuple[int, int]]:
        """(first INP row, count) of the region's padding rows (window layout)."""
        if self.kind != "window":
            return []
        keep = np.zeros((self.rows_full, self.wp), bool)
        rows = slice(self.pt, min(self.rows_full, self.pt + self.h))
        keep[rows, self.pl:min(self.wp, self.pl + self.w)] = True
        pad = ~keep.ravel()
        out: list = []
        for b in range(self.blocks):
            for i in np.flatnonzero(pad):
                a = self.base + b * self.plane + int(i)
                if out and out[-1][0] + out[-1][1] == a and out[-1][1] < MAX_PAD:
                    out[-1] = (out[-1][0], out[-1][1] + 1)
                else:
                    out.append((a, 1))
        return out


def plan(prod, cons, hw, in_spec: OnChip | None, keep_dram: bool,
         reserve: int = 0) -> OnChip | None:
    """The region for the consumer ``cons`` of ``prod``'s output (GemmLayers), or None when the
    pair does not qualify or does not fit.  ``in_spec``: the producer's own resident input;
    ``reserve``: rows the producer needs between the two regions (a fused add's operands)."""
    from .gemm_loop2d import geometry, loop2d_ok

    d = hw.dim
    if not hw.onchip_store or prod.n != 1 or cons.n != 1 or prod.out_dtype != "i8":
        return None
    if (cons.h, cons.w, cons.c) != (prod.oh, prod.ow, prod.m):
        return None
    blocks = -(-cons.c // d)
    flat = cons.kh == cons.kw == 1 and tuple(cons.stride) == (1, 1) and not any(cons.pads)
    if flat and (cons.group == 1 or cons.group == cons.c == cons.m):
        spec = dict(kind="flat", blocks=blocks, plane=cons.h * cons.w, h=cons.h, w=cons.w)
    elif not flat and loop2d_ok(cons):
        rows_full, wp = geometry(cons, cons.oh)
        spec = dict(kind="window", blocks=blocks, plane=rows_full * wp, h=cons.h, w=cons.w,
                    pt=cons.pads[0], pl=cons.pads[1], wp=wp, rows_full=rows_full)
    else:
        return None
    size = spec["blocks"] * spec["plane"]
    n = hw.inp_rows
    if in_spec is None:        # at the top; the producer's own input slots below it
        if size > n // 2:
            return None
        base = n - size
    elif in_spec.base == 0:   # the other end from the producer's resident input
        base = n - size
        if base < in_spec.size + reserve:
            return None
    else:
        base = 0
        if size + reserve > in_spec.base:
            return None
    return OnChip(base=base, x_zp=cons.x_zp, keep_dram=keep_dram, **spec)


def emit_pads(e, spec: OnChip) -> None:
    """The LD group that writes the region's padding rows (no DRAM traffic)."""
    runs = spec.pad_runs()
    if not runs:
        return
    g = e.b.group("ld", writes=[spec.pad_res])
    for a, k in runs:
        g.add(make("LOAD", buf="INP", sram=a, pad_before=k, pad_val=spec.x_zp,
                   note="resident window padding"))


# -- the pairs (called by the whole-model rendering, program.py) ---------------------------
def _read_elsewhere(ctx, v, consumer) -> bool:
    """Whether the tensor of ``v`` is a graph output or read by a call other than
    ``consumer`` (then it is stored to DRAM too)."""
    kp = ctx.kp
    r = kp.root(v).name
    if any(kp.root(bd.value).name == r for bd in kp.outputs):
        return True
    return any(c is not consumer and not w and not u.is_const and kp.root(u).name == r
               for c in kp.calls for u, w in c.tensors())


def fusable_lut(ctx, call, nxt):
    """The LUT call right after a conv/linear that its STOREs can apply (v5 ``lut``): it
    reads the int8 output, which nothing else reads, and writes a tensor of the same
    layout; None otherwise."""
    from .gemm_emit import _own_rows
    from .layout import ISA_DTYPE

    kp = ctx.kp
    if not ctx.hw.store_lut or not nxt or len(nxt) != 1:
        return None
    u = nxt[0]
    if u.family != "lut" or ctx.why_host(u) is not None \
            or kp.root(u.x).name != kp.root(call.y).name or tuple(u.x.shape) != tuple(call.y.shape):
        return None
    if call.y.dtype.name != "int8" or u.x.dtype.name != "int8" \
            or ISA_DTYPE.get(u.y.dtype) not in ("i8", "u8", "i16"):
        return None
    yr, ur = ctx.region(call.y), ctx.region(u.y)
    if not (_own_rows(yr, yr.rows) and _own_rows(ur, yr.rows) and ur.lanes == yr.lanes
            and ur.layout == yr.layout) or _read_elsewhere(ctx, call.y, u):
        return None
    return u


def resident_out(ctx, call, ly, nxt, in_spec, yv, reserve: int = 0) -> OnChip | None:
    """The next layer's resident input region that the STOREs of ``call`` (GemmLayer ``ly``,
    output ``yv``) fill, or None: the next call must be a conv/linear of this segment
    reading this output as its whole input, and its input must fit the buffer.  The
    consumer is prepared here (``ctx._prepared``) with ``extra["resident_in"]``."""
    from .gemm_emit import _own_rows

    if not nxt or len(nxt) != 1:
        return None
    c = nxt[0]
    kp = ctx.kp
    if c.family not in ("conv2d", "linear") or ctx.why_host(c) is not None \
            or kp.root(c.x).name != kp.root(yv).name:
        return None
    cl = _consumer(ctx, c)
    if not (_own_rows(ctx.region(yv), ly.n * ly.oh * ly.ow)
            and _own_rows(ctx.region(c.x), cl.n * cl.h * cl.w)):
        return None
    return _adopt(ctx, cl, plan(ly, cl, ctx.hw, in_spec, _read_elsewhere(ctx, yv, c), reserve))


MEAN_FAMILIES = ("global_avgpool", "reduce")


def mean_in(ctx, call, ly, nxt, in_spec, yv, reserve: int = 0) -> OnChip | None:
    """The flat region (one plane of positions per channel block) that the STOREs of
    ``call`` (GemmLayer ``ly``, output ``yv``) fill for the global mean right after it, or
    None: the mean reads this whole int8 output of one image and it fits the buffer.  The
    mean then copies each plane into the accumulator with one GEMM by an identity block
    (``lower_elem.ElemLowering.global_avgpool``) instead of loading it from DRAM: the conv's
    DRAM STORE and the mean's LOADs, two DMA latencies, drop out (only where those GEMMs take
    fewer cycles than the latencies and the LOADs)."""
    from types import SimpleNamespace

    from .gemm_emit import _own_rows

    if not nxt or len(nxt) != 1:
        return None
    c = nxt[0]
    kp = ctx.kp
    if c.family not in MEAN_FAMILIES or ctx.why_host(c) is not None \
            or kp.root(c.x).name != kp.root(yv).name or yv.dtype.name != "int8" \
            or tuple(c.x.shape) != (1, ly.m, ly.oh, ly.ow):
        return None
    if c.family == "reduce" and reduce_view(ctx, c) != (1, ly.oh * ly.ow, ly.m):
        return None   # a reduction over other axes than the spatial ones
    if not (_own_rows(ctx.region(yv), ly.n * ly.oh * ly.ow) and _own_rows(ctx.region(c.x), ly.oh * ly.ow)):
        return None
    if not identity_pays(ctx.hw, ly.oh * ly.ow, -(-ly.m // ctx.hw.dim)):
        return None
    cons = SimpleNamespace(n=1, h=ly.oh, w=ly.ow, c=ly.m, m=ly.m, kh=1, kw=1, stride=(1, 1),
                           pads=(0, 0, 0, 0), group=1, x_zp=int(c.x_zp))
    return plan(ly, cons, ctx.hw, in_spec, _read_elsewhere(ctx, yv, c), reserve)


def identity_pays(hw, pos: int, blocks: int) -> bool:
    """Whether a global mean over ``pos`` positions of ``blocks`` channel blocks reads its input
    on chip (``mean_in``) by cost: the identity GEMMs (every block's plane through the array)
    against what they replace, the DMA latency of the conv's last DRAM STORE, then the mean's
    LOADs of every block (issued back to back) and their DMA latency."""
    from .timing import gemm_cycles
    loads = blocks * (hw.dma_overhead + -(-pos * hw.dim // hw.dram_bytes_per_cycle))
    return hw.onchip_store and gemm_cycles(pos, blocks, hw) <= 2 * hw.dma_latency + loads


def _consumer(ctx, c):
    """The consumer conv/linear ``c`` prepared once per lowering (``ctx._prepared``)."""
    from .lower_gemm import prepare

    cl = ctx._prepared.get(id(c)) or prepare(c, ctx.ap.plan, ctx.hw)
    ctx._prepared[id(c)] = cl
    return cl


def _adopt(ctx, cl, spec) -> OnChip | None:
    """Give the prepared consumer ``cl`` the resident input ``spec`` if it still has a tiling
    with it; else leave ``cl`` as it was and return None."""
    from .lower_gemm import candidates

    if spec is None:
        return None
    cl.extra["resident_in"] = spec
    if not candidates(cl, ctx.hw):
        del cl.extra["resident_in"]
        return None
    return spec


# the elementwise families whose output STOREs write whole lane blocks of positions (the
# lanes past the channels get the STORE's zero point; the consumer's weights there are 0)
ELEM_FAMILIES = ("binary", "requant", "lut", "global_avgpool", "reduce")


def _whole_rows(ctx, v, rows: int, lanes: int) -> bool:
    """``v``'s region holds ``rows`` positions of ``lanes`` channels in the order of its root:
    its own buffer, or a view of a root whose positions have no spatial extent (a Flatten
    of a global pool's [N, C, 1, 1])."""
    from .gemm_emit import _own_rows
    r = ctx.region(v)
    if r.rows != rows or r.lanes != lanes:
        return False
    rs = r.root_shape
    return _own_rows(r, rows) or (rs is not None and len(rs) >= 2 and int(np.prod(rs[2:])) == 1
                                  and rs[0] == rows and rs[1] == lanes)


def elem_out(ctx, call, nxt, in_spec: OnChip | None = None) -> OnChip | None:
    """The resident input region of the next conv/linear that the output STOREs of the
    elementwise ``call`` fill (ISA v5 STORE ``inp``), or None; the consumer is prepared
    (``ctx._prepared``) with ``extra["resident_in"]``.  ``in_spec``: ``call``'s own input
    on chip (a global mean's, ``mean_in``), which it still reads while its first STOREs run:
    the region goes to the other end of the buffer, clear of it, or there is none."""
    from types import SimpleNamespace

    if call.family not in ELEM_FAMILIES or not ctx.hw.onchip_store or not nxt or len(nxt) != 1:
        return None
    c, y = nxt[0], call.out
    kp = ctx.kp
    if c.family not in ("conv2d", "linear") or ctx.why_host(c) is not None \
            or kp.root(c.x).name != kp.root(y).name or y.dtype.name != "int8":
        return None
    cl = _consumer(ctx, c)
    rows = cl.n * cl.h * cl.w
    if not (_whole_rows(ctx, y, rows, cl.c) and _whole_rows(ctx, c.x, rows, cl.c)):
        return None
    if call.family == "reduce" and reduce_view(ctx, call)[::2] != (rows, cl.c):
        return None   # its STOREs write other rows than the consumer's positions
    prod = SimpleNamespace(n=cl.n, oh=cl.h, ow=cl.w, m=cl.c, out_dtype="i8")
    return _adopt(ctx, cl, plan(prod, cl, ctx.hw, in_spec, _read_elsewhere(ctx, y, c)))
