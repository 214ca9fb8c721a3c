"""Producer -> consumer channel links shared by equalize, smoothquant and
reorder-channels (not a pass).

A :class:`Link` is a hidden channel dimension between a *producer* that writes
it (``fused.conv`` output channels, ``fused.linear`` output columns,
``fused.layernorm`` gamma/beta) and *consumers* that reduce over it
(``fused.conv`` input channels, ``fused.linear`` weight rows), possibly through
a chain of single-reader per-channel ops.  Rewriting the producer's output
channels and every consumer's input channels the same way keeps the float
function.  What a chain may contain depends on the rewrite: any elementwise or
per-channel op (a depthwise conv included: its filters and bias move with their
channel) commutes with a permutation, only positively homogeneous ones (ReLU,
pooling, Flatten/Reshape of a ``[N, C, 1, 1]`` map, a depthwise conv with
activation none/relu, its bias scaled too) with a per-channel scale.  Readers of
the hidden tensor that are not consumers (a residual Add, a graph output) get
the original channels back through an inserted ``onnx.Gather`` (permutation) or
a per-channel layer (scale) when ``restore`` is allowed; otherwise the link is
skipped.  Reshapes into attention heads, Concat and Split are not chain ops,
so links never cross them; the one attention pattern handled is
:func:`head_link` (value -> heads -> ``P @ v`` -> output projection), whose
permutations stay inside each head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from qcc.errors import PassError
from qcc.ir import Graph, Node, Value

UNARY = {"onnx.Relu", "onnx.LeakyRelu", "onnx.Sigmoid", "onnx.Tanh", "onnx.Elu", "onnx.Softplus",
         "onnx.Identity", "onnx.Clip", "fused.gelu", "fused.silu", "fused.hardswish",
         "fused.hardsigmoid"}
POOLS = {"onnx.MaxPool", "onnx.AveragePool", "onnx.GlobalAveragePool", "onnx.GlobalMaxPool"}
PERM_CHAIN = UNARY | POOLS | {"onnx.Flatten", "onnx.Reshape"}
SCALE_CHAIN = {"onnx.Relu", "onnx.Identity", "onnx.Flatten", "onnx.Reshape"} | POOLS
SCALE_ACTS = {"none", "relu"}


@dataclass
class Link:
    producer: Node
    chain: list[Node]
    tensor: Value              # the value the consumers read
    consumers: list[Node]
    others: list[Node] = field(default_factory=list)  # readers that need the original channels
    channels: int = 0
    restored: Optional[Value] = None  # the value those readers get instead (after a rewrite)
    gathered: Optional[Value] = None  # a LayerNorm producer's permuted input or output
    heads: int = 1  # > 1: value projection -> attention heads -> output projection

    @property
    def axis(self) -> int:
        """Channel axis of ``tensor``."""
        return 1 if self.tensor.type.rank == 4 else self.tensor.type.rank - 1

    @property
    def changed(self) -> list[Value]:
        """Values whose contents a per-channel scale changes."""
        return [self.producer.outputs[0]] + [n.outputs[0] for n in self.chain]


def _act(node: Node) -> str:
    return str(node.attrs.get("activation", "none") or "none")


def _producer_channels(node: Node, scale: bool) -> Optional[int]:
    if node.op == "fused.conv":
        w = node.inputs[1]
        ok = w.is_const and int(node.attrs.get("group", 1)) == 1 and node.outputs[0].type.rank == 4
        out = w.shape[0] if ok else None
    elif node.op == "fused.linear":
        out = node.inputs[1].shape[1] if node.inputs[1].is_const and node.inputs[1].type.rank == 2 else None
    elif node.op == "fused.layernorm":
        x = node.inputs[0]
        ok = int(node.attrs.get("axis", -1)) % max(x.type.rank, 1) == x.type.rank - 1
        out = x.shape[-1] if ok and node.inputs[1].is_const else None
        return out if len(node.inputs) < 3 or node.inputs[2] is None or node.inputs[2].is_const else None
    else:
        return None
    if out is None or len(node.inputs) > 2 and node.inputs[2] is not None and not node.inputs[2].is_const:
        return None
    if scale and (_act(node) not in SCALE_ACTS or node.attrs.get("pre_act")):
        return None
    return out


def is_depthwise(node: Node, v: Value) -> bool:
    """A depthwise ``fused.conv`` reading ``v`` (one constant [C, 1, kH, kW] filter per
    channel): a per-channel op that permutations and scales pass through."""
    if node.op != "fused.conv" or len(node.inputs) < 2 or node.inputs[0] is not v or v.type.rank != 4:
        return False
    w, c = node.inputs[1], v.shape[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    return (w.is_const and w.type.rank == 4 and int(node.attrs.get("group", 1)) == c == w.shape[0]
            and w.shape[1] == 1 and (b is None or b.is_const))


def _chain_ok(node: Node, v: Value, ops: set) -> bool:
    if is_depthwise(node, v):  # scaling needs a positively homogeneous activation
        return ops is PERM_CHAIN or (_act(node) in SCALE_ACTS and not node.attrs.get("pre_act"))
    if node.op not in ops or node.inputs[0] is not v:
        return False
    if any(o.users for o in node.outputs[1:]):
        return False
    if node.op in ("onnx.Flatten", "onnx.Reshape"):  # [N, C, 1, 1] -> [N, C] keeps channel order
        s = v.shape
        return v.type.rank == 4 and s[2] == 1 and s[3] == 1 and node.outputs[0].shape == s[:2]
    if any(i is not None and not (i.is_const and i.data.size == 1) for i in node.inputs[1:]):
        return False
    if node.op in POOLS:
        return v.type.rank == 4
    return True


def _consumer_ok(node: Node, v: Value, c: int) -> bool:
    if node.op not in ("fused.conv", "fused.linear") or len(node.inputs) < 2 \
            or node.inputs[0] is not v or any(i is v for i in node.inputs[1:]):
        return False
    w = node.inputs[1]
    if node.op == "fused.conv":
        return (w.is_const and int(node.attrs.get("group", 1)) == 1 and v.type.rank == 4
                and w.shape[1] == c)
    if node.op == "fused.linear":
        return w.is_const and w.type.rank == 2 and w.shape[0] == c and v.shape[-1] == c
    return False


def find_links(graph: Graph, scale: bool = False, restore: bool = True) -> list[Link]:
    """Every legal link of the graph (a producer appears at most once)."""
    links = []
    ops = SCALE_CHAIN if scale else PERM_CHAIN
    for p in graph.nodes:
        c = _producer_channels(p, scale)
        if c is None or graph.is_output(p.outputs[0]):
            continue
        v, chain = p.outputs[0], []
        while len(v.users) == 1 and not graph.is_output(v) and _chain_ok(v.users[0], v, ops):
            chain.append(v.users[0])
            v = v.users[0].outputs[0]
        cons = [u for u in v.users if _consumer_ok(u, v, c)]
        others = [u for u in v.users if u not in cons]
        if not cons or (others or graph.is_output(v)) and not restore:
            continue
        if graph.is_output(v) or len(set(id(u) for u in v.users)) != len(v.users):
            continue
        links.append(Link(p, chain, v, cons, others, c))
    return links


def _sole_user(graph: Graph, v: Value) -> Optional[Node]:
    return v.users[0] if len(v.users) == 1 and not graph.is_output(v) else None


def _swaps_1_2(n: Optional[Node]) -> bool:
    return n is not None and n.op == "onnx.Transpose" and list(n.attrs.get("perm") or []) == [0, 2, 1, 3]


def head_link(graph: Graph, p: Node) -> Optional[Link]:
    """The attention value path ``v = x W_v`` -> Reshape [B, T, H, D] -> Transpose ->
    ``P @ v`` -> Transpose -> Reshape [B, T, C] -> output projection(s), as a link whose
    permutations must stay inside each head (``heads`` = H): ``P @ v`` mixes tokens, never
    channels, so a within-head channel permutation of v reaches the output projection's
    rows unchanged."""
    if p.op != "fused.linear" or _producer_channels(p, False) is None or p.outputs[0].type.rank != 3:
        return None
    v = p.outputs[0]
    c = v.shape[-1]
    r1 = _sole_user(graph, v)
    if r1 is None or r1.op != "onnx.Reshape" or r1.inputs[0] is not v:
        return None
    hs = r1.outputs[0].shape
    if len(hs) != 4 or tuple(hs[:2]) != tuple(v.shape[:2]) or hs[2] * hs[3] != c:
        return None
    t1 = _sole_user(graph, r1.outputs[0])
    mm = _sole_user(graph, t1.outputs[0]) if _swaps_1_2(t1) else None
    if mm is None or mm.op != "onnx.MatMul" or mm.inputs[1] is not t1.outputs[0] \
            or mm.inputs[0] is t1.outputs[0]:
        return None
    t2 = _sole_user(graph, mm.outputs[0])
    r2 = _sole_user(graph, t2.outputs[0]) if _swaps_1_2(t2) else None
    if r2 is None or r2.op != "onnx.Reshape" or tuple(r2.outputs[0].shape) != tuple(v.shape):
        return None
    out = r2.outputs[0]
    cons = [u for u in out.users if _consumer_ok(u, out, c)]
    if graph.is_output(out) or not cons or len(cons) != len(out.users):
        return None
    return Link(p, [r1, t1, mm, t2, r2], out, cons, [], c, heads=int(hs[2]))


def find_head_links(graph: Graph) -> list[Link]:
    return [lk for lk in (head_link(graph, p) for p in graph.nodes) if lk is not None]


# -- constant rewriting ----------------------------------------------------------------
def set_const(graph: Graph, node: Node, i: int, data: np.ndarray, tag: str) -> None:
    """Give ``node`` a fresh constant at input ``i`` (constants may be shared)."""
    old = node.inputs[i]
    node.set_input(i, graph.add_const(f"{old.name}.{tag}", np.asarray(data, old.dtype.np), old.dtype))


def _out_view(p: Node) -> list[tuple[int, int]]:
    """(input index, axis) of the producer's per-output-channel constants."""
    if p.op == "fused.conv":
        return [(1, 0), (2, 0)]
    if p.op == "fused.linear":
        return [(1, 1), (2, 0)]
    return [(1, 0), (2, 0)]  # layernorm gamma, beta


def _map_const(graph: Graph, node: Node, i: int, axis: int, fn, tag: str) -> None:
    if i >= len(node.inputs) or node.inputs[i] is None:
        return
    d = np.moveaxis(node.inputs[i].data.astype(np.float64), axis, 0)
    set_const(graph, node, i, np.moveaxis(fn(d), 0, axis), tag)


def _cons_axis(c: Node) -> int:
    return 1 if c.op == "fused.conv" else 0


def permute(graph: Graph, link: Link, perm: np.ndarray, tag: str = "perm") -> None:
    """New channel ``i`` = old channel ``perm[i]``."""
    perm = np.asarray(perm, np.int64)
    for c in link.consumers:
        _map_const(graph, c, 1, _cons_axis(c), lambda d: d[perm], tag)
    for n in link.chain:
        if n.op == "fused.conv":  # depthwise: filter and bias move with their channel
            for i in (1, 2):
                _map_const(graph, n, i, 0, lambda d: d[perm], tag)
    if link.producer.op == "fused.layernorm":
        _permute_layernorm(graph, link, perm, tag)
        return
    for i, ax in _out_view(link.producer):
        _map_const(graph, link.producer, i, ax, lambda d: d[perm], tag)
    if link.others:
        inv = graph.add_const(f"{link.tensor.name}.unperm", np.argsort(perm).astype(np.int64))
        _restore(graph, link, "onnx.Gather", [inv], {"axis": link.axis})


def _permute_layernorm(graph: Graph, link: Link, perm: np.ndarray, tag: str) -> None:
    """LayerNorm statistics are permutation-invariant: with no other reader, gather its
    input and permute gamma/beta; with other readers (a post-LN residual), gather its
    output for the consumers only.  One Gather either way."""
    ln, v = link.producer, link.tensor
    idx = graph.add_const(f"{v.name}.perm", perm)
    if not link.others:
        x = ln.inputs[0]
        n = graph.make("onnx.Gather", [x, idx], [x.type], {"axis": x.type.rank - 1},
                       name=f"{ln.name}.perm_in", before=ln, out_names=[f"{x.name}.perm"])
        ln.set_input(0, n.outputs[0])
        for i, ax in _out_view(ln):
            _map_const(graph, ln, i, ax, lambda d: d[perm], tag)
        link.gathered = n.outputs[0]
        return
    n = graph.make("onnx.Gather", [v, idx], [v.type], {"axis": v.type.rank - 1},
                   name=f"{ln.name}.perm_out", before=graph.nodes[graph.nodes.index(ln) + 1],
                   out_names=[f"{v.name}.perm"])
    for c in link.consumers:
        c.set_input(0, n.outputs[0])
    link.gathered = n.outputs[0]


def scale(graph: Graph, link: Link, s: np.ndarray, tag: str = "scaled") -> None:
    """Hidden channel ``j`` becomes ``x_j / s_j``; consumers' rows absorb ``s_j``."""
    s = np.asarray(s, np.float64)
    for i, ax in _out_view(link.producer):
        _map_const(graph, link.producer, i, ax, lambda d: d / s.reshape((-1,) + (1,) * (d.ndim - 1)), tag)
    for c in link.consumers:
        _map_const(graph, c, 1, _cons_axis(c), lambda d: d * s.reshape((-1,) + (1,) * (d.ndim - 1)), tag)
    for n in link.chain:
        if n.op == "fused.conv":  # depthwise: dw(x / s) + b / s = (dw(x) + b) / s
            _map_const(graph, n, 2, 0, lambda d: d / s, tag)
    if link.others:  # x = x' * s: a per-channel weight the quantizer keeps exact (one value/channel)
        c, name = s.size, f"{link.tensor.name}.unscale"
        if link.axis == 1 and link.tensor.type.rank == 4:
            w = graph.add_const(name, s.reshape(c, 1, 1, 1).astype(np.float32))
            _restore(graph, link, "fused.conv", [w], {"group": c, "kernel_shape": [1, 1]})
        else:
            w = graph.add_const(name, np.diag(s).astype(np.float32))
            _restore(graph, link, "fused.linear", [w], {"activation": "none"})


def _restore(graph: Graph, link: Link, op: str, args: list, attrs: dict) -> None:
    """Give the non-consumer readers the original channels (a node right before the first)."""
    v = link.tensor
    first = min(graph.nodes.index(u) for u in link.others)
    n = graph.make(op, [v] + args, [v.type], attrs, name=f"{v.name}.restore",
                   before=graph.nodes[first], out_names=[f"{v.name}.restored"])
    link.restored = n.outputs[0]
    for u in link.others:
        for i, x in enumerate(u.inputs):
            if x is v:
                u.set_input(i, n.outputs[0])


# -- weight statistics -----------------------------------------------------------------
def producer_absmax(p: Node) -> np.ndarray:
    """max |W| per output channel of a conv/linear producer."""
    w = p.inputs[1].data.astype(np.float64)
    return np.abs(w).reshape(w.shape[0], -1).max(axis=1) if p.op == "fused.conv" else np.abs(w).max(axis=0)


def consumer_absmax(c: Node) -> np.ndarray:
    """max |W| per input channel of a conv/linear consumer."""
    w = c.inputs[1].data.astype(np.float64)
    if c.op == "fused.conv":
        return np.abs(np.swapaxes(w, 0, 1)).reshape(w.shape[1], -1).max(axis=1)
    return np.abs(w).max(axis=1)


# -- calibration data -------------------------------------------------------------------
def samples(graph: Graph, ctx, pass_name: str) -> list[dict]:
    data = ctx.calib_data()
    if data is None:
        raise PassError(f"pass '{pass_name}' needs calibration data: give --calib CALIB.npz")
    return data.samples(graph, ctx.opt("max_calib_samples"))


def channel_stats(graph: Graph, links: list[Link], feeds: list[dict]) -> dict[str, np.ndarray]:
    """Per-channel [max, min, mean-square] of each link's hidden tensor over the samples."""
    from qcc.interp import Interpreter

    names = {lk.tensor.name: lk.axis for lk in links}
    acc: dict[str, list] = {}
    it = Interpreter(graph)
    for s in feeds:
        res = it.run(s, capture=set(names))
        for k, ax in names.items():
            a = np.moveaxis(np.asarray(res[k], np.float64), ax, 0).reshape(res[k].shape[ax], -1)
            cur = np.stack([a.max(axis=1), a.min(axis=1), (a * a).mean(axis=1)])
            if k in acc:
                o = acc[k]
                acc[k] = [np.maximum(o[0], cur[0]), np.minimum(o[1], cur[1]), o[2] + cur[2], o[3] + 1]
            else:
                acc[k] = [cur[0], cur[1], cur[2], 1]
    return {k: np.stack([v[0], v[1], v[2] / v[3]]) for k, v in acc.items()}


def copy_ranges(graph: Graph, ctx, pairs: list[tuple[str, str]]) -> None:
    """ranges[dst] = ranges[src] in graph.meta["ranges"]."""
    r = graph.meta.get("ranges")
    if r is not None:
        for src, dst in pairs:
            if src in r:
                r[dst] = r[src]
                obs = getattr(r, "observers", None)
                if obs is not None and src in obs:
                    obs[dst] = obs[src]


def recalibrate(graph: Graph, ctx, values: list[Value], feeds: list[dict]) -> int:
    """Re-measure the ranges of ``values`` (their contents changed) with the method the
    ranges were measured with, and store them in graph.meta["ranges"].  Returns how
    many were updated."""
    from qcc.calibration.api import calibrate

    targets = [r for r in (graph.meta.get("ranges"),) if r is not None]
    if not targets or not values:
        return 0
    from qcc.npzio import stack_samples

    method = getattr(targets[0], "method", None) or "minmax"
    pct = getattr(targets[0], "percentile", 99.99)
    fresh = calibrate(graph, stack_samples(feeds), method, pct, quiet=True, engine="interpreter")
    names = {v.name for v in values} & set(fresh)
    for r in targets:
        for k in names:
            r[k] = fresh[k]
            if hasattr(r, "observers") and k in fresh.observers:
                r.observers[k] = fresh.observers[k]
    return len(names)


