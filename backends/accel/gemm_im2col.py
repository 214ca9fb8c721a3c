"""The im2col-row schedule of convolutions with few input channels (tiling order ``pim``,
ISA v9 LOAD ``im2col``).

The packed-taps schedules (``gemm_pack.py``) put the ``kw`` taps of one kernel row of a
``C``-channel conv into one buffer row, so a 1-channel 3x3 kernel fills 3 of 16 lanes and
the array streams ``kh`` weight blocks per output position.  When the whole window fits
one row (``kh*kw*C <= DIM``) an im2col LOAD builds it: CONFIG IM2COL ``(kh, sh, kw*C)``
makes each buffer row the ``kh`` consecutive *pieces* (input rows of ``kw*C`` bytes, the
same pieces the ``pkw`` column window loads, rows above and below the input as padding
pieces) of one output position, so one weight block (K-row ``(u*kw + v)*C + ci``) and one
array cycle per position suffice.  Tiles are ``th x tw`` positions in column-major order:
per output column one LOAD of the column's ``(th-1)*sh + kh`` pieces writes its ``th``
rows; a column whose first ``a`` taps lie left of the input puts each piece's data from
lane ``a*C`` (ISA v6 LOAD_OUTER ``c``); one GEMM of ``th*tw`` rows and one K block per
output-channel block; the STOREs of the packed schedule (one per output column).

A window wider than a row (a 3-channel 3x3 stem: 27 lanes; a 7x7 one: 147) is split into
several K blocks (ISA v10 CONFIG IM2COL ``d``): the taps of a kernel row are cut into groups
of at most ``DIM // C`` (one group when ``kw*C <= DIM``; the 7x7x3 stem: taps 0-4 and 5-6, so
a piece is at most DIM bytes, one DMA cycle), each group's window (its pieces of all ``kh``
kernel rows, ``kh*gs*C`` lanes) is cut into blocks of DIM lanes, and block ``k`` is built by
an im2col LOAD of the kernel rows it touches from lane ``off`` of their first piece (3x3x3: 2
blocks instead of ``pkw``'s 3; 7x7x3: 7 + 3 = 10 instead of 14).  A tile's block ``k``
occupies input rows ``k*P ..`` and its GEMMs run all blocks (``inp_kstride = P``).  Offered
where there are fewer blocks than the packed (or gather) schedule multiplies per position,
and chosen by the tile search's timing model.
"""

from __future__ import annotations

import numpy as np

from .gemm_pack import _clip, store_columns, window_rows
from .isa import make
from .lower_gemm import MAX_DMA_ROWS, MAX_PAD, _pad_loads


def tap_groups(ly, d: int) -> list[tuple[int, int]]:
    """(first tap, taps) of the groups a kernel row is cut into: all of it when ``kw*C <=
    DIM``, else groups of ``DIM // C`` taps (a piece of at most DIM bytes)."""
    if ly.kw * ly.c <= d:
        return [(0, ly.kw)]
    g = d // ly.c
    return [(v0, min(g, ly.kw - v0)) for v0 in range(0, ly.kw, g)] if g else []


def kblocks(ly, d: int) -> list[tuple[int, int, int, int, int]]:
    """The K blocks of a position's window, ``(v0, gs, p0, n, off)`` each: lanes ``off ..
    off+DIM-1`` of the pieces (taps ``v0 .. v0+gs-1``, ``gs*C`` lanes each) of the ``n``
    kernel rows from ``p0`` (CONFIG IM2COL ``(n, sh, gs*C, off)``; one block ``(0, kw, 0, kh,
    0)`` when the window fits a row, v9)."""
    out = []
    for v0, gs in tap_groups(ly, d):
        pw = gs * ly.c
        kr = ly.kh * pw
        for k0 in range(0, kr, d):
            p0, p1 = k0 // pw, (min(kr, k0 + d) - 1) // pw
            out.append((v0, gs, p0, p1 - p0 + 1, k0 - p0 * pw))
    return out


def _other_blocks(ly, d: int) -> int:
    """Weight blocks per position of the best schedule without im2col rows: packed taps
    (``kh * ceil(kw / g)``, ``g = DIM // C``) when ``2C <= DIM``, else one per tap and channel
    block."""
    if 2 * ly.c <= d:
        return ly.kh * -(-ly.kw // (d // ly.c))
    return ly.kh * ly.kw * -(-ly.c // d)


def im2col_ok(ly, d: int) -> bool:
    """An ungrouped dilation-1 conv with ``kh, kw > 1`` whose window fits one row (v9), or
    spans several (v10) in fewer K blocks than the packed or gather schedules multiply."""
    if not (ly.kind == "conv" and ly.group == 1 and ly.kh > 1 and ly.kw > 1
            and tuple(ly.dil) == (1, 1) and ly.c <= d):
        return False
    return ly.kh * ly.kw * ly.c <= d or len(kblocks(ly, d)) < _other_blocks(ly, d)


def im2col_usable(ly, hw) -> bool:
    """``ly``'s im2col weights exist and this hardware runs them: the v9 im2col LOAD, and for
    a window of several K blocks the v10 row offset (``--hw im2col_split``)."""
    im = ly.extra.get("im2col")
    return im is not None and hw.im2col_load and (im["nk"] == 1 or hw.im2col_split)


def _block_weights(ly, wd: np.ndarray, d: int) -> np.ndarray:
    """[nN, nk, DIM (k), DIM (n)] int8: lane ``l`` of block ``(v0, gs, p0, n, off)`` is window
    lane ``L = p0*gs*C + off + l`` of its group: tap ``(L // (gs*C), v0 + L % (gs*C) // C)``,
    channel ``L % C``; zero past the window."""
    m, c, kh, _ = wd.shape
    nN = -(-m // d)
    blocks = kblocks(ly, d)
    out = np.zeros((nN * d, len(blocks), d), np.int8)          # [n][block][k]
    for j, (v0, gs, p0, _, off) in enumerate(blocks):
        pw = gs * c
        lanes = p0 * pw + off + np.arange(d)
        ok = lanes < kh * pw
        u, r = lanes[ok] // pw, lanes[ok] % pw
        out[:m, j, np.flatnonzero(ok)] = wd[:, r % c, u, v0 + r // c]
    return np.ascontiguousarray(out.reshape(nN, d, len(blocks), d).transpose(0, 2, 3, 1))


def prepare_im2col(ly, wd: np.ndarray, plan, d: int) -> None:
    """Reserve an eligible layer's im2col weights (placed in DRAM only if the chosen schedule
    is ``pim``: ``gemm_emit.place_weights``): one block per output-channel block
    of its ``kh*kw*C`` K-rows ``[k][n]`` (K-row ``(u*kw + v)*C + ci``) when the window fits
    a row (loaded as a v6 partial block), else ``nk`` dense blocks per output-channel block
    (``_block_weights``): ``ly.extra['im2col']``."""
    if not im2col_ok(ly, d):
        return
    m, c, kh, kw = wd.shape
    nN = -(-m // d)
    kr = kh * kw * c
    nk = len(kblocks(ly, d))
    if nk > 1:
        reg = plan.lazy_const(ly.name + ".wim2col", _block_weights(ly, wd, d), "i8")
        ly.extra["im2col"] = {"reg": reg, "kr": kr, "nk": nk}
        return
    w = np.zeros((nN * d, kr), np.int8)                     # [n][(u*kw + v)*C + ci]
    w[:m] = wd.transpose(0, 2, 3, 1).reshape(m, kr)
    blocks = w.reshape(nN, d, kr).transpose(0, 2, 1)        # [nN, k < kr, n]
    reg = plan.lazy_const(ly.name + ".wim2col", np.ascontiguousarray(blocks), "i8")
    ly.extra["im2col"] = {"reg": reg, "kr": kr, "nk": 1}


def im2col_candidates(ly, hw, cap: dict, tiling_cls) -> list:
    if not im2col_usable(ly, hw):
        return []
    nk = ly.extra["im2col"]["nk"]
    out = []
    nbs = sorted({min(ly.nblocks, x) for x in (1, 2, 4, ly.nblocks)})
    ths = sorted({min(ly.oh, x) for x in (1, 2, 4, 8, 16, 32, ly.oh)})
    tws = sorted({min(ly.ow, x) for x in (1, 2, 4, 8, 16, 32, ly.ow)})
    for th in ths:
        if window_rows(ly, th) > min(MAX_PAD, MAX_DMA_ROWS):
            continue
        for tw in tws:
            p = th * tw
            for nb in nbs:
                if not (nb * p <= cap["acc"] and p <= 4095 and nb * nk <= cap["wgt"]
                        and 3 * nb <= cap["param"] and nk * p <= cap["inp"]):
                    continue
                out.append(tiling_cls(th, tw, nb, nk, "pim"))
                if 2 * nk * p <= cap["inp"] and 2 * nb * p <= cap["acc"]:  # four slots
                    out.append(tiling_cls(th, tw, nb, nk, "pim", bufs=4))
    out.sort(key=lambda t: (-t.th * t.tw, -t.nb, t.bufs))
    return out


def _load_columns(e, tile, base, first: bool) -> None:
    """Per K block, one im2col LOAD per output column: the ``th`` rows of its positions
    (block ``k`` of the tile's ``P`` positions in rows ``k*P ..``)."""
    ly = e.ly
    n, oh0, th, ow0, tw = tile
    g = e.b.group("ld", reads=[e.x_res], writes=[base[1]], rows=e.in_span(n, oh0, th))
    blocks = kblocks(ly, e.d)
    for k, (v0, gs, p0, npc, off) in enumerate(blocks):
        if first or len(blocks) > 1:   # the LD engine runs in program order
            g.add(make("CONFIG", reg="IM2COL", a=npc, b=ly.stride[0], c=gs * ly.c, d=off,
                       note=f"im2col: {npc} pieces of {gs * ly.c} lanes, step {ly.stride[0]}"
                            + (f"; K block {k}: taps {v0}+{gs}, kernel rows {p0}+, lane {off}+"
                               if len(blocks) > 1 else "")))
        _block_columns(e, g, tile, base[0] + k * th * tw, (v0, gs), p0, npc)


def _block_columns(e, g, tile, sram0: int, group, p0: int, npc: int) -> None:
    """The im2col LOADs of one K block (taps ``group = (v0, gs)`` of kernel rows ``p0 ..
    p0+npc-1``), one per output column."""
    ly, x = e.ly, e.x
    n, oh0, th, ow0, tw = tile
    sh, sw = ly.stride
    v0, gs = group
    ihs = oh0 * sh - ly.pads[0] + p0 + np.arange((th - 1) * sh + npc)
    ok = (ihs >= 0) & (ihs < ly.h)
    nvalid = int(ok.sum())
    before = int(np.argmax(ok)) if nvalid else len(ihs)
    after = len(ihs) - before - nvalid
    for c in range(tw):
        sram = sram0 + c * th
        a, b = _clip(ly, ow0 + c, v0, gs)
        real = gs - a - b
        if real <= 0 or nvalid == 0:
            for ins in _pad_loads(sram, th, ly.x_zp, "pad column"):
                g.add(ins)
            continue
        iw = (ow0 + c) * sw - ly.pads[1] + v0 + a
        dram = x.addr + ((n * ly.h + int(ihs[before])) * ly.w + iw) * ly.c
        if a:   # the a taps left of the input: each piece's data from lane a*C
            g.add(make("CONFIG", reg="LOAD_OUTER", a=1, b=0, c=a * ly.c, d=0,
                       note=f"1 copy, data from lane {a * ly.c}"))
        g.add(make("LOAD", buf="INP", dtype="i8", sram=sram, dram=dram, rows=nvalid,
                   cols=real * ly.c, stride=ly.w * ly.c, pad_before=before, pad_after=after,
                   pad_val=ly.x_zp, outer=int(a > 0), im2col=1,
                   note=f"im2col ow={ow0 + c}" + (f" lanes {a * ly.c}+" if a else "")))


def _load_weights(e, nbs):
    """The chunk's weight blocks, ``nk`` per output-channel block from ``base + i*nk``: one
    v6 partial block each when the window fits a row, else ``nk`` dense blocks (one LOAD
    per output-channel block, which ``merge_outer`` folds)."""
    ly, d = e.ly, e.d
    im = ly.extra["im2col"]
    base, res = e.slots.next("WGT")
    g = e.b.group("ld", writes=[res])
    kr, nk = im["kr"], im["nk"]
    if nk == 1:
        g.add(make("LOAD", buf="WGT", sram=base, dram=im["reg"].addr + nbs[0] * kr * d,
                   rows=len(nbs), cols=kr, stride=kr * d, part=1,
                   note=f"wim2col nb={nbs[0]}..{nbs[-1]} ({kr} of {d} K-rows)"))
        return {nb: base + i for i, nb in enumerate(nbs)}, res
    for i, nb in enumerate(nbs):
        g.add(make("LOAD", buf="WGT", sram=base + i * nk, dram=im["reg"].addr + nb * nk * d * d,
                   rows=nk, stride=d * d, note=f"wim2col nb={nb} ({nk} K blocks)"))
    return {nb: base + i * nk for i, nb in enumerate(nbs)}, res


def _chunk(e, tile, nbs, inp, wgt) -> None:
    n, oh0, th, ow0, tw = tile
    p = th * tw
    p_base, p_res = e.chunk_params(nbs)
    acc_base, acc_res = e.slots.next("ACC")
    (woff, w_res), (ibase, i_res) = wgt, inp
    g = e.b.group("ex", reads=[i_res, w_res], writes=[acc_res])
    nk = e.ly.extra["im2col"]["nk"]
    for i, nb in enumerate(nbs):
        g.add(make("GEMM", reset=1, acc=acc_base + i * p, inp=ibase, wgt=woff[nb], rows=p,
                   kblocks=nk, inp_kstride=p if nk > 1 else 0, wgt_kstride=1,
                   note=f"im2col nb={nb} oh={oh0}+{th} ow={ow0}+{tw}"))
    store_columns(e, tile, nbs, acc_base, p_base, [acc_res, p_res])


def emit_im2col(e, t) -> None:
    """Emit layer ``e.ly`` with tiling ``t`` (order ``pim``): tiles outer, the tile's rows
    loaded once for all channel chunks, the weights of every chunk once for the layer when
    they fit a weight half (else per tile and chunk: the in-order LD engine then waits for a
    chunk's GEMMs before it loads the next tile's rows)."""
    ly = e.ly
    chunks = [list(range(b, min(ly.nblocks, b + t.nb))) for b in range(0, ly.nblocks, t.nb)]
    fit = len(chunks) == 1 or ly.nblocks * ly.extra["im2col"]["nk"] <= e.slots.cap["wgt"]
    shared = _load_weights(e, list(range(ly.nblocks))) if fit else None
    first = True
    for n in range(ly.n):
        for oh0 in range(0, ly.oh, t.th):
            for ow0 in range(0, ly.ow, t.tw):
                tile = (n, oh0, min(t.th, ly.oh - oh0), ow0, min(t.tw, ly.ow - ow0))
                inp = None
                for nbs in chunks:
                    wgt = shared or _load_weights(e, nbs)
                    if inp is None:
                        inp = e.slots.next("INP")
                        _load_columns(e, tile, inp, first)
                        first = False
                    _chunk(e, tile, nbs, inp, wgt)
