"""The packed-taps schedule of convolutions with few input channels (tiling order ``pack``).

The gather schedule blocks K per kernel tap and DIM input channels, so a layer with
``C < DIM`` channels streams ``DIM - C`` zero lanes through the array for every tap (the
3-channel stem of an image model uses 3/16 of the array).  In a channels-last tensor the
``g = DIM // C`` consecutive taps ``v0 .. v0+g-1`` of one kernel row read ``g*C``
consecutive bytes of one input row, so one DMA row fills ``g*C`` lanes with ``g`` taps
and one weight block holds them: a kernel row needs ``ceil(kw / g)`` blocks instead of
``kw``.

Borders: a DMA row cannot be padded in its first lanes, only after ``cols`` (lanes
``cols..DIM-1`` get the pad value, the input zero point).  Taps past the right edge are
therefore simply cut off (``cols`` shrinks; they multiply the zero point, as padding
does).  For an output column whose first ``a`` taps of a group lie left of the edge the
row is loaded from the first valid position and multiplied by a *rotated* block (lane
group ``j`` holds tap ``v0 + (j + a) % g``), which puts the ``a`` missing taps on lanes that
hold the zero point.  Rows above and below the input are whole pad rows of the DMA.

Tiles are ``th x tw`` output positions in **column-major** order, so the positions of one
output column are consecutive buffer rows: one LOAD per (group, kernel row, output
column) gathers a column (DRAM stride ``s*W*C``, pad rows before and after), the columns
that share a rotation form one GEMM per group whose micro-loop runs the ``kh`` kernel rows
(input stride = the tile, weight stride 1), and one STORE per output column writes it.

Order ``pkw`` (the packed column window) loads each input row of a column once instead of
once per kernel row: per (group, output column) one LOAD of the ``(th - 1)*sh + kh`` input
rows the column's windows cover (DRAM stride ``W*C``, the pad rows by the DMA), and a
two-level GEMM (ISA v3 ``loop2d``: CONFIG GEMM_ROWS ``(th, rows per column, sh)``, GEMM_TAPS
``(kh, 0)``) reads tap row ``u`` of output row ``r`` at window row ``r*sh + u``.  A 3x3
stride-1 stem then moves ``th + 2`` DMA rows per column instead of ``3*th``.
The timing model chooses between these and the other schedules (``choose_tiling``).
"""

from __future__ import annotations

import numpy as np

from .isa import make
from .lower_gemm import MAX_DMA_ROWS, MAX_PAD, _pad_loads

MAX_ROW_STEP = 255   # CONFIG GEMM_ROWS c is 8 bits


def pack_ok(ly, d: int) -> bool:
    return (ly.kind == "conv" and ly.group == 1 and 2 * ly.c <= d and ly.kw > 1
            and tuple(ly.dil) == (1, 1))


def tap_groups(ly, d: int) -> list[tuple[int, int]]:
    """(first tap, taps) of each group of one kernel row."""
    g = d // ly.c
    return [(v0, min(g, ly.kw - v0)) for v0 in range(0, ly.kw, g)]


def _clip(ly, ow: int, v0: int, gs: int) -> tuple[int, int]:
    """(taps missing left of the input, taps missing right of it) of group (v0, gs) at
    output column ``ow``."""
    start = ow * ly.stride[1] + v0 - ly.pads[1]
    a = min(gs, max(0, -start))
    b = min(gs - a, max(0, start + gs - ly.w))
    return a, b


def rotations(ly, v0: int, gs: int) -> list[int]:
    """The rotations a group needs over all output columns (0 first)."""
    rots = {0}
    for ow in range(ly.ow):
        a, b = _clip(ly, ow, v0, gs)
        if a < gs - b:          # a column with real data: its block is rotated by a
            rots.add(a)
    return sorted(rots)


def prepare_pack(ly, wd: np.ndarray, plan, d: int) -> None:
    """Reserve the packed (and rotated) weight blocks of an eligible layer (placed in DRAM
    only if the chosen schedule reads them: ``gemm_emit.place_weights``); record the
    schedule's block index in ``ly.extra['pack']``."""
    if not pack_ok(ly, d):
        return
    m, c, kh, kw = wd.shape
    nN = -(-m // d)
    groups = tap_groups(ly, d)
    index, blocks = {}, []
    # the unrotated blocks of every group first (all that the ``pkw`` order loads)
    order = [(gi, 0) for gi in range(len(groups))] + \
        [(gi, a) for gi, (v0, gs) in enumerate(groups) for a in rotations(ly, v0, gs) if a]
    for gi, a in order:
        v0, gs = groups[gi]
        index[(gi, a)] = len(blocks)
        for u in range(kh):
            blk = np.zeros((nN * d, d), np.int8)      # [n][lane]
            for j in range(gs):
                v = v0 + (j + a) % gs
                blk[:m, j * c:(j + 1) * c] = wd[:, :, u, v]
            blocks.append(blk)
    per = len(blocks)
    arr = np.stack(blocks)                                 # [S, nN*d, d]
    # only the first kr K-rows (lanes) of a block are non-zero: stored and loaded alone (v6)
    kr = max(gs for _, gs in groups) * c
    flat = arr.reshape(per, nN, d, d).transpose(1, 0, 3, 2)[:, :, :kr]  # [nN, S, k < kr, n]
    reg = plan.lazy_const(ly.name + ".wpack", np.ascontiguousarray(flat).astype(np.int8), "i8")
    ly.extra["pack"] = {"reg": reg, "index": index, "per": per, "groups": groups, "kr": kr}


def window_rows(ly, th: int) -> int:
    """Input rows of one output column's window in the ``pkw`` order."""
    return (th - 1) * ly.stride[0] + ly.kh


def pack_candidates(ly, hw, cap: dict, tiling_cls) -> list:
    pk = ly.extra.get("pack")
    if pk is None:
        return []
    ngr = len(pk["groups"])
    slabs = ngr * ly.kh
    out = []
    nbs = sorted({min(ly.nblocks, x) for x in (1, 2, 4, ly.nblocks)})
    ths = sorted({min(ly.oh, x) for x in (1, 2, 4, 8, 16, 32, ly.oh)})
    tws = sorted({min(ly.ow, x) for x in (4, 8, 16, 32, ly.ow)})
    for th in ths:
        wr = window_rows(ly, th)
        for tw in tws:
            p = th * tw
            for nb in nbs:
                if not (nb * p <= cap["acc"] and p <= 4095 and nb * pk["per"] <= cap["wgt"]
                        and 3 * nb <= cap["param"]):
                    continue
                if slabs * p <= cap["inp"] and th <= min(MAX_PAD, MAX_DMA_ROWS):
                    out.append(tiling_cls(th, tw, nb, slabs, "pack"))
                if (ngr * tw * wr <= cap["inp"] and wr <= min(MAX_PAD, MAX_DMA_ROWS)
                        and ly.stride[0] <= MAX_ROW_STEP):
                    out.append(tiling_cls(th, tw, nb, slabs, "pkw"))
                    if 2 * ngr * tw * wr <= cap["inp"] and 2 * nb * p <= cap["acc"]:  # four slots
                        out.append(tiling_cls(th, tw, nb, slabs, "pkw", bufs=4))
    # most positions per tile first, then fewer channel chunks (the search simulates a few)
    out.sort(key=lambda t: (-t.th * t.tw, -t.nb, t.order != "pkw", t.bufs))
    return out


def _load_tile(e, tile, base) -> None:
    """One LOAD per (group, kernel row, output column): the column's rows for that group."""
    ly, x = e.ly, e.x
    n, oh0, th, ow0, tw = tile
    pk = ly.extra["pack"]
    p = th * tw
    sh, sw = ly.stride
    g = e.b.group("ld", reads=[e.x_res], writes=[base[1]], rows=e.in_span(n, oh0, th))
    ihs0 = np.arange(oh0, oh0 + th) * sh - ly.pads[0]
    for gi, (v0, gs) in enumerate(pk["groups"]):
        for u in range(ly.kh):
            ihs = ihs0 + u
            ok = (ihs >= 0) & (ihs < ly.h)
            nvalid = int(ok.sum())
            before = int(np.argmax(ok)) if nvalid else th
            after = th - before - nvalid
            for c in range(tw):
                sram = base[0] + (gi * ly.kh + u) * p + c * th
                a, b = _clip(ly, ow0 + c, v0, gs)
                real = gs - a - b
                if real <= 0 or nvalid == 0:
                    for ins in _pad_loads(sram, th, ly.x_zp, "pad column"):
                        g.add(ins)
                    continue
                iw = (ow0 + c) * sw + v0 - ly.pads[1] + a
                dram = x.addr + ((n * ly.h + int(ihs[before])) * ly.w + iw) * ly.c
                g.add(make("LOAD", buf="INP", dtype="i8", sram=sram, dram=dram, rows=nvalid,
                           cols=real * ly.c, stride=sh * ly.w * ly.c, pad_before=before,
                           pad_after=after, pad_val=ly.x_zp,
                           note=f"pack g={gi} u={u} ow={ow0 + c} rot={a}"))


def _load_window(e, tile, base) -> None:
    """``pkw``: one LOAD per (group, output column): the input rows of the column's windows
    (``window_rows``), each once, the rows above and below the input as DMA padding."""
    ly, x = e.ly, e.x
    n, oh0, th, ow0, tw = tile
    pk = ly.extra["pack"]
    wr = window_rows(ly, th)
    sh, sw = ly.stride
    g = e.b.group("ld", reads=[e.x_res], writes=[base[1]], rows=e.in_span(n, oh0, th))
    ihs = oh0 * sh - ly.pads[0] + np.arange(wr)
    ok = (ihs >= 0) & (ihs < ly.h)
    nvalid = int(ok.sum())
    before = int(np.argmax(ok)) if nvalid else wr
    after = wr - before - nvalid
    for gi, (v0, gs) in enumerate(pk["groups"]):
        for c in range(tw):
            sram = base[0] + (gi * tw + c) * wr
            a, b = _clip(ly, ow0 + c, v0, gs)
            real = gs - a - b
            if real <= 0 or nvalid == 0:
                for ins in _pad_loads(sram, wr, ly.x_zp, "pad column"):
                    g.add(ins)
                continue
            iw = (ow0 + c) * sw + v0 - ly.pads[1] + a
            dram = x.addr + ((n * ly.h + int(ihs[before])) * ly.w + iw) * ly.c
            if a:   # the a taps left of the input: the data from lane a*C (v6), no rotation
                g.add(make("CONFIG", reg="LOAD_OUTER", a=1, b=0, c=a * ly.c, d=0,
                           note=f"1 copy, data from lane {a * ly.c}"))
            g.add(make("LOAD", buf="INP", dtype="i8", sram=sram, dram=dram, rows=nvalid,
                       cols=real * ly.c, stride=ly.w * ly.c, pad_before=before,
                       pad_after=after, pad_val=ly.x_zp, outer=int(a > 0),
                       note=f"pkw g={gi} ow={ow0 + c}" + (f" lanes {a * ly.c}+" if a else "")))


def _load_weights(e, nbs, win: bool):
    """The chunk's packed blocks (``win``: only the unrotated ones, which come first)."""
    ly, d = e.ly, e.d
    pk = ly.extra["pack"]
    base, res = e.slots.next("WGT")
    g = e.b.group("ld", writes=[res])
    per = pk["per"]
    kr = pk["kr"]    # partial blocks (v6 part): the kr K-rows that hold taps
    if win:          # one LOAD per output block (merge_outer makes them one outer LOAD)
        used = len(pk["groups"]) * ly.kh
        for i, nb in enumerate(nbs):
            g.add(make("LOAD", buf="WGT", sram=base + i * used, dram=pk["reg"].addr + nb * per * kr * d,
                       rows=used, cols=kr, stride=kr * d, part=1,
                       note=f"wpack nb={nb} ({kr} of {d} K-rows, unrotated)"))
        return {nb: base + i * used for i, nb in enumerate(nbs)}, res
    g.add(make("LOAD", buf="WGT", sram=base, dram=pk["reg"].addr + nbs[0] * per * kr * d,
               rows=per * len(nbs), cols=kr, stride=kr * d, part=1,
               note=f"wpack nb={nbs[0]}..{nbs[-1]} ({kr} of {d} K-rows)"))
    return {nb: base + i * per for i, nb in enumerate(nbs)}, res


def _runs(ly, ow0: int, tw: int, v0: int, gs: int) -> list[tuple[int, int, int]]:
    """Maximal runs (first column, columns, rotation) of the tile's columns."""
    out = []
    for c in range(tw):
        a, b = _clip(ly, ow0 + c, v0, gs)
        rot = a if a < gs - b else 0
        if out and out[-1][2] == rot:
            out[-1] = (out[-1][0], out[-1][1] + 1, rot)
        else:
            out.append((c, 1, rot))
    return out


def _chunk(e, tile, nbs, inp, wgt, win: bool, regs: list) -> None:
    """The GEMMs and STOREs of one tile and channel chunk; ``win``: the ``pkw`` order (one
    two-level GEMM per run of columns over the column windows; ``regs`` holds the GEMM_ROWS
    value last set in this layer)."""
    ly = e.ly
    n, oh0, th, ow0, tw = tile
    pk = ly.extra["pack"]
    p = th * tw
    p_base, p_res = e.chunk_params(nbs)
    acc_base, acc_res = e.slots.next("ACC")
    (woff, w_res), (ibase, i_res) = wgt, inp
    g = e.b.group("ex", reads=[i_res, w_res], writes=[acc_res])
    wr = window_rows(ly, th)
    if win and regs[0] != (th, wr):  # row r of column c, tap row u: c*wr + r*sh + u
        g.add(make("CONFIG", reg="GEMM_ROWS", a=th, b=wr, c=ly.stride[0],
                   note=f"rows: {th} per column, column window {wr}"))
        if regs[0] is None:
            g.add(make("CONFIG", reg="GEMM_TAPS", a=ly.kh, b=0, note=f"taps: {ly.kh} kernel rows"))
        regs[0] = (th, wr)
    for i, nb in enumerate(nbs):
        for gi, (v0, gs) in enumerate(pk["groups"]):
            if win:   # every column of the tile: no rotations (the loads shift the lanes)
                g.add(make("GEMM", reset=int(gi == 0), acc=acc_base + i * p, inp=ibase + gi * tw * wr,
                           wgt=woff[nb] + pk["index"][(gi, 0)], rows=p, kblocks=ly.kh,
                           inp_kstride=1, wgt_kstride=1, loop2d=1,
                           note=f"pkw nb={nb} g={gi} ow={ow0}+{tw}"))
                continue
            for c0, cnt, rot in _runs(ly, ow0, tw, v0, gs):
                wgt_at = woff[nb] + pk["index"][(gi, rot)]
                note = f"nb={nb} g={gi} ow={ow0 + c0}+{cnt} rot={rot}"
                g.add(make("GEMM", reset=int(gi == 0), acc=acc_base + i * p + c0 * th,
                           inp=ibase + gi * ly.kh * p + c0 * th, wgt=wgt_at, rows=cnt * th,
                           kblocks=ly.kh, inp_kstride=p, wgt_kstride=1, note="pack " + note))
    store_columns(e, tile, nbs, acc_base, p_base, [acc_res, p_res])


def store_columns(e, tile, nbs, acc_base: int, p_base: int, reads: list) -> None:
    """The STOREs of a column-major tile: one per output column and channel block (DRAM
    stride: one output row; ``th = 1`` is row-major)."""
    ly = e.ly
    n, oh0, th, ow0, tw = tile
    p = th * tw
    segs = []
    for i, nb in enumerate(nbs):
        runs = [(0, tw, 1)] if th == 1 else [(c, th, ly.ow) for c in range(tw)]
        for c, rows, step in runs:
            pos = (n * ly.oh + oh0) * ly.ow + ow0 + c
            segs.append((acc_base + i * p + c * th, pos, rows, step, nb, p_base + 3 * i,
                         f"out nb={nb} oh={oh0} ow={ow0 + c}"))
    e.emit_stores(tile, reads, segs)


def emit_pack(e, t) -> None:
    """Emit layer ``e.ly`` with packed-taps tiling ``t`` (order ``pack`` or ``pkw``): tiles
    outer; the tile's inputs are loaded once for all channel chunks; the weights once for
    the layer when they fit."""
    ly = e.ly
    win = t.order == "pkw"
    regs = [None]
    chunks = [list(range(b, min(ly.nblocks, b + t.nb))) for b in range(0, ly.nblocks, t.nb)]
    shared = _load_weights(e, chunks[0], win) if len(chunks) == 1 else None
    for n in range(ly.n):
        for oh0 in range(0, ly.oh, t.th):
            for ow0 in range(0, ly.ow, t.tw):
                tile = (n, oh0, min(t.th, ly.oh - oh0), ow0, min(t.tw, ly.ow - ow0))
                inp = None
                for nbs in chunks:
                    wgt = shared or _load_weights(e, nbs, win)
                    if inp is None:
                        inp = e.slots.next("INP")
                        (_load_window if win else _load_tile)(e, tile, inp)
                    _chunk(e, tile, nbs, inp, wgt, win, regs)
