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
PREFETCH_SCAN = 8    # calls looked ahead for the next conv/linear whose parameters to prefetch


def consumer(ctx, nxt, y):
    """The next call if it is a conv/linear of this segment that reads ``y``, else None."""
    if not nxt or len(nxt) != 1:
        return None
    c = nxt[0]
    if c.family not in ("conv2d", "linear") or ctx.why_host(c) is not None \
            or ctx.kp.root(c.x).name != ctx.kp.root(y).name:
        return None
    return c


def next_gemm(ctx, later):
    """The prepared layer of the next conv/linear call of this segment (``later``: the groups
    of calls after the current layer and what it fuses, in order), whose parameters can load
    with the current layer's (``gemm_emit._Emitter.prefetch_params``); None if a host op or
    the end of ``later`` comes first.  The calls in between may use the parameter buffer: a
    write to the prefetched rows cancels the prefetch (``stream.Builder.prefetched``) and the
    layer loads its own."""
    if not ctx.hw.param_prefetch:
        return None
    for calls in later:
        if any(ctx.why_host(c) is not None for c in calls):
            return None
        if len(calls) == 1 and calls[0].family in ("conv2d", "linear"):
            c = calls[0]
            cl = ctx._prepared.get(id(c)) or prepare(c, ctx.ap.plan, ctx.hw)
            ctx._prepared[id(c)] = cl
            return cl
        if any(c.family in ("conv2d", "linear", "matmul") for c in calls):
            return None
    return None


def worth_prefetch(ctx, ly, t, xr, yr, out_spec, before, nxt):
    """``nxt`` if loading its parameters with layer ``ly`` (tiling ``t``) costs ``ly`` fewer
    simulated cycles (behind its producer, as its tile search) than that LOAD takes on the EX
    engine, else None: the LOAD is free where the EX engine waits for the layer's inputs
    anyway, and where it is not it would only move the same cycles from the next layer's
    start to this layer's."""
    from .timing import cost
    from .isa import make

    if nxt is None:
        return None
    with_pf = choose_tiling(ly, xr, yr, ctx.hw, 1, before=before, out_spec=out_spec, only=[t],
                            prefetch=nxt)[1]
    alone = choose_tiling(ly, xr, yr, ctx.hw, 1, before=before, out_spec=out_spec, only=[t])[1]
    d = ctx.hw.dim
    load = cost(make("LOAD", buf="PARAM", dtype="i32", rows=3 * nxt.nblocks, cols=d, stride=4 * d),
                ctx.hw)[0]
    return nxt if with_pf - alone < load else None


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
