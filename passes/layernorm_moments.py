"""The "moments" LayerNorm (not a pass; ``fuse-layernorm`` calls it).

jax/flax LayerNorm as jax2tf exports it computes the variance from the first two
moments, over any axes (not only the trailing ones)::

    m   = ReduceSum(x, A) * (1/n)            # or ReduceMean; keepdims 0 or 1
    m2  = ReduceSum(x * x, A) * (1/n)        # x * x or Pow(x, 2)
    var = [Max(0, ] m2 - m * m [)]           # then an optional Reshape to keepdims
    r   = Reciprocal(Sqrt(var + eps)) [* gamma]
    y   = (x - [Reshape] m) * r [+ beta]     # gamma / beta constant, varying over A only

Over trailing axes ``A`` it becomes ``fused.layernorm``; over other axes the
normalised axes are moved last with a ``Transpose`` on each side (data movement:
the integer LayerNorm then reads a contiguous row).  The new tensors inherit the
calibrated ranges of ``x`` and ``y`` (a transposition keeps every value).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc.ir import Graph, Node, TensorType, Value

from .fusion_match import const_operand, fuse, other_input, scalar


def _users(v: Value, graph: Graph) -> list[Node]:
    return [] if graph.is_output(v) else list(dict.fromkeys(v.users))


def _one(v: Value, graph: Graph, op: str) -> Optional[Node]:
    u = _users(v, graph)
    return u[0] if len(u) == 1 and u[0].op == op else None


def _red_axes(node: Node) -> Optional[tuple]:
    """(sorted axes, keepdims) of a ReduceSum/ReduceMean with constant axes."""
    if node.op not in ("onnx.ReduceSum", "onnx.ReduceMean"):
        return None
    rank = node.inputs[0].type.rank
    if "axes" in node.attrs:
        axes = node.attrs["axes"]
    elif len(node.inputs) > 1 and node.inputs[1] is not None and node.inputs[1].is_const:
        axes = node.inputs[1].data.reshape(-1).tolist()
    else:
        return None
    axes = tuple(sorted({int(a) % rank for a in axes}))
    return (axes, int(node.attrs.get("keepdims", 1))) if axes else None


def _mean(graph: Graph, red: Node, n: int) -> Optional[tuple[Value, list[Node]]]:
    """The reduction's output divided by ``n``: (mean value, nodes)."""
    if red.op == "onnx.ReduceMean":
        return red.outputs[0], [red]
    u = _users(red.outputs[0], graph)
    if len(u) != 1 or u[0].op not in ("onnx.Mul", "onnx.Div"):
        return None
    _, c = const_operand(u[0])
    k = scalar(c)
    if k is None or k == 0:
        return None
    k = 1.0 / k if u[0].op == "onnx.Div" else k
    if u[0].op == "onnx.Div" and u[0].inputs[1] is not c:
        return None
    return (u[0].outputs[0], [red, u[0]]) if abs(k * n - 1.0) < 1e-5 else None


def _square(node: Node, v: Value) -> bool:
    if node.op == "onnx.Pow":
        return node.inputs[0] is v and scalar(node.inputs[1]) == 2.0
    return node.op == "onnx.Mul" and node.inputs[0] is v and node.inputs[1] is v


def _second_moment(graph: Graph, x: Value, key: tuple, n: int) -> Optional[tuple[Value, list[Node]]]:
    for sq in _users(x, graph):
        if not _square(sq, x):
            continue
        red = _users(sq.outputs[0], graph)
        if len(red) == 1 and _red_axes(red[0]) == key:
            got = _mean(graph, red[0], n)
            if got is not None:
                return got[0], [sq] + got[1]
    return None


def _variance_to_scale(graph: Graph, var: Node) -> Optional[tuple[Value, list[Node], float]]:
    """var -> [Max(0)] -> [Reshape] -> Add(eps) -> Sqrt -> Reciprocal: (r, nodes, eps)."""
    nodes, v = [], var.outputs[0]
    for op in ("onnx.Max", "onnx.Reshape"):
        u = _users(v, graph)
        if len(u) == 1 and u[0].op == op and (op == "onnx.Reshape" or scalar(other_input(u[0], v)) == 0.0):
            nodes.append(u[0])
            v = u[0].outputs[0]
    add = _one(v, graph, "onnx.Add")
    eps = scalar(other_input(add, v)) if add is not None else None
    sqrt = _one(add.outputs[0], graph, "onnx.Sqrt") if eps is not None else None
    rec = _one(sqrt.outputs[0], graph, "onnx.Reciprocal") if sqrt is not None else None
    if rec is None:
        return None
    return rec.outputs[0], nodes + [add, sqrt, rec], eps


def _affine(c: Optional[Value], xshape: tuple, axes: tuple) -> Optional[np.ndarray]:
    """A constant varying only over ``axes``, as an array of their sizes."""
    if c is None or not c.is_const or not c.dtype.is_float or c.data.ndim > len(xshape):
        return None
    d = c.data.reshape((1,) * (len(xshape) - c.data.ndim) + c.data.shape)
    if any(d.shape[i] != 1 for i in range(len(xshape)) if i not in axes):
        return None
    try:
        return np.broadcast_to(d.reshape([d.shape[a] for a in axes]), [xshape[a] for a in axes]).copy()
    except ValueError:
        return None


def match(graph: Graph, red: Node):
    """Match from the first-moment reduction: (x, axes, eps, gamma, beta, nodes) or None;
    ``nodes`` ends with the node that defines ``y``."""
    key = _red_axes(red)
    x = red.inputs[0]
    if key is None or not x.dtype.is_float or any(_square(u, x) for u in [x.producer] if u):
        return None
    axes = key[0]
    n = int(np.prod([x.shape[a] for a in axes]))
    first, second = _mean(graph, red, n), _second_moment(graph, x, key, n)
    if first is None or second is None:
        return None
    m, nodes = first[0], first[1] + second[1]
    mu = _users(m, graph)
    msq = next((u for u in mu if _square(u, m)), None)
    var = _one(msq.outputs[0], graph, "onnx.Sub") if msq is not None else None
    if var is None or var.inputs != [second[0], msq.outputs[0]] or len(_users(second[0], graph)) != 1:
        return None
    tail = _variance_to_scale(graph, var)
    rest = [u for u in mu if u is not msq]
    kshape = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
    if tail is None or len(rest) != 1 or tail[0].shape != kshape:
        return None  # the scale must broadcast as the kept-dims statistic
    nodes += [msq, var] + tail[1]
    return _normalise(graph, x, axes, m, rest[0], tail, nodes)


def _normalise(graph, x, axes, m, user, tail, nodes):
    """(x - [Reshape] m) * (r [* gamma]) [+ beta]."""
    kshape = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
    if user.op == "onnx.Reshape":
        nodes.append(user)
        m = user.outputs[0]
        user = _one(m, graph, "onnx.Sub")
    if user is None or user.op != "onnx.Sub" or user.inputs[0] is not x or m.shape != kshape:
        return None
    r, _, eps = tail
    gamma = np.ones([x.shape[a] for a in axes], x.dtype.np)
    g = _one(r, graph, "onnx.Mul")
    if g is not None and g.inputs[0] is not user.outputs[0] and g.inputs[1] is not user.outputs[0]:
        gamma = _affine(other_input(g, r), x.shape, axes)
        if gamma is None:
            return None
        nodes.append(g)
        r = g.outputs[0]
    mul = _one(user.outputs[0], graph, "onnx.Mul")
    if mul is None or other_input(mul, user.outputs[0]) is not r or len(_users(r, graph)) != 1 \
            or mul.outputs[0].shape != x.shape:
        return None
    nodes += [user, mul]
    beta = np.zeros_like(gamma)
    add = _one(mul.outputs[0], graph, "onnx.Add")
    if add is not None and add.outputs[0].shape == x.shape:
        b = _affine(const_operand(add)[1], x.shape, axes)
        if b is not None and const_operand(add)[0] is mul.outputs[0]:
            beta = b
            nodes.append(add)
    return x, axes, eps, gamma, beta, nodes


def fuse_moments(graph: Graph, red: Node) -> bool:
    got = match(graph, red)
    if got is None:
        return False
    x, axes, eps, gamma, beta, nodes = got
    if any(graph.is_output(o) for n in nodes[:-1] for o in n.outputs):
        return False
    dt, rank, last = x.dtype.np, x.type.rank, nodes[-1]
    sv = graph.add_const(f"{red.name}.ln_scale", gamma.astype(dt))
    bv = graph.add_const(f"{red.name}.ln_bias", beta.astype(dt))
    attrs = {"axis": rank - len(axes), "epsilon": float(eps)}
    if axes == tuple(range(rank - len(axes), rank)):
        fuse(graph, last, "fused.layernorm", [x, sv, bv], attrs, nodes[:-1])
        return True
    perm = [a for a in range(rank) if a not in axes] + list(axes)
    tshape = tuple(x.shape[a] for a in perm)
    ranges = graph.meta.get("ranges")
    y = last.outputs[0]
    xt = graph.make("onnx.Transpose", [x], [TensorType(x.dtype, tshape)], {"perm": perm},
                    name=f"{red.name}.ln_in", before=last).outputs[0]
    yt = graph.make("fused.layernorm", [xt, sv, bv], [TensorType(x.dtype, tshape)], attrs,
                    name=f"{red.name}.ln", before=last).outputs[0]
    if ranges is not None:  # a transposition keeps every value: the same ranges
        for new, old in ((xt, x), (yt, y)):
            if old.name in ranges:
                ranges[new.name] = ranges[old.name]
    fuse(graph, last, "onnx.Transpose", [yt], {"perm": [int(i) for i in np.argsort(perm)]}, nodes[:-1])
    return True
