"""reorder-channels: permute hidden channels so that per-group weight
quantization puts outlier channels together (RPTQ / Atom style).

For every link producer -> (per-channel ops) -> consumers (docs/lowbit.md:
Conv->Conv, Linear->Linear, LayerNorm->Linear with gamma/beta permuted, through
elementwise ops and depthwise convs; never across Concat/Split; attention value ->
output projection with a permutation inside each head) it picks a
permutation ``p`` of the hidden channels, rewrites the producer's output
channels (``W[p]`` / ``W[:, p]``, ``b[p]``, LayerNorm ``gamma[p]``,
``beta[p]``) and the consumers' input channels (conv ``W[:, p]``, linear
``W[p, :]``).  Other readers of the hidden tensor (a residual Add) get the
original order back through an inserted ``onnx.Gather`` (pure data movement).

Keys, per hidden channel j: ``w_j`` = max over consumers of max|W_in[j]|
(each consumer normalised by its largest row), ``a_j`` = max|x_j| over the
calibration data.
* ``sort``: ascending ``w_j`` (weights only; outliers end up last), so rows
  of similar magnitude share a weight group.
* ``cluster``: k-means on ``(log w_j, log a_j)`` with ``ceil(C / group)``
  clusters (RPTQ), clusters ordered by their mean ``w``, ascending ``w``
  inside a cluster.  Needs ``--calib``.
With ``--outlier-8bit N`` the last N channels of each consumer's reduction
axis (the largest keys) are recorded in ``graph.meta["outlier_8bit"]`` and the
quantizer keeps their weight groups at 8 bits while the rest use
``--weight-bits``.  Per-tensor activation ranges do not change under a
permutation, so no re-calibration is needed; the Gather output inherits its
input's range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from qcc.errors import PassError
from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass

from . import channel_links as ch

MODES = ("sort", "cluster")


def weight_key(link: ch.Link) -> np.ndarray:
    keys = [ch.consumer_absmax(c) for c in link.consumers]
    return np.max([k / max(float(k.max()), 1e-30) for k in keys], axis=0)


def kmeans_1d_order(feat: np.ndarray, key: np.ndarray, k: int, iters: int = 50) -> np.ndarray:
    """Permutation grouping k-means clusters of ``feat`` [C, d] (deterministic init at
    quantiles of ``key``), clusters by ascending mean key, ascending key inside."""
    c = feat.shape[0]
    k = max(1, min(k, c))
    f = (feat - feat.mean(0)) / np.maximum(feat.std(0), 1e-12)
    order = np.argsort(key, kind="stable")
    centers = f[order[np.linspace(0, c - 1, k).round().astype(int)]]
    labels = np.zeros(c, int)
    for _ in range(iters):
        d = ((f[:, None, :] - centers[None]) ** 2).sum(-1)
        new = d.argmin(1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            if np.any(labels == j):
                centers[j] = f[labels == j].mean(0)
    rank = np.argsort(np.argsort([key[labels == j].mean() if np.any(labels == j) else np.inf
                                  for j in range(k)]))
    return np.lexsort((key, rank[labels]))


def _order(w: np.ndarray, a, mode: str, group: int) -> np.ndarray:
    if mode == "sort":
        return np.argsort(w, kind="stable")
    feat = np.stack([np.log(np.maximum(w, 1e-12)), np.log(np.maximum(a, 1e-12))], axis=1)
    return kmeans_1d_order(feat, w, -(-w.size // max(group, 1)))


def choose_perm(link: ch.Link, mode: str, stats, group: int) -> np.ndarray:
    """The permutation of a link; for an attention value link, one per head (block
    diagonal: a channel never leaves its head)."""
    w = weight_key(link)
    a = None if mode == "sort" else np.maximum(np.abs(stats[0]), np.abs(stats[1]))
    d = link.channels // link.heads
    return np.concatenate([h * d + _order(w[h * d:(h + 1) * d], None if a is None else a[h * d:(h + 1) * d],
                                          mode, group) for h in range(link.heads)])


def _gather_src(lk: ch.Link) -> str:
    g = lk.gathered
    return g.producer.inputs[0].name


@dataclass(frozen=True)
class ReorderOptions:
    reorder_channels: Optional[str] = None  # --reorder-channels sort|cluster
    outlier_8bit: Optional[int] = None      # --outlier-8bit N
    group_size: Optional[int] = None        # --group-size (the groups to fill; 32 when unset)

    def __post_init__(self):
        if not self.reorder_channels:
            if self.outlier_8bit:
                raise PassError("--outlier-8bit needs --reorder-channels sort|cluster (the outlier "
                                "channels must be made contiguous first)")
        elif self.reorder_channels not in MODES:
            raise PassError(f"--reorder-channels must be one of {', '.join(MODES)}, "
                            f"got '{self.reorder_channels}'")


@register_pass("reorder-channels", "permute hidden channels so weight groups hold similar "
                                   "channels (--reorder-channels sort|cluster, --outlier-8bit N)",
               options=ReorderOptions)
def reorder_channels(graph: Graph, ctx: PassContext) -> bool:
    o = ctx.options_of(ReorderOptions)
    mode, keep = o.reorder_channels, o.outlier_8bit
    if not mode:
        return False
    links = ch.find_links(graph, scale=False, restore=True) + ch.find_head_links(graph)
    stats = {}
    if mode == "cluster" and links:
        stats = ch.channel_stats(graph, links, ch.samples(graph, ctx, "reorder-channels"))
    group = int(o.group_size or 32)
    outl = dict(graph.meta.get("outlier_8bit") or {})
    moved = 0
    for lk in links:
        perm = choose_perm(lk, mode, stats.get(lk.tensor.name), group)
        if keep and lk.heads == 1:  # within-head orders leave no trailing outlier block
            if not 0 < int(keep) <= lk.channels:
                raise PassError(f"--outlier-8bit {keep} is not in [1, {lk.channels}] for the "
                                f"{lk.channels} channels read by '{lk.consumers[0].name}'")
            outl.update({c.name: int(keep) for c in lk.consumers})
        if np.array_equal(perm, np.arange(lk.channels)):
            continue
        ch.permute(graph, lk, perm)
        moved += 1
    if keep:
        graph.meta["outlier_8bit"] = outl
    graph.drop_unused_constants()
    ch.copy_ranges(graph, ctx, [(lk.tensor.name, lk.restored.name) for lk in links if lk.restored]
                   + [(_gather_src(lk), lk.gathered.name) for lk in links if lk.gathered])
    ctx.note("reorder-channels", mode=mode, links=len(links), permuted=moved,
             restored=sum(1 for lk in links if lk.restored), outlier_8bit=keep,
             layers=[[lk.producer.name, [c.name for c in lk.consumers]] for lk in links])
    return moved > 0 or bool(keep)
