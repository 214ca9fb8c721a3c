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
"""

from __future__ import annotations

import numpy as np

from .gemm_pack import _clip, store_columns, window_rows
from .isa import make
from .lower_gemm import MAX_DMA_ROWS, MAX_PAD, _pad_loads


def im2col_ok(ly, d: int) -> bool:
    return (ly.kind == "conv" and ly.group == 1 and ly.kh > 1 and ly.kw > 1
            and ly.kh * ly.kw * ly.c <= d and tuple(ly.dil) == (1, 1))


def prepare_im2col(ly, wd: np.ndarray, plan, d: int) -> None:
    """Store an eligible layer's one weight block per output-channel block (its first
    ``kh*kw*C`` K-rows, loaded as v6 partial blocks) in DRAM: ``ly.extra['im2col']``."""
    if not im2col_ok(ly, d):
        return
    m, c, kh, kw = wd.shape
    nN = -(-m // d)
    kr = kh * kw * c
    w = np.zeros((nN * d, kr), np.int8)                     # [n][(u*kw + v)*C + ci]
    w[:m] = wd.transpose(0, 2, 3, 1).reshape(m, kr)
    blocks = w.reshape(nN, d, kr).transpose(0, 2, 1)        # [nN, k < kr, n]
    reg = plan.add_const(ly.name + ".wim2col", np.ascontiguousarray(blocks), "i8")
    ly.extra["im2col"] = {"reg": reg, "kr": kr}


def im2col_candidates(ly, hw, cap: dict, tiling_cls) -> list:
    if ly.extra.get("im2col") is None or not hw.im2col_load:
        return []
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
                if not (nb * p <= cap["acc"] and p <= 4095 and nb <= cap["wgt"]
                        and 3 * nb <= cap["param"] and p <= cap["inp"]):
                    continue
                out.append(tiling_cls(th, tw, nb, 1, "pim"))
                if 2 * p <= cap["inp"] and 2 * nb * p <= cap["acc"]:  # four slots
                    out.append(tiling_cls(th, tw, nb, 1, "pim", bufs=4))
    out.sort(key=lambda t: (-t.th * t.tw, -t.nb, t.bufs))
    return out


def _load_columns(e, tile, base, first: bool) -> None:
    """One im2col LOAD per output column: the ``th`` rows of its positions."""
    ly, x = e.ly, e.x
    n, oh0, th, ow0, tw = tile
    wr = window_rows(ly, th)
    sh, sw = ly.stride
    g = e.b.group("ld", reads=[e.x_res], writes=[base[1]], rows=e.in_span(n, oh0, th))
    if first:   # the LD engine runs in program order: set once per layer
        g.add(make("CONFIG", reg="IM2COL", a=ly.kh, b=sh, c=ly.kw * ly.c,
                   note=f"im2col: {ly.kh} pieces of {ly.kw * ly.c} lanes, step {sh}"))
    ihs = oh0 * sh - ly.pads[0] + np.arange(wr)
    ok = (ihs >= 0) & (ihs < ly.h)
    nvalid = int(ok.sum())
    before = int(np.argmax(ok)) if nvalid else wr
    after = wr - before - nvalid
    for c in range(tw):
        sram = base[0] + c * th
        a, b = _clip(ly, ow0 + c, 0, ly.kw)
        real = ly.kw - a - b
        if real <= 0 or nvalid == 0:
            for ins in _pad_loads(sram, th, ly.x_zp, "pad column"):
                g.add(ins)
            continue
        iw = (ow0 + c) * sw - ly.pads[1] + a
        dram = x.addr + ((n * ly.h + int(ihs[before])) * ly.w + iw) * ly.c
        if a:   # the a taps left of the input: each piece's data from lane a*C
            g.add(make("CONFIG", reg="LOAD_OUTER", a=1, b=0, c=a * ly.c, d=0,
                       note=f"1 copy, data from lane {a * ly.c}"))
        g.add(make("LOAD", buf="INP", dtype="i8", sram=sram, dram=dram, rows=nvalid,
                   cols=real * ly.c, stride=ly.w * ly.c, pad_before=before, pad_after=after,
                   pad_val=ly.x_zp, outer=int(a > 0), im2col=1,
                   note=f"im2col ow={ow0 + c}" + (f" lanes {a * ly.c}+" if a else "")))


def _load_weights(e, nbs):
    ly, d = e.ly, e.d
    im = ly.extra["im2col"]
    base, res = e.slots.next("WGT")
    g = e.b.group("ld", writes=[res])
    kr = im["kr"]
    g.add(make("LOAD", buf="WGT", sram=base, dram=im["reg"].addr + nbs[0] * kr * d,
               rows=len(nbs), cols=kr, stride=kr * d, part=1,
               note=f"wim2col nb={nbs[0]}..{nbs[-1]} ({kr} of {d} K-rows)"))
    return {nb: base + i for i, nb in enumerate(nbs)}, res


def _chunk(e, tile, nbs, inp, wgt) -> None:
    n, oh0, th, ow0, tw = tile
    p = th * tw
    p_base, p_res = e.chunk_params(nbs)
    acc_base, acc_res = e.slots.next("ACC")
    (woff, w_res), (ibase, i_res) = wgt, inp
    g = e.b.group("ex", reads=[i_res, w_res], writes=[acc_res])
    for i, nb in enumerate(nbs):
        g.add(make("GEMM", reset=1, acc=acc_base + i * p, inp=ibase, wgt=woff[nb], rows=p,
                   kblocks=1, inp_kstride=0, wgt_kstride=1,
                   note=f"im2col nb={nb} oh={oh0}+{th} ow={ow0}+{tw}"))
    store_columns(e, tile, nbs, acc_base, p_base, [acc_res, p_res])


def emit_im2col(e, t) -> None:
    """Emit layer ``e.ly`` with tiling ``t`` (order ``pim``): tiles outer, the tile's rows
    loaded once for all channel chunks, the weights once for the layer when they fit."""
    ly = e.ly
    chunks = [list(range(b, min(ly.nblocks, b + t.nb))) for b in range(0, ly.nblocks, t.nb)]
    shared = _load_weights(e, chunks[0]) if len(chunks) == 1 else None
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
