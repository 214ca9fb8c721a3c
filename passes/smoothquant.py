"""smoothquant: migrate activation outliers into the next layer's weights
(SmoothQuant, Xiao et al. 2023).

For every hidden tensor X read by conv/linear consumers and written by a
LayerNorm (gamma/beta), a linear or a conv (producer activation none or relu;
only ReLU/pooling/Flatten between), with ``a_j = max |X_j|`` over the
calibration data and ``w_j = max |W_j|`` over the input channel j of all
consumers, the pass sets ``s_j = max(a_j^alpha / w_j^(1 - alpha), 1e-5)``
(``s_j = 1`` where a_j or w_j is 0), divides the producer's channel j by
``s_j`` and multiplies every consumer's input row j by ``s_j``.  At
``alpha = 0.5`` this makes ``max |X'_j| == max |W'_j|``.  Other readers of X
(a post-LN residual Add, say) get ``X' * s`` back through an inserted
per-channel layer (a diagonal ``fused.linear``, or a depthwise 1x1
``fused.conv`` for NCHW tensors) whose int8 weights are exact (one value per
channel); its output takes X's old calibrated range.

Runs only with ``--smoothquant ALPHA`` (``ctx.options["smoothquant"]``, in
(0, 1)).  Needs calibration data (``--calib``); the changed tensors' ranges
are re-measured with the method ``calibrate`` used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from qcc.errors import PassError
from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass

from . import channel_links as ch

MIN_SCALE = 1e-5


def smooth_scales(act_absmax: np.ndarray, w_absmax: np.ndarray, alpha: float) -> np.ndarray:
    ok = (act_absmax > 0) & (w_absmax > 0)
    s = np.ones_like(act_absmax, dtype=np.float64)
    s[ok] = np.maximum(act_absmax[ok] ** alpha / w_absmax[ok] ** (1.0 - alpha), MIN_SCALE)
    return s


@dataclass(frozen=True)
class SmoothQuantOptions:
    smoothquant: Optional[float] = None  # --smoothquant ALPHA in (0, 1); None/False: off

    def __post_init__(self):
        a = self.smoothquant
        if a is not None and a is not False and not 0.0 < float(a) < 1.0:
            raise PassError(f"--smoothquant ALPHA must be in (0, 1), got {float(a)}")


@register_pass("smoothquant", "migrate activation outliers into the next weights (--smoothquant ALPHA)",
               options=SmoothQuantOptions)
def smoothquant(graph: Graph, ctx: PassContext) -> bool:
    alpha = ctx.options_of(SmoothQuantOptions).smoothquant
    if alpha is None or alpha is False:
        return False
    alpha = float(alpha)
    links = ch.find_links(graph, scale=True, restore=True)
    if not links:
        ctx.note("smoothquant", links=0)
        return False
    feeds = ch.samples(graph, ctx, "smoothquant")
    stats = ch.channel_stats(graph, links, feeds)
    for lk in links:
        st = stats[lk.tensor.name]
        a = np.maximum(np.abs(st[0]), np.abs(st[1]))
        w = np.max([ch.consumer_absmax(c) for c in lk.consumers], axis=0)
        ch.scale(graph, lk, smooth_scales(a, w, alpha), tag="sq")
    graph.drop_unused_constants()
    ch.copy_ranges(graph, ctx, [(lk.tensor.name, lk.restored.name) for lk in links if lk.restored])
    changed = [v for lk in links for v in lk.changed]
    n = ch.recalibrate(graph, ctx, changed, feeds)
    ctx.note("smoothquant", links=len(links), alpha=alpha, recalibrated=n,
             restored=sum(1 for lk in links if lk.others),
             layers=[[lk.producer.name, [c.name for c in lk.consumers]] for lk in links])
    return True
