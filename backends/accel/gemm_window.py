"""The padded-window schedule of stride-1 convolutions (tiling order ``win``).

The tap-by-tap gather of ``lower_gemm.input_loads`` costs one DMA per output row, tap and
channel block (the padding differs per tap).  For a stride-1, dilation-1 convolution the
input buffer can instead hold the tile's *padded input window* once: ``th + kh - 1``
input rows of ``Wp = ow + kw - 1`` positions each, the padding inserted by the DMA (one
LOAD per input row and channel block).  Output position ``(r, c)`` of the tile then reads
tap ``(u, v)`` at window row ``(r + u) * Wp + c + v``: for every tap the tile's rows are one
contiguous range of the buffer if the GEMM also computes the ``kw - 1`` positions past the
right edge of each output row (never stored).  One GEMM per kernel row ``u`` and input
channel block runs the ``kw`` taps as its micro-loop (input stride 1, weight stride = the
live channel blocks), accumulating into ``(th - 1) * Wp + ow`` rows; one STORE per output
row writes the valid positions.  The timing model decides between this and the gather
schedules (``choose_tiling``).
"""

from __future__ import annotations

from .hw import HwConfig
from .isa import make

MAX_PAD = 255


def window_ok(ly) -> bool:
    return (ly.kind == "conv" and tuple(ly.stride) == (1, 1) and tuple(ly.dil) == (1, 1)
            and ly.kh * ly.kw > 1 and ly.ow + ly.kw - 1 <= MAX_PAD and ly.pads[1] <= MAX_PAD)


def live_cbs(ly, nbs) -> list[int]:
    return sorted({ly.kblocks[j][2] for nb in nbs for j in ly.rel[nb]})


def geometry(ly, th: int) -> tuple[int, int]:
    """(window rows, window width Wp) of a tile of ``th`` output rows (any stride and
    dilation; ``th + kh - 1`` and ``ow + kw - 1`` for the ``win`` schedule's stride-1 convs)."""
    (sh, sw), (dh, dw) = ly.stride, ly.dil
    return (th - 1) * sh + (ly.kh - 1) * dh + 1, (ly.ow - 1) * sw + (ly.kw - 1) * dw + 1


def sizes(ly, th: int, nb: int) -> tuple[int, int]:
    """(input rows, accumulator rows per channel block) of a window tile."""
    wp = ly.ow + ly.kw - 1
    ncb = max(len(live_cbs(ly, [b])) for b in range(ly.nblocks))
    return ncb * (th + ly.kh - 1) * wp, (th - 1) * wp + ly.ow


def window_candidates(ly, hw: HwConfig, cap: dict, tiling_cls) -> list:
    if not window_ok(ly):
        return []
    out = []
    kmax = max(len(r) for r in ly.rel)
    nbs = [1] if ly.group > 1 else sorted({min(ly.nblocks, x) for x in (1, 2, 4, ly.nblocks)})
    for th in sorted({min(ly.oh, x) for x in (1, 2, 4, 8, 16, ly.oh)}):
        for nb in nbs:
            inp, acc = sizes(ly, th, nb)
            if inp <= cap["inp"] and nb * acc <= cap["acc"] and acc <= 4095 \
                    and nb * kmax <= cap["wgt"] and 3 * nb <= cap["param"]:
                out.append(tiling_cls(th, ly.ow, nb, kmax, "win"))
    return out


def window_loads(e, tile, cbs, base) -> None:
    """One LOAD per window row and input-channel block (padding by the DMA)."""
    ly, d, x = e.ly, e.d, e.x
    n, oh0, th = tile
    rows_in, wp = geometry(ly, th)
    pt, pl = ly.pads[0], ly.pads[1]
    g = e.b.group("ld", reads=[e.x_res], writes=[base[1]], rows=e.in_span(n, oh0, th))
    nvalid = max(0, min(ly.w, wp - pl))
    after = wp - pl - nvalid
    for j, cb in enumerate(cbs):
        cols = min(d, ly.c - cb * d)
        for i in range(rows_in):
            sram = base[0] + (j * rows_in + i) * wp
            ih = oh0 * ly.stride[0] - pt + i
            if not 0 <= ih < ly.h or nvalid == 0:
                for s0 in range(0, wp, MAX_PAD):
                    g.add(make("LOAD", buf="INP", sram=sram + s0, pad_before=min(MAX_PAD, wp - s0),
                               pad_val=ly.x_zp, note="pad row"))
                continue
            g.add(make("LOAD", buf="INP", dtype="i8", sram=sram,
                       dram=x.addr + ((n * ly.h + ih) * ly.w) * ly.c + cb * d, rows=nvalid,
                       cols=cols, stride=ly.c, pad_before=pl, pad_after=after,
                       pad_val=ly.x_zp, note=f"window ih={ih} cb={cb}"))


def emit_windows(e, t, chunk) -> None:
    """The tile loop of the window schedules (``win`` and ``w2d``): per tile of ``t.th``
    output rows and chunk of ``t.nb`` output-channel blocks, the chunk's weights, the
    tile's padded window (once per tile, or per chunk for grouped convs; none when the
    input is resident), then ``chunk(e, tile, nbs, (slot, cbs), woff, w_res, first)`` (with
    ``t.split`` the chunk loads its weights itself, per K chunk: ``woff`` is None)."""
    ly = e.ly
    chunks = [list(range(b, min(ly.nblocks, b + t.nb))) for b in range(0, ly.nblocks, t.nb)]
    first = True
    for n in range(ly.n):
        for oh0 in range(0, ly.oh, t.th):
            tile = (n, oh0, min(t.th, ly.oh - oh0))
            shared = None
            for nbs in chunks:
                cbs = live_cbs(ly, nbs)
                woff, w_res = (None, None) if t.split else \
                    e.load_weights(nbs, lambda nb: list(ly.rel[nb]))   # split: per K chunk
                if e.res_in is not None:  # resident: the whole padded window is in the buffer
                    shared = (None, cbs)
                elif shared is None or ly.group > 1:
                    base = e.slots.next("INP")
                    window_loads(e, tile, cbs, base)
                    shared = (base, cbs)
                chunk(e, tile, nbs, shared, woff, w_res, first)
                first = False


def emit_window(e, t) -> None:
    """Emit layer ``e.ly`` with window tiling ``t`` (``th`` output rows, ``nb`` blocks)."""
    emit_windows(e, t, _window_chunk)


def _window_chunk(e, tile, nbs, shared, woff, w_res, first) -> None:
    ly = e.ly
    n, oh0, th = tile
    wp = ly.ow + ly.kw - 1
    (inp, inp_res), cbs = shared
    rows_in = th + ly.kh - 1
    p = (th - 1) * wp + ly.ow
    p_base, p_res = e.chunk_params(nbs)
    acc_base, acc_res = e.slots.next("ACC")
    g = e.b.group("ex", reads=[inp_res, w_res], writes=[acc_res])
    for i, nb in enumerate(nbs):
        pos = {ly.kblocks[j]: k for k, j in enumerate(ly.rel[nb])}
        mine = [cb for cb in cbs if (0, 0, cb) in pos]
        first = True
        for cb in mine:
            j = cbs.index(cb)
            step = pos[(0, 1, cb)] - pos[(0, 0, cb)] if ly.kw > 1 else 1
            for u in range(ly.kh):
                g.add(make("GEMM", reset=int(first), acc=acc_base + i * p,
                           inp=inp + (j * rows_in + u) * wp, wgt=woff[nb] + pos[(u, 0, cb)],
                           rows=p, kblocks=ly.kw, inp_kstride=1, wgt_kstride=step,
                           note=f"window nb={nb} cb={cb} u={u}"))
                first = False
    e.emit_stores((n, oh0, th, 0, ly.ow), [acc_res, p_res],
                  [(acc_base + i * p + r * wp, (n * ly.oh + oh0 + r) * ly.ow, ly.ow, 1, nb,
                    p_base + 3 * i, f"out nb={nb} oh={oh0 + r}") for i, nb in enumerate(nbs)
                   for r in range(th)])
