"""equalize: cross-layer equalization (DFQ, Nagel et al. 2019) of Conv/Linear pairs.

For every producer conv/linear whose output is read only by consumer
convs/linears (one, or several as in SqueezeNet's expand 1x1/3x3 pair) through
positively homogeneous ops only (ReLU, pooling, Flatten of a 1x1 map; producer
activation none or relu), with ``r1_i`` = max |W1| of output channel i and
``r2_i`` = max |W2| of input channel i over all consumers, it sets
``s_i = sqrt(r1_i * r2_i) / r2_i`` and rewrites ``W1_i, b1_i /= s_i``,
``W2[:, i] *= s_i``, so both ranges become ``sqrt(r1_i * r2_i)`` and the float
function is unchanged (``relu(x / s) = relu(x) / s`` for ``s > 0``).  Chains
of pairs are swept until no scale moves by more than 1e-4 (at most 20 sweeps).
Channels where either range is 0 keep ``s = 1``.

Runs only with ``--equalize`` (``ctx.options["equalize"]``).  The producer's
output (and the chain's values) change, so their calibrated ranges are
re-measured on the calibration data with the method used by ``calibrate``
(graph.meta["ranges"] is updated in place; other ranges are untouched).
High-bias absorption and bias correction are not done.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass

from . import channel_links as ch

MAX_SWEEPS = 20
TOL = 1e-4


def equalize_graph(graph: Graph) -> tuple[list, int]:
    """Apply CLE to every eligible pair; returns (links, sweeps)."""
    links = [lk for lk in ch.find_links(graph, scale=True, restore=False)
             if lk.producer.op in ("fused.conv", "fused.linear")]
    sweeps = 0
    for sweeps in range(1, MAX_SWEEPS + 1):
        worst = 0.0
        for lk in links:
            r1 = ch.producer_absmax(lk.producer)
            r2 = np.max([ch.consumer_absmax(c) for c in lk.consumers], axis=0)
            ok = (r1 > 0) & (r2 > 0)
            s = np.ones_like(r1)
            s[ok] = np.sqrt(r1[ok] * r2[ok]) / r2[ok]
            worst = max(worst, float(np.max(np.abs(np.log(s)))) if s.size else 0.0)
            if np.any(s != 1.0):
                ch.scale(graph, lk, s, tag="cle")
        if worst < TOL:
            break
    return links, sweeps


@dataclass(frozen=True)
class EqualizeOptions:
    equalize: bool = False  # --equalize


@register_pass("equalize", "cross-layer equalization (DFQ) of conv/linear pairs (--equalize)",
               options=EqualizeOptions)
def equalize(graph: Graph, ctx: PassContext) -> bool:
    if not ctx.options_of(EqualizeOptions).equalize:
        return False
    links, sweeps = equalize_graph(graph)
    if not links:
        ctx.note("equalize", pairs=0)
        return False
    graph.drop_unused_constants()
    changed = [v for lk in links for v in lk.changed]
    n = ch.recalibrate(graph, ctx, changed, ch.samples(graph, ctx, "equalize")) \
        if graph.meta.get("ranges") is not None else 0
    ctx.note("equalize", pairs=len(links), sweeps=sweeps, recalibrated=n,
             layers=[[lk.producer.name, [c.name for c in lk.consumers]] for lk in links])
    return True
