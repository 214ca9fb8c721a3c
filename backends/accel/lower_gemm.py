"""Lowering of ``qcc.conv2d`` / ``qcc.linear`` to tiled, double-buffered GEMM streams.

A conv is an implicit GEMM: output positions are GEMM rows, K is enumerated
as weight blocks ``(u, v, cb)`` (kernel tap, block of DIM input channels) and
the input rows of a block are gathered by 2-D strided LOADs that insert the
padding (value: the input zero point).  Grouped and depthwise convs keep only
the weight blocks whose channels meet a group of the output block, so a
depthwise conv is a per-block schedule of diagonal blocks.  ``qcc.linear`` is a
1x1 conv over ``rows`` positions.  The zero point of the input is folded into
the bias (``bias - x_zp * sum(w)``), so the array multiplies raw int8 values;
the STORE epilogue adds the bias and requantizes per channel
(docs/target_accel.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from types import SimpleNamespace

from qcc import arith
from qcc.errors import LoweringError
from qcc.ir import DType
from qcc.lower.kernels import Const, Conv2d, ConvGeometry, Epilogue, imm

from .hw import HwConfig
from .isa import make
from .layout import ISA_DTYPE, DramPlan, Region

MAX_PAD = 255
MAX_DMA_ROWS = 1023


@dataclass
class GemmLayer:
    name: str
    n: int
    h: int
    w: int
    c: int
    oh: int
    ow: int
    m: int
    kh: int
    kw: int
    stride: tuple
    pads: tuple
    dil: tuple
    group: int
    x_zp: int
    kblocks: list                 # (u, v, cb)
    rel: list                     # per n-block: indices into kblocks
    woff: list                    # per n-block: first weight block in the DRAM region
    wreg: Region = None
    preg: Region = None
    out_dtype: str = "i8"
    mode: str = "channel"
    clamp: tuple = (0, -128, 127)  # zp, lo, hi
    macs: int = 0
    kind: str = "conv"
    extra: dict = field(default_factory=dict)

    @property
    def nblocks(self) -> int:
        return len(self.rel)


def unpack_rows(w, rows: int, bits: int) -> np.ndarray:
    """The weight rows of a kernel-program table ([rows, K] packed little-endian per row for
    4/2 bits, two's complement fields) as int8 [rows, K_bytes * 8 / bits]."""
    raw = np.asarray(w.data).view(np.int8).reshape(rows, -1)
    if bits == 8:
        return raw
    per = 8 // bits
    u = raw.view(np.uint8).astype(np.int64)[:, :, None] >> (np.arange(per) * bits)
    f = (u & ((1 << bits) - 1)).reshape(rows, -1)
    return np.where(f >= 1 << (bits - 1), f - (1 << bits), f).astype(np.int8)


def _conv_geometry(call):
    """Geometry dict and the weights [M, C/group, kH, kW] of a conv2d / linear call."""
    if call.family == "linear":
        wd = unpack_rows(call.w, call.n, call.wbits)[:, :call.k][:, :, None, None]
        return dict(n=1, h=1, w=call.rows, c=call.k, oh=1, ow=call.rows, stride=(1, 1),
                    pads=(0, 0, 0, 0), dil=(1, 1), group=1, kind="linear"), wd
    g = call.geom
    cg = g.c // g.group
    wd = unpack_rows(call.w, g.m, call.wbits)[:, :cg * g.kh * g.kw].reshape(g.m, cg, g.kh, g.kw)
    return dict(n=g.n, h=g.h, w=g.w, c=g.c, oh=g.oh, ow=g.ow, stride=(g.sh, g.sw),
                pads=(g.pt, g.pl, 0, 0), dil=(g.dh, g.dw), group=g.group, kind="conv"), wd


def conv_call(name: str, x, wdata: np.ndarray, y, stride=(1, 1), pads=(0, 0), group: int = 1,
              x_zp: int = 0, mult=None, shift=None, bias=None, zero_point: int = 0):
    """A stand-alone conv2d call of the kernel program (weights int8 [M, C/group, kH, kW];
    ``mult``/``shift`` None: raw int32 accumulators), for layer-level tools and tests."""
    n, c, h, w = x.shape
    m, _, kh, kw = wdata.shape
    geom = ConvGeometry(n, c, h, w, m, y.shape[2], y.shape[3], kh, kw, stride[0], stride[1],
                        1, 1, pads[0], pads[1], group)
    dt = y.dtype
    epi = Epilogue(dt, lo=dt.min, hi=dt.max)
    if mult is not None:
        epi = Epilogue(dt, imm(mult), imm(shift), per_channel=np.size(mult) > 1,
                       zero_point=zero_point, lo=dt.min, hi=dt.max)
    if bias is not None:
        epi.bias = imm(bias)
    wc = Const(f"{name}.w", DType.int8, np.asarray(wdata, np.int8).reshape(m, -1).ravel(), name)
    node = SimpleNamespace(name=name, op="qcc.conv2d")
    return Conv2d(node=node, x=x, w=wc, y=y, geom=geom, x_zp=x_zp, epi=epi)


def check_gemm(call) -> str | None:
    """Why a conv2d/linear call cannot run on the array (None when it can)."""
    if call.grouping is not None:
        return "per-group (gmult) weights"
    if call.x.dtype.name != "int8":
        return f"input dtype {call.x.dtype.name} (the array multiplies int8)"
    if call.out.dtype not in ISA_DTYPE:
        return f"output dtype {call.out.dtype.name}"
    return None


def _blocks(wd: np.ndarray, geo: dict, d: int):
    """Weight blocks [nN, kh, kw, nC, D(k), D(n)] of the group-expanded weight, and rel."""
    m, cg, kh, kw = wd.shape
    c, g = geo["c"], geo["group"]
    mg = m // g
    nN, nC = -(-m // d), -(-c // d)
    dense = np.zeros((nN * d, nC * d, kh, kw), np.int8)
    for gi in range(g):
        dense[gi * mg:(gi + 1) * mg, gi * cg:(gi + 1) * cg] = wd[gi * mg:(gi + 1) * mg]
    blk = dense.reshape(nN, d, nC, d, kh, kw).transpose(0, 4, 5, 2, 3, 1)
    kblocks = [(u, v, cb) for u in range(kh) for v in range(kw) for cb in range(nC)]
    rel = []
    for nb in range(nN):
        ms = np.arange(nb * d, min(m, nb * d + d))
        groups = np.unique(ms // mg)
        chans = np.zeros(nC * d, bool)
        for gi in groups:
            chans[gi * cg:(gi + 1) * cg] = True
        live = chans.reshape(nC, d).any(axis=1)
        rel.append([j for j, (_, _, cb) in enumerate(kblocks) if live[cb]])
    return blk, kblocks, rel


def int32_plan(call, wd: np.ndarray | None = None):
    """Proof that a conv/linear with an int64 accumulator (``acc_bits=64``) is exact on the
    int32 array: per output channel, the range of ``folded bias + x @ w`` over every int8
    input either lies inside int32 (the array's modulo-2^32 sums are then exact), or its
    requantized output is one constant (monotone in the accumulator: its ends agree), which
    the layer then produces from zero weights and an identity scale.  Returns the mask of
    constant channels and their values, or None when neither holds for some channel."""
    if wd is None:
        wd = _conv_geometry(call)[1]
    m = wd.shape[0]
    w2 = wd.reshape(m, -1).astype(np.int64)
    epi = call.epi
    bias = np.asarray(epi.bias.data, np.int64) if epi.bias is not None else np.zeros(m, np.int64)
    folded = bias - int(call.x_zp) * w2.sum(axis=1)
    lo = folded + np.where(w2 > 0, -128 * w2, 127 * w2).sum(axis=1)
    hi = folded + np.where(w2 > 0, 127 * w2, -128 * w2).sum(axis=1)
    inside = (lo >= arith.INT32_MIN) & (hi <= arith.INT32_MAX)
    if inside.all():
        return np.zeros(m, bool), np.zeros(m, np.int64)
    if not epi.requant:
        return None
    mult = np.broadcast_to(np.asarray(epi.mult.data, np.int64), (m,))
    shift = np.broadcast_to(np.asarray(epi.shift.data, np.int64), (m,))
    if (mult < 0).any():
        return None
    try:
        ys = [arith.requantize_wide(v, mult, shift, int(epi.zero_point), int(epi.lo),
                                    int(epi.hi)) for v in (lo, hi)]
    except Exception:   # |acc| * m would leave int64: no proof
        return None
    const = ~inside & (ys[0] == ys[1])
    if (~inside & ~const).any():
        return None
    return const, np.asarray(ys[0], np.int64)


def _epilogue_params(call, m: int, x_zp: int, wd: np.ndarray, const=None):
    """(params [nN, 3, D] int64 before padding: bias with the folded zero point, mult, shift),
    clamp and STORE mode of a conv/linear call's epilogue; ``const``: the constant channels
    of :func:`int32_plan` (their weights already zero) get bias ``value - zp`` and the
    identity scale."""
    epi = call.epi
    bias = np.asarray(epi.bias.data, np.int64) if epi.bias is not None else np.zeros(m, np.int64)
    folded = bias - x_zp * wd.reshape(m, -1).astype(np.int64).sum(axis=1)
    if folded.min() < arith.INT32_MIN or folded.max() > arith.INT32_MAX:
        raise LoweringError(f"{call.node.op} node '{call.node.name}': bias with the folded zero "
                            f"point leaves int32")
    if not epi.requant:
        return folded, None, None, (0, arith.INT32_MIN, arith.INT32_MAX), "raw"
    mult = np.broadcast_to(np.asarray(epi.mult.data, np.int64), (m,)).copy()
    shift = np.broadcast_to(np.asarray(epi.shift.data, np.int64), (m,)).copy()
    if const is not None:
        mask, value = const
        folded[mask] = value[mask] - int(epi.zero_point)
        mult[mask], shift[mask] = 1 << 30, 30
    return folded, mult, shift, (int(epi.zero_point), int(epi.lo), int(epi.hi)), "channel"


def prepare(call, plan: DramPlan, hw: HwConfig) -> GemmLayer:
    """Weight blocks and parameters of a conv2d/linear call into DRAM; the layer's geometry."""
    geo, wd = _conv_geometry(call)
    const = None
    if hasattr(call.node, "attrs") and call.acc_bits == 64:  # (bench layers: bare nodes)
        const = int32_plan(call, wd)
        if const is None:  # why_host keeps such calls on the host
            raise LoweringError(f"{call.node.op} node '{call.node.name}': int64 accumulator")
        wd = wd.copy()
        wd[const[0]] = 0
    d = hw.dim
    name = call.node.name
    blk, kblocks, rel = _blocks(wd, geo, d)
    kh, kw = wd.shape[2:]
    flat, woff = [], []
    for nb, js in enumerate(rel):
        woff.append(sum(len(r) for r in rel[:nb]))
        for j in js:
            u, v, cb = kblocks[j]
            flat.append(blk[nb, u, v, cb])
    m = wd.shape[0]
    diag = geo["group"] == geo["c"] == m  # depthwise: every live block is diagonal
    if diag:  # only the diagonals are stored (WGT loads with cols = DIM expand them)
        flat = [np.diagonal(b) for b in flat]
    wreg = plan.lazy_const(name + (".wdiag" if diag else ".wblocks"),
                           np.stack(flat).astype(np.int8), "i8")   # placed if used (place_weights)
    x_zp = int(call.x_zp)
    folded, mult, shift, clamp, mode = _epilogue_params(call, m, x_zp, wd, const)
    nN = len(rel)
    params = np.zeros((nN, 3, d), np.int64)
    params[:, 2, :] = 1
    pad = nN * d - m
    params[:, 0, :] = np.pad(folded, (0, pad)).reshape(nN, d)
    if mult is not None:
        params[:, 1, :] = np.pad(mult, (0, pad)).reshape(nN, d)
        params[:, 2, :] = np.pad(shift, (0, pad), constant_values=1).reshape(nN, d)
    preg = plan.add_const(name + ".params", params.astype(np.int32), "i32")
    ly = GemmLayer(name, geo["n"], geo["h"], geo["w"], geo["c"], geo["oh"], geo["ow"], m, kh, kw,
                   geo["stride"], geo["pads"], geo["dil"], geo["group"], x_zp, kblocks, rel, woff,
                   wreg, preg, ISA_DTYPE[call.out.dtype], mode, clamp, kind=geo["kind"])
    ly.extra["diag"] = diag
    ly.macs = int(geo["n"] * geo["oh"] * geo["ow"] * m * (geo["c"] // geo["group"]) * kh * kw)
    from .gemm_pack import prepare_pack
    prepare_pack(ly, wd, plan, d)
    from .gemm_im2col import prepare_im2col
    prepare_im2col(ly, wd, plan, d)
    return ly


# -- tiling --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tiling:
    th: int        # output rows per tile
    tw: int        # output columns per tile
    nb: int        # output-channel blocks per chunk
    tk: int        # weight blocks (K) per chunk
    order: str     # "sp": spatial tiles outer (input reuse), "wt": channel chunks outer (weight
    #                (reuse), "win": the padded-window schedule (gemm_window.py), "pack": the
    #                packed-taps schedule of layers with few channels (gemm_pack.py), "w2d":
    #                the two-level window schedule (gemm_loop2d.py, ISA v3), "pkw": the packed
    #                taps over column windows (gemm_pack.py, ISA v3)
    split: bool = False  # K deliberately split into several chunks (overlap of loads and GEMMs)
    bufs: int = 2        # input and accumulator slots the tiles rotate through (4: two per
    #                      half, so a small tile's loads run two tiles ahead of its GEMMs
    #                      and its GEMMs one tile ahead of its STOREs)

    @property
    def extra(self) -> bool:
        """Not one of the basic gather tilings (which SCALE-Sim's folds model)."""
        return self.split or self.order in ("win", "pack", "pkw", "pim", "w2d")

    def describe(self) -> str:
        return (f"th={self.th} tw={self.tw} nb={self.nb} tk={self.tk} order={self.order}"
                + (f" bufs={self.bufs}" if self.bufs != 2 else ""))


def capacity(hw: HwConfig, ly: GemmLayer | None = None) -> dict:
    """Rows (blocks) of one half of each buffer for a layer: its input slots share the input
    buffer with a resident region (``extra["inp_range"]``), and a layer whose input is
    resident (``extra["resident_in"]``, resident.py) loads none."""
    inp = hw.inp_rows // 2
    if ly is not None and ly.extra.get("resident_in") is not None:
        inp = 1 << 30
    elif ly is not None and ly.extra.get("inp_range"):
        lo, hi = ly.extra["inp_range"]
        inp = (hi - lo) // 2
    return {"inp": inp, "wgt": hw.wgt_blocks // 2, "acc": hw.acc_rows // 2,
            "param": hw.param_rows // 2}


def fits(ly: GemmLayer, t: Tiling, hw: HwConfig) -> bool:
    cap = capacity(hw, ly)
    p = t.th * t.tw
    grouped = ly.group > 1
    return (p <= 4095 and t.tw <= MAX_DMA_ROWS and t.nb * p <= cap["acc"] and 3 * t.nb <= cap["param"]
            and t.tk * p <= cap["inp"] and t.nb * t.tk <= cap["wgt"] and t.tk <= 4095
            and (not grouped or t.nb == 1))


def candidates(ly: GemmLayer, hw: HwConfig) -> list[Tiling]:
    cap = capacity(hw, ly)
    res = ly.extra.get("resident_in")
    if res is not None:   # the input is in the buffer already: the schedules that read it there
        return _resident_candidates(ly, hw, cap, res)
    kmax = max(len(r) for r in ly.rel)
    full = min(ly.ow, MAX_DMA_ROWS, cap["acc"], 4095)
    tws = {full}
    whole = cap["inp"] // kmax  # narrower tiles that hold all of K
    if 16 <= whole < full:
        tws.add(whole // 16 * 16)
    ths = sorted({min(ly.oh, x) for x in (1, 2, 4, 7, 8, 14, 16, 28, 32, 56, ly.oh)})
    nbs = [1] if ly.group > 1 else sorted({min(ly.nblocks, x) for x in (1, 2, 4, 8, 16, ly.nblocks)})
    out = []
    for nb, th, tw in ((a, b, c) for a in nbs for b in ths for c in sorted(tws)):
        if th > 1 and tw < ly.ow:
            continue
        tk = min(kmax, cap["inp"] // (th * tw), cap["wgt"] // nb)
        if tk < 1:
            continue
        # K split into 2-4 chunks: the next chunk's loads overlap this chunk's GEMMs
        tks = {tk} | {-(-tk // parts) for parts in (2, 3, 4) if tk >= parts}
        for order, k in ((o, k) for o in ("sp", "wt") for k in sorted(tks, reverse=True)):
            t = Tiling(th, tw, nb, k, order, k != tk)
            if fits(ly, t, hw):
                out.append(t)
    from .gemm_window import window_candidates
    out += window_candidates(ly, hw, cap, Tiling)
    from .gemm_loop2d import loop2d_candidates
    out += loop2d_candidates(ly, hw, cap, Tiling)
    from .gemm_pack import pack_candidates
    out += pack_candidates(ly, hw, cap, Tiling)
    from .gemm_im2col import im2col_candidates
    out += im2col_candidates(ly, hw, cap, Tiling)
    if not out:  # narrow tiles for very wide layers
        for tw2 in (256, 128, 64, 32, 16):
            t = Tiling(1, min(tw2, ly.ow), 1, 1, "sp")
            if fits(ly, t, hw):
                return [t]
        raise LoweringError(f"layer '{ly.name}' has no tiling that fits the buffers of this "
                            f"configuration")
    return out


def _resident_candidates(ly: GemmLayer, hw: HwConfig, cap: dict, res) -> list[Tiling]:
    """Tilings of a layer whose whole input is resident (resident.py): the gather tilings
    (``sp``/``wt``, full-width or one-row tiles) over a ``flat`` region, the two-level
    window tilings over a ``window`` region; a tile reads its rows where they are."""
    if res.kind == "window":
        from .gemm_loop2d import loop2d_candidates
        return loop2d_candidates(ly, hw, cap, Tiling)
    kmax = max(len(r) for r in ly.rel)
    ths = sorted({min(ly.oh, x) for x in (1, 2, 4, 7, 8, 14, 16, 28, 32, 56, ly.oh)})
    nbs = [1] if ly.group > 1 else sorted({min(ly.nblocks, x) for x in (1, 2, 4, 8, 16, ly.nblocks)})
    out = []
    for nb, th in ((a, b) for a in nbs for b in ths):
        tk = min(kmax, cap["wgt"] // nb)
        tks = {tk} | {-(-tk // parts) for parts in (2, 3, 4) if tk >= parts}
        for order, k in ((o, k) for o in ("sp", "wt") for k in sorted(tks, reverse=True)):
            t = Tiling(th, ly.ow, nb, k, order, k != tk)
            if tk >= 1 and fits(ly, t, hw):
                out.append(t)
    return out


# -- emission ------------------------------------------------------------------------------
class _Slots:
    """Alternating halves of each on-chip buffer (the input buffer's within ``inp_range``
    when a resident region takes the rest: then named by their row interval).  With
    ``bufs = 4`` the input and accumulator slots are the quarters (two per half, named by
    their row intervals), used in turn from the half ``phase`` says."""

    def __init__(self, hw: HwConfig, ly: GemmLayer | None = None, bufs: int = 2, phase=None):
        self.cap = capacity(hw, ly)
        self.inp_lo = (ly.extra.get("inp_range") or (None,))[0] if ly is not None else None
        self.bufs = bufs
        self.phase = {"INP": 0, "WGT": 0, "ACC": 0, "PARAM": 0}
        self.phase.update(phase or {})
        self.n = dict.fromkeys(self.phase, 0)

    def next(self, buf: str) -> tuple[int, tuple]:
        size = {"INP": self.cap["inp"], "WGT": self.cap["wgt"], "ACC": self.cap["acc"],
                "PARAM": self.cap["param"]}[buf]
        ways = self.bufs if buf in ("INP", "ACC") else 2
        k = (self.n[buf] + self.phase[buf] * ways // 2) % ways
        self.n[buf] += 1
        if ways != 2:
            size = 2 * size // ways
        if buf == "INP" and (self.inp_lo is not None or ways != 2):
            lo = (self.inp_lo or 0) + k * size
            return lo, ("INP", lo, lo + size)
        if ways != 2:    # accumulator quarters: row intervals (stream.Builder orders overlaps)
            return k * size, (buf, k * size, (k + 1) * size)
        return k * size, (buf, k)

    def next_phase(self) -> dict:
        """The half each buffer's next layer starts in: the other one than the last used."""
        out = {}
        for buf, n in self.n.items():
            ways = self.bufs if buf in ("INP", "ACC") else 2
            last = (n - 1 + self.phase[buf] * ways // 2) % ways if n else None
            out[buf] = self.phase[buf] if last is None else (last * 2 // ways + 1) % 2
        return out


def _pad_loads(sram: int, count: int, pad_val: int, note: str):
    out = []
    while count > 0:
        k = min(count, MAX_PAD)
        out.append(make("LOAD", buf="INP", sram=sram, pad_before=k, pad_val=pad_val, note=note))
        sram += k
        count -= k
    return out


def input_loads(ly: GemmLayer, xreg: Region, d: int, kb: int, n: int, oh0: int, th: int,
                ow0: int, tw: int, sram: int) -> list:
    """LOADs of weight block ``kb``'s input rows for a tile (positions in row-major order)."""
    u, v, cb = ly.kblocks[kb]
    sh, sw = ly.stride
    dh, dw = ly.dil
    pt, pl = ly.pads[0], ly.pads[1]
    cols = min(d, ly.c - cb * d)
    out = []
    ihs = np.arange(oh0, oh0 + th) * sh + u * dh - pt
    iws = np.arange(ow0, ow0 + tw) * sw + v * dw - pl
    if sh * ly.w == sw * tw and ihs.min() >= 0 and ihs.max() < ly.h and iws.min() >= 0 \
            and iws.max() < ly.w:  # the tile's rows are one arithmetic sequence in DRAM
        dram = xreg.addr + ((n * ly.h + int(ihs[0])) * ly.w + int(iws[0])) * ly.c + cb * d
        for s0 in range(0, th * tw, MAX_DMA_ROWS):
            k = min(MAX_DMA_ROWS, th * tw - s0)
            out.append(make("LOAD", buf="INP", dtype="i8", sram=sram + s0, dram=dram + s0 * sw * ly.c,
                            rows=k, cols=cols, stride=sw * ly.c, pad_val=ly.x_zp,
                            note=f"in u={u} v={v} cb={cb} oh={oh0}..{oh0 + th - 1}"))
        return out
    for r in range(th):
        oh = oh0 + r
        base = sram + r * tw
        ih = oh * sh + u * dh - pt
        if not 0 <= ih < ly.h:
            out += _pad_loads(base, tw, ly.x_zp, "pad row")
            continue
        iws = np.arange(ow0, ow0 + tw) * sw + v * dw - pl
        ok = (iws >= 0) & (iws < ly.w)
        nvalid = int(ok.sum())
        before = int(np.argmax(ok)) if nvalid else tw
        after = tw - before - nvalid
        if nvalid == 0:
            out += _pad_loads(base, tw, ly.x_zp, "pad row")
            continue
        dram = xreg.addr + ((n * ly.h + ih) * ly.w + int(iws[before])) * ly.c + cb * d
        pre = _pad_loads(base, before - min(before, MAX_PAD), ly.x_zp, "pad") if before > MAX_PAD else []
        b1 = min(before, MAX_PAD)
        a1 = min(after, MAX_PAD)
        out += pre
        start = base + before - b1
        done = 0
        while done < nvalid:  # long rows split at the 10-bit row count
            k = min(nvalid - done, MAX_DMA_ROWS)
            first, last = done == 0, done + k == nvalid
            out.append(make("LOAD", buf="INP", dtype="i8", sram=start + (0 if first else b1) + done,
                            dram=dram + done * sw * ly.c, rows=k, cols=cols, stride=sw * ly.c,
                            pad_before=b1 if first else 0, pad_after=a1 if last else 0,
                            pad_val=ly.x_zp, note=f"in u={u} v={v} cb={cb} oh={oh}"))
            done += k
        if after > MAX_PAD:
            out += _pad_loads(base + before + nvalid + a1, after - a1, ly.x_zp, "pad")
    return _merge_pads(out)


def _merge_pads(loads: list) -> list:
    """Fold padding-only LOADs into the neighbouring LOAD's pad_before/pad_after (the
    buffer rows are consecutive), saving one DMA issue each."""
    out = []
    for ins in loads:
        f = ins.f
        if out:
            p = out[-1].f
            end = p["sram"] + p["pad_before"] + p["rows"] + p["pad_after"]
            if f["rows"] == 0 and end == f["sram"] and p["pad_after"] + f["pad_before"] <= MAX_PAD:
                p["pad_after"] += f["pad_before"]
                continue
            npad = p["pad_before"] + p["pad_after"]
            if p["rows"] == 0 and end == f["sram"] and npad + f["pad_before"] <= MAX_PAD:
                f["pad_before"] += npad
                f["sram"] = p["sram"]
                out[-1] = ins
                continue
        out.append(ins)
    return out
