"""The two-level window schedule (tiling order ``w2d``, ISA v3 GEMM ``loop2d``).

Like the padded-window schedule (``gemm_window.py``) the input buffer holds a tile's padded
input window once: ``rows_in = (th - 1) * sh + (kh - 1) * dh + 1`` input rows of
``Wp = (ow - 1) * sw + (kw - 1) * dw + 1`` positions, one LOAD per window row and channel
block with the padding inserted by the DMA.  Output position ``(r, c)`` reads tap ``(u, v)``
at window row ``(r * sh + u * dh) * Wp + c * sw + v * dw``.  That address is two-level in
both the output position and the tap, which the v3 GEMM address generator expresses
(CONFIG GEMM_ROWS ``(ow, sh * Wp, sw)``, CONFIG GEMM_TAPS ``(kw, dh * Wp)``, the GEMM's
``inp_kstride = dw``): one GEMM per output-channel block and input-channel block runs every
tap as its micro-loop over exactly the tile's ``th * ow`` positions.  Compared with the
``win`` schedule no position past a row's end is computed, strided convolutions are
covered, and there is one array fill/drain per channel block instead of one per kernel row;
compared with the gather schedules the input is loaded once instead of once per tap.  For
a depthwise layer (one diagonal block per tap) this removes the per-tap gather DMAs that
made those layers load-bound.  The timing model decides between this and the other
schedules (``gemm_emit.choose_tiling``).
"""

from __future__ import annotations

from .gemm_window import emit_windows, geometry, live_cbs
from .hw import HwConfig
from .isa import make
from .lower_gemm import MAX_DMA_ROWS, MAX_PAD

MAX_ROW_STEP = 255   # CONFIG c is 8 bits


def _tap_step(ly, nb: int) -> int | None:
    """Weight-block stride between consecutive taps of one input-channel block of output
    block ``nb`` (the GEMM's ``wgt_kstride``), or None if the taps are not evenly spaced."""
    pos = {ly.kblocks[j]: k for k, j in enumerate(ly.rel[nb])}
    step = None
    for cb in {cb for (_, _, cb) in pos}:
        first = pos.get((0, 0, cb))
        for t in range(ly.kh * ly.kw):
            k = pos.get((t // ly.kw, t % ly.kw, cb))
            if first is None or k is None:
                return None
            if t == 1:
                step = step if step is not None else k - first
                if k - first != step:
                    return None
            if t and k != first + t * step:
                return None
    return step if step is not None else 1


def loop2d_ok(ly) -> bool:
    if ly.kind != "conv" or ly.kh * ly.kw < 2:
        return False
    _, wp = geometry(ly, 1)
    pl = ly.pads[1]
    return (max(ly.stride[1], ly.dil[1]) <= MAX_ROW_STEP and pl <= MAX_PAD and ly.w <= MAX_DMA_ROWS
            and max(0, wp - pl - ly.w) <= MAX_PAD and ly.kh * ly.kw <= 4095
            and all(_tap_step(ly, nb) is not None and _tap_step(ly, nb) <= 1023
                    for nb in range(ly.nblocks)))


def loop2d_candidates(ly, hw: HwConfig, cap: dict, tiling_cls) -> list:
    if not loop2d_ok(ly):
        return []
    out = []
    kmax = max(len(r) for r in ly.rel)
    nbs = sorted({min(ly.nblocks, x) for x in (1, 2, 4, ly.nblocks)})
    for th in sorted({min(ly.oh, x) for x in (1, 2, 4, 7, 8, 14, 16, 28, ly.oh)}):
        rows_in, wp = geometry(ly, th)
        p = th * ly.ow
        for nb in nbs:
            ncb = max(len(live_cbs(ly, list(range(b, min(ly.nblocks, b + nb)))))
                      for b in range(0, ly.nblocks, nb))
            if ncb * rows_in * wp <= cap["inp"] and nb * p <= cap["acc"] and p <= 4095 \
                    and nb * kmax <= cap["wgt"] and 3 * nb <= cap["param"]:
                out.append(tiling_cls(th, ly.ow, nb, kmax, "w2d"))
    return out


def emit_loop2d(e, t) -> None:
    """Emit layer ``e.ly`` with tiling ``t`` (``th`` output rows, ``nb`` blocks per chunk)."""
    emit_windows(e, t, _chunk)


def _chunk(e, tile, nbs, shared, woff, w_res, configure: bool) -> None:
    ly = e.ly
    n, oh0, th = tile
    slot, cbs = shared
    rows_in, wp = geometry(ly, th)
    (sh, sw), (dh, dw) = ly.stride, ly.dil
    p = th * ly.ow
    if e.all_params is not None:
        p_base, p_res = e.all_params[0] + 3 * nbs[0], e.all_params[1]
    else:
        p_base, p_res = e.params(nbs)
    acc_base, acc_res = e.slots.next("ACC")
    res = e.res_in
    if res is not None:  # the tile's window inside the resident region (its rows of positions)
        def window(cb):
            return res.base + cb * res.plane + oh0 * sh * wp
        g = e.b.group("ex", reads=[res.data_res, res.pad_res, w_res], writes=[acc_res],
                      rows=e.res_rows(n, oh0, th, cbs))
    else:
        def window(cb):
            return slot[0] + cbs.index(cb) * rows_in * wp
        g = e.b.group("ex", reads=[slot[1], w_res], writes=[acc_res])
    if configure:  # the EX engine runs the layer's instructions in order: once per layer
        g.add(make("CONFIG", reg="GEMM_ROWS", a=ly.ow, b=sh * wp, c=sw,
                   note=f"rows: {ly.ow} per output row, window width {wp}"))
        g.add(make("CONFIG", reg="GEMM_TAPS", a=ly.kw, b=dh * wp, note=f"taps: {ly.kw} per kernel row"))
    for i, nb in enumerate(nbs):
        pos = {ly.kblocks[j]: k for k, j in enumerate(ly.rel[nb])}
        step = _tap_step(ly, nb)
        for k, cb in enumerate(cb for cb in cbs if (0, 0, cb) in pos):
            g.add(make("GEMM", reset=int(k == 0), acc=acc_base + i * p, inp=window(cb),
                       wgt=woff[nb] + pos[(0, 0, cb)], rows=p, kblocks=ly.kh * ly.kw,
                       inp_kstride=dw, wgt_kstride=step, loop2d=1,
                       note=f"w2d nb={nb} cb={cb} taps={ly.kh * ly.kw} rows={p}"))
    e.store((n, oh0, th, 0, ly.ow), nbs, acc_base, acc_res, p_base, p_res)
