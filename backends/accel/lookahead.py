"""Producer tilings chosen with their consumer in view (docs/target_accel.md §6).

The tile search of a conv/linear minimises its own simulated cycles, and the next
conv/linear is then searched behind it (the pair search).  A producer tiling that is
fastest alone can leave its consumer worse off (a stem in one-row tiles finishes its own
STOREs sooner, but the depthwise layer after it then runs slower), so for a small pair the
few fastest producer tilings are each followed by the consumer's own tile search, and the
producer takes the one whose pair finishes first.
"""

from __future__ import annotations

from .gemm_emit import choose_tiling, emit_gemm
from .lower_gemm import prepare

ALTERNATIVES = 3     # producer tilings tried with the consumer behind them
FOLLOWERS = 4        # consumer tilings re-simulated behind the second and later alternatives
SMALL_MACS = 1 << 23  # program.PAIR_SEARCH_MACS: pairs small enough to re-simulate


def consumer(ctx, nxt, y):
    """The next call if it is a conv/linear of this segment that reads ``y``, else None."""
    if not nxt or len(nxt) != 1:
        return None
    c = nxt[0]
    if c.family not in ("conv2d", "linear") or ctx.why_host(c) is not None \
            or ctx.kp.root(c.x).name != ctx.kp.root(y).name:
        return None
    return c


def next_gemm(ctx, nxt):
    """The prepared layer of the next call when it is a conv/linear on the accelerator (its
    parameters can load with the current layer's: ``gemm_emit._Emitter.prefetch_params``),
    else None."""
    if not ctx.hw.param_prefetch or not nxt or len(nxt) != 1:
        return None
    c = nxt[0]
    if c.family not in ("conv2d", "linear") or ctx.why_host(c) is not None:
        return None
    cl = ctx._prepared.get(id(c)) or prepare(c, ctx.ap.plan, ctx.hw)
    ctx._prepared[id(c)] = cl
    return cl


def pick(ctx, ly, ranked, xr, yr, out_spec, before, cons, prefetch=None):
    """(tiling, its cycles): the producer tiling among the best ``ALTERNATIVES`` of
    ``ranked`` (``(cycles, i, tiling)``, the fastest alone first) after which the consumer
    call ``cons``, searched with the budget its own search will have, finishes first; the
    fastest alone if the pair is not small or there is nothing to choose."""
    alts = sorted(ranked)[:ALTERNATIVES]
    if cons is None or len(alts) < 2 or ly.macs > SMALL_MACS:
        return alts[0][2], alts[0][0]
    cl = ctx._prepared.get(id(cons)) or prepare(cons, ctx.ap.plan, ctx.hw)
    ctx._prepared[id(cons)] = cl
    if cl.macs > SMALL_MACS:
        return alts[0][2], alts[0][0]
    hw = ctx.hw
    search = 2 * ctx.search     # the consumer's own budget (small layers: twice the base)
    best, follow = None, None
    for own, _, tp in alts:
        def bef(b, tp=tp):
            if before is not None:
                before(b)
            emit_gemm(ly, tp, xr, yr, hw, b, ("DRAM", "w"), ("DRAM", "x"), out_spec, prefetch)
        # the consumer's full search behind the fastest producer; behind the others only the
        # consumer tilings that came out best there (a producer changes when the consumer's
        # tiles can start, rarely which consumer tiling wins)
        ranked: list = []
        _, pair, _ = choose_tiling(cl, ctx.region(cons.x), ctx.region(cons.y), hw, search,
                                   before=bef, ranked=ranked, only=follow)
        if follow is None:
            follow = [t for _, _, t in sorted(ranked)[:FOLLOWERS]]
        if best is None or pair < best[0]:
            best = (pair, tp, own)
    return best[1], best[2]
