"""fuse-gelu: the GELU subgraphs exporters emit -> ``fused.gelu``.

* erf form ``x * 0.5 * (1 + erf(x / sqrt(2)))``: the Erf argument is
  ``Div(x, 1.4142...)`` or ``Mul(x, 0.7071...)`` (either operand order); then
  ``Add(., 1)``; then the factors ``x`` and ``0.5`` in any order (0.5 applied
  first to x, last to the product, or in the middle; a Div by 2 counts as 0.5).
* tanh form ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))`` with
  ``0.044715 * x^3`` as any product tree of three ``x`` and constants
  (``Pow(x, 3)``, ``Mul(x, Mul(x, x))``, jax2tf's ``Mul(x, Mul(x, Mul(0.044715, x)))``).
* the ONNX ``Gelu`` op (opset 20).

Every inner value must be read only inside the pattern.  The fused node
defines the pattern's final value.
"""

from __future__ import annotations

import math
from typing import Optional

from qcc.ir import Graph, Node, Value
from qcc.passmanager import PassContext, register_pass

from .fusion_match import close, const_operand, fuse, only_user, other_input, product_tree, scalar

SQRT1_2 = 1 / math.sqrt(2)
SQRT_2_PI = math.sqrt(2 / math.pi)


def _scaled(v: Value, factor: float) -> Optional[tuple[Value, Node]]:
    """``v = x * factor`` (Mul by factor or Div by 1/factor): (x, node)."""
    p = v.producer
    if p is None or p.op not in ("onnx.Mul", "onnx.Div"):
        return None
    x, c = const_operand(p)
    k = scalar(c)
    if x is None or k is None:
        return None
    if p.op == "onnx.Div":
        if p.inputs[1] is not c or k == 0:
            return None
        k = 1 / k
    return (x, p) if close(k, factor) else None


def _plus_one(graph: Graph, v: Value) -> Optional[Node]:
    add = only_user(v, graph)
    if add is None or add.op != "onnx.Add" or not close(scalar(other_input(add, v)), 1.0):
        return None
    return add


def _finish(graph: Graph, x: Value, add: Node, inner: list[Node], mode: str) -> bool:
    tree = product_tree(graph, add.outputs[0], x, {"half": 0.5})
    if tree is None:
        return False
    out, nodes = tree
    nodes = inner + [add] + nodes
    for n in nodes[:-1]:
        if any(graph.is_output(o) for o in n.outputs):
            return False
    fuse(graph, out.producer, "fused.gelu", [x], {"approximate": mode}, nodes[:-1])
    return True


def _erf_form(graph: Graph, erf: Node) -> bool:
    m = _scaled(erf.inputs[0], SQRT1_2)
    if m is None or only_user(erf.inputs[0], graph) is not erf:
        return False
    x, scale = m
    add = _plus_one(graph, erf.outputs[0])
    return add is not None and _finish(graph, x, add, [scale, erf], "none")


def _scaled_cube(graph: Graph, v: Value, x: Value, factor: float) -> Optional[list[Node]]:
    """``v = factor * x^3`` as any tree of Muls whose leaves are ``x`` three times and
    scalar constants multiplying to ``factor`` (``Mul(x, Mul(x, Mul(c, x)))``, as
    jax2tf writes it, ``Mul(Pow(x, 3), c)``, ...); inner values read only inside.
    Returns the tree's nodes, or None."""
    nodes, xs, k, stack = [], 0, 1.0, [(v, True)]
    while stack:
        val, root = stack.pop()
        p = val.producer
        if val is x:
            xs += 1
            continue
        c = scalar(val)
        if c is not None:
            k *= c
            continue
        if p is None or not (root or only_user(val, graph) is not None) or len(nodes) > 4:
            return None
        if p.op == "onnx.Pow" and p.inputs[0] is x and close(scalar(p.inputs[1]), 3.0):
            xs += 3
        elif p.op == "onnx.Mul":
            stack += [(p.inputs[0], False), (p.inputs[1], False)]
        else:
            return None
        nodes.append(p)
    return nodes if xs == 3 and close(k, factor) else None


def _tanh_form(graph: Graph, tanh: Node) -> bool:
    m = _scaled(tanh.inputs[0], SQRT_2_PI)
    if m is None or only_user(tanh.inputs[0], graph) is not tanh:
        return False
    inner_v, scale = m
    p = inner_v.producer
    if p is None or p.op != "onnx.Add" or only_user(inner_v, graph) is not scale:
        return False
    for x, poly in ((p.inputs[0], p.inputs[1]), (p.inputs[1], p.inputs[0])):
        if only_user(poly, graph) is not p:
            continue
        cube = _scaled_cube(graph, poly, x, 0.044715)
        if cube is None:
            continue
        add = _plus_one(graph, tanh.outputs[0])
        if add is not None:
            return _finish(graph, x, add, cube[::-1] + [p, scale, tanh], "tanh")
    return False


@register_pass("fuse-gelu", "erf/tanh GELU subgraphs and onnx Gelu -> fused.gelu")
def fuse_gelu(graph: Graph, ctx: PassContext) -> bool:
    count = 0
    for node in list(graph.nodes):
        if node not in graph.nodes:
            continue
        if node.op == "onnx.Erf":
            count += _erf_form(graph, node)
        elif node.op == "onnx.Tanh":
            count += _tanh_form(graph, node)
        elif node.op == "onnx.Gelu":
            mode = node.attrs.get("approximate", "none")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            graph.replace_node(node, "fused.gelu", [node.inputs[0]], {"approximate": mode})
            count += 1
    graph.drop_unused_constants()
    ctx.note("fuse-gelu", fused=count)
    return count > 0
