"""Pattern-matching helpers shared by the fusion passes (not a pass).

Every fusion replaces the *last* node of a matched pattern with
``graph.replace_node`` so that the fused node defines the very same output
value (name, type, graph-output status): calibration statistics are keyed by
value name.  The inner nodes are then removed once nothing reads them.
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from qcc.ir import Graph, Node, Value


def scalar(v: Optional[Value]) -> Optional[float]:
    """The value of a constant holding one number (any shape of size 1)."""
    if v is None or not v.is_const or v.data.size != 1 or v.data.dtype.kind not in "fiu":
        return None
    return float(v.data.reshape(-1)[0])


def close(a: Optional[float], b: float, rtol: float = 1e-4) -> bool:
    return a is not None and abs(a - b) <= rtol * max(abs(b), 1e-12)


def only_user(v: Value, graph: Graph) -> Optional[Node]:
    """The single node reading ``v`` (once), if ``v`` is not a graph output."""
    if len(v.users) != 1 or graph.is_output(v):
        return None
    return v.users[0]


def private(v: Value, graph: Graph) -> bool:
    """``v`` is read only inside the pattern: at most by the nodes that follow."""
    return not graph.is_output(v)


def other_input(node: Node, v: Value) -> Optional[Value]:
    """For a binary node with ``v`` as one input, the other input."""
    if len(node.inputs) != 2:
        return None
    a, b = node.inputs
    if a is v:
        return b
    if b is v:
        return a
    return None


def const_operand(node: Node) -> tuple[Optional[Value], Optional[Value]]:
    """(non-constant input, constant input) of a binary node, else (None, None)."""
    if len(node.inputs) != 2 or node.inputs[0] is None or node.inputs[1] is None:
        return None, None
    a, b = node.inputs
    if b.is_const and not a.is_const:
        return a, b
    if a.is_const and not b.is_const:
        return b, a
    return None, None


def fuse(graph: Graph, root: Node, op: str, inputs: list[Optional[Value]], attrs: dict,
         inner: Iterable[Node]) -> Node:
    """Replace ``root`` (the pattern's last node) by ``op`` and drop dead inner nodes."""
    new = graph.replace_node(root, op, inputs, attrs)
    remove_dead(graph, inner)
    return new


def remove_dead(graph: Graph, nodes: Iterable[Node]) -> None:
    """Remove the given nodes whose outputs nobody reads (users first)."""
    nodes = [n for n in nodes if n in graph.nodes]
    changed = True
    while changed:
        changed = False
        for n in list(nodes):
            if all(not v.users and not graph.is_output(v) for v in n.outputs):
                graph.remove_node(n)
                nodes.remove(n)
                changed = True


def producer(v: Optional[Value], op: str) -> Optional[Node]:
    """``v``'s producer if it is an ``op`` node."""
    if v is None or v.producer is None or v.producer.op != op:
        return None
    return v.producer


def product_tree(graph: Graph, start: Value, x: Value, need: dict[str, float]) -> \
        Optional[tuple[Value, list[Node]]]:
    """Follow single-user Mul/Div nodes from ``start`` collecting the factors
    ``x`` and constant numbers (``need``: {"k": value}), in any order: each
    factor may come as a direct operand, as ``Mul(x, c)`` feeding the chain,
    or as a Div by ``1/c``.  Returns (final value, nodes) once every factor
    was met, else None."""
    want_x = True
    consts = dict(need)
    cur, nodes = start, []
    for _ in range(1 + len(need) + 1):
        if not want_x and not consts:
            return cur, nodes
        user = only_user(cur, graph)
        if user is None or user.op not in ("onnx.Mul", "onnx.Div"):
            return None
        other = other_input(user, cur)
        if other is None or (user.op == "onnx.Div" and user.inputs[0] is not cur):
            return None
        got = _factor(graph, user, other, x, want_x, consts, nodes)
        if got is None:
            return None
        want_x = want_x and not got
        nodes.append(user)
        cur = user.outputs[0]
    return (cur, nodes) if not want_x and not consts else None


def _factor(graph, user, other, x, want_x, consts, nodes) -> Optional[bool]:
    """Consume one factor; True if it was ``x`` (or contained x), False if a constant."""
    if user.op == "onnx.Mul" and other is x and want_x:
        return True
    c = scalar(other)
    if c is not None:
        c = 1.0 / c if user.op == "onnx.Div" and c != 0 else c
        for k, v in list(consts.items()):
            if close(c, v):
                del consts[k]
                return False
        return None
    sub = producer(other, "onnx.Mul")
    if user.op == "onnx.Mul" and want_x and sub is not None and only_user(other, graph) is user:
        xx, cc = const_operand(sub)
        c = scalar(cc)
        if xx is x and c is not None:
            for k, v in list(consts.items()):
                if close(c, v):
                    del consts[k]
                    nodes.append(sub)
                    return True
    return None


def broadcast_channel(data: np.ndarray, rank: int, channels: int, axis: int = 1) -> Optional[np.ndarray]:
    """A constant that broadcasts over a rank-``rank`` tensor varying only along
    ``axis`` (size 1 or ``channels``) as a 1-D ``[channels]`` array, else None."""
    if data.ndim > rank:
        return None
    shape = (1,) * (rank - data.ndim) + data.shape
    for i, d in enumerate(shape):
        if i != axis % rank and d != 1:
            return None
    if shape[axis % rank] not in (1, channels):
        return None
    return np.broadcast_to(data.reshape(-1), (channels,)).copy()
