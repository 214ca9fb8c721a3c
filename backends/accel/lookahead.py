"""Producer tilings chosen with their consumer in view (docs/target_accel.md §6).

The tile search of a conv/linear minimises its own simulated cycles, and the next
conv/linear is then searched behind it (the pair search).  A producer tiling that is
fastest alone can leave its consumer worse off (a stem in one-row tiles finishes its own
STOREs sooner, but the depthwise layer after it then runs slower), so for a small pair the
few fastest producer tilings are each followed by the consumer's own tile search, and the
producer takes the one whose pair finishes first.
"""

from __future__ import annotations

import numpy as np

from .gemm_emit import choose_tiling, emit_gemm
from .lower_gemm import prepare

ALTERNATIVES = 3     # producer tilings tried with the consumer behind them
FOLLOWERS = 4        # consumer tilings re-simulated behind the second and later alternatives
SMALL_MACS = 1 << 23  # program.PAIR_SEARCH_MACS: pairs small enough to re-simulate
BEFORE_LAYERS = 3    # producer layers re-simulated before a small layer's candidates
PREFETCH_SCAN = 8    # calls looked ahead for the next conv/linears whose parameters to prefetch
PREFETCH_LAYERS = 4  # conv/linears at most whose parameters one layer loads ahead
# global means: they load the next conv/linear's parameters themselves (program.py), while
# their first instruction waits for their producer's DRAM STORE
MEAN_FAMILIES = ("global_avgpool", "reduce")


def consumer(ctx, nxt, y):
    """The next call if it is a conv/linear of this segment that reads ``y``, else None."""
    if not nxt or len(nxt) != 1:
        return None
    c = nxt[0]
    if c.family not in ("conv2d", "linear") or ctx.why_host(c) is not None \
            or ctx.kp.root(c.x).name != ctx.kp.root(y).name:
        return None
    return c


def next_gemms(ctx, later, limit: int = PREFETCH_LAYERS, past_mean: bool = False) -> list:
    """The prepared layers of the next conv/linear calls of this segment (``later``: the groups
    of calls after the current layer and what it fuses, in order), at most ``limit``, whose
    parameters can load with the current layer's (``gemm_emit._Emitter.prefetch_params``);
    the list ends at a host op, a matmul, a group that mixes a conv with other calls or a
    global mean (the mean loads the parameters of the layer after it), and
    leaves out layers whose parameters an earlier layer already loaded (``Builder.prefetched``).
    ``past_mean``: the scan goes on past global means (``far_prefetch``).
    The calls in between may use the parameter buffer: a write to the prefetched rows cancels
    the prefetch (``stream.Builder.prefetched``) and the layer loads its own."""
    if not ctx.hw.param_prefetch:
        return []
    out = []
    for calls in later:
        mean = len(calls) == 1 and calls[0].family in MEAN_FAMILIES
        if mean and past_mean:
            continue
        if len(out) >= limit or any(ctx.why_host(c) is not None for c in calls) or mean:
            break
        if len(calls) == 1 and calls[0].family in ("conv2d", "linear"):
            c = calls[0]
            cl = ctx._prepared.get(id(c)) or prepare(c, ctx.ap.plan, ctx.hw)
            ctx._prepared[id(c)] = cl
            if cl.name not in ctx.b.prefetched:
                out.append(cl)
            continue
        if any(c.family in ("conv2d", "linear", "matmul") for c in calls):
            break
    return out


def far_prefetch(ctx, ly, t, xr, yr, out_spec, before, later, kept):
    """``kept`` (``worth_prefetch``'s choice) and, when it kept every candidate before the next
    global mean, the conv/linears past that mean whose parameters layer ``ly`` loads as well
    only where that costs it no cycle at all (simulated as ``worth_prefetch`` does).  Past a
    mean reading its input on chip (``resident.identity_pays``: one reading DRAM loads them
    itself) the LOAD is nearly free where it is: the conv/linear issues it on the EX engine
    while the ST engine stores the mean's result (one row per block), so only a LOAD that costs
    nothing here is worth moving (where a layer's EX engine waits for its input anyway)."""
    from .resident import identity_pays

    near = next_gemms(ctx, later)
    means = [cs[0] for cs in later if len(cs) == 1 and cs[0].family in MEAN_FAMILIES]
    if not ctx.hw.param_prefetch or len(kept) < len(near) or not means:
        return kept
    x = means[0].x   # a mean reading DRAM loads them itself, in its wait for that DMA
    if len(x.shape) < 3 or int(x.shape[0]) != 1:
        return kept
    if not identity_pays(ctx.hw, int(np.prod(x.shape[2:])), -(-int(x.shape[1]) // ctx.hw.dim)):
        return kept
    far = next_gemms(ctx, later, past_mean=True)[len(near):]
    if not far:
        return kept
    return worth_prefetch(ctx, ly, t, xr, yr, out_spec, before, kept + far, free_from=len(kept))


def worth_prefetch(ctx, ly, t, xr, yr, out_spec, before, cands, free_from=None):
    """The longest prefix of ``cands`` (the next conv/linears, ``next_gemms``) whose parameters
    layer ``ly`` (tiling ``t``) loads with its own: each one is kept while loading it as well
    costs ``ly`` fewer simulated cycles (behind its producer, as its tile search) than that
    LOAD takes on the EX engine. The LOAD is free where the EX engine waits for the layer's
    inputs anyway (a stem waiting for its first DMA has room for the parameters of several
    layers); where it is not, it would only move the same cycles from a later layer's start
    to this layer's."""
    from .timing import cost
    from .isa import make

    if not cands:
        return []
    d = ctx.hw.dim

    def cycles(pf):
        return choose_tiling(ly, xr, yr, ctx.hw, 1, before=before, out_spec=out_spec, only=[t],
                             prefetch=pf)[1]
    kept, base = [], cycles([])
    for k, nxt in enumerate(cands):
        load = cost(make("LOAD", buf="PARAM", dtype="i32", rows=3 * nxt.nblocks, cols=d,
                         stride=4 * d), ctx.hw)[0]
        if free_from is not None and k >= free_from:
            load = 1   # only where it costs nothing (far_prefetch)
        cyc = cycles(kept + [nxt])
        if cyc - base >= load:
            break
        kept, base = kept + [nxt], cyc
    return kept


def before_chain(ctx, x):
    """What the tile search of the layer reading ``x`` simulates before each candidate (or
    None; ``ctx._prev_gemm``: the last conv/linear emitted, linked to the one before it): the
    layers that produced its
    input when they are the previous conv/linears of this segment, each reading the one
    before's output, and small enough to re-simulate cheaply (the tiling that overlaps
    them best, not the fastest alone); up to ``BEFORE_LAYERS`` of them, so that a short
    layer's search sees its producer as it runs, behind the layer before (a stem's loads
    still occupy the LD engine while the second conv's weights load)."""
    prev = getattr(ctx, "_prev_gemm", None)
    if prev is None or prev[0] is not ctx.b or prev[5] != ctx.res(x) \
            or prev[1].macs > SMALL_MACS:
        return None
    chain = [prev]
    while len(chain) < BEFORE_LAYERS:
        up = chain[-1][8]
        if up is None or up[0] is not ctx.b or up[5] != chain[-1][9] \
                or up[1].macs > SMALL_MACS:
            break
        chain.append(up)
    hw = ctx.hw

    def before(b):   # each reads the one before's output; the last writes the input x
        for k, (_, pl, pt, pxr, pyr, _, pspec, pnext, _, _) in enumerate(reversed(chain)):
            xres = ("DRAM", "w") if k == len(chain) - 1 else ("DRAM", f"w{k}")
            yres = ("DRAM", "x") if k == len(chain) - 1 else ("DRAM", f"w{k + 1}")
            if k == len(chain) - 2:
                yres = ("DRAM", "w")
            emit_gemm(pl, pt, pxr, pyr, hw, b, xres, yres, pspec, pnext)
    return before


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
