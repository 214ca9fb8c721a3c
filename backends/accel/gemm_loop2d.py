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
                # K split by kernel rows: the next rows' weights load behind this row's GEMMs
                for r in sorted({1, -(-ly.kh // 2)} - {ly.kh}):
                    out.append(tiling_cls(th, ly.ow, nb, kmax * r // ly.kh, "w2d", True))
    return out


def _row_chunks(ly, t) -> list[tuple[int, int]]:
    """Kernel-row ranges ``[u0, u1)`` of the K chunks of a ``w2d`` tiling: one for all of K,
    ``tk / (kmax / kh)`` kernel rows each when ``t.split`` (the blocks of a kernel row are
    consecutive in ``ly.rel``: ``(u, v, cb)``, u slowest)."""
    if not t.split:
        return [(0, ly.kh)]
    r = max(1, t.tk * ly.kh // max(len(rel) for rel in ly.rel))
    return [(u, min(ly.kh, u + r)) for u in range(0, ly.kh, r)]


def emit_loop2d(e, t) -> None:
    """Emit layer ``e.ly`` with tiling ``t`` (``th`` output rows, ``nb`` blocks per chunk; with
    ``t.split`` the weights and GEMMs in chunks of kernel rows)."""
    rows = _row_chunks(e.ly, t)
    emit_windows(e, t, lambda *a: _chunk(*a, rows=rows))


def _chunk(e, tile, nbs, shared, woff, w_res, configure: bool, rows=None) -> None:
    ly = e.ly
    n, oh0, th = tile
    slot, cbs = shared
    rows_in, wp = geometry(ly, th)
    (sh, sw), (dh, dw) = ly.stride, ly.dil
    p = th * ly.ow
    p_base, p_res = e.chunk_params(nbs)
    acc_base, acc_res = e.slots.next("ACC")
    res = e.res_in
    if res is not None:  # the tile's window inside the resident region (its rows of positions)
        def window(cb):
            return res.base + cb * res.plane + oh0 * sh * wp
        reads, span = [res.data_res, res.pad_res], e.res_rows(n, oh0, th, cbs)
    else:
        def window(cb):
            return slot[0] + cbs.index(cb) * rows_in * wp
        reads, span = [slot[1]], None
    half = e.slots.next("WGT") if woff is None else None
    at = half[0] if half else 0
    for u0, u1 in rows or [(0, ly.kh)]:
        first = {}
        if half:   # K split: this chunk's kernel rows, into their own interval of the half
            def ks_of(nb, u0=u0, u1=u1):
                return [j for j in ly.rel[nb] if u0 <= ly.kblocks[j][0] < u1]
            size = sum(len(ks_of(nb)) for nb in nbs)
            woff, w_res = e.load_weights(nbs, ks_of, (at, ("WGT", at, at + size)))
            at += size
            first = {nb: ly.rel[nb].index(ks_of(nb)[0]) for nb in nbs}
        g = e.b.group("ex", reads=reads + [w_res], writes=[acc_res], rows=span)
        if configure:  # the EX engine runs the layer's instructions in order: once per layer
            g.add(make("CONFIG", reg="GEMM_ROWS", a=ly.ow, b=sh * wp, c=sw,
                       note=f"rows: {ly.ow} per output row, window width {wp}"))
            g.add(make("CONFIG", reg="GEMM_TAPS", a=ly.kw, b=dh * wp,
                       note=f"taps: {ly.kw} per kernel row"))
            configure = False
        taps = (u1 - u0) * ly.kw
        for i, nb in enumerate(nbs):
            pos = {ly.kblocks[j]: k for k, j in enumerate(ly.rel[nb])}
            step = _tap_step(ly, nb)
            for k, cb in enumerate(cb for cb in cbs if (0, 0, cb) in pos):
                g.add(make("GEMM", reset=int(k == 0 and u0 == 0), acc=acc_base + i * p,
                           inp=window(cb) + u0 * dh * wp,
                           wgt=woff[nb] + pos[(u0, 0, cb)] - first.get(nb, 0), rows=p,
                           kblocks=taps, inp_kstride=dw, wgt_kstride=step, loop2d=1,
                           note=f"w2d nb={nb} cb={cb} taps={taps} (rows {u0}..{u1 - 1}) rows={p}"))
    e.store((n, oh0, th, 0, ly.ow), nbs, acc_base, acc_res, p_base, p_res)
