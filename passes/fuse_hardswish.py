"""fuse-hardswish: hard-swish / hard-sigmoid subgraphs -> ``fused.hardswish`` /
``fused.hardsigmoid``.

Matched forms (constants compared with 1e-4 relative tolerance):

* ``Mul(x, HardSigmoid(x; alpha=1/6, beta=1/2))`` and the ONNX ``HardSwish`` op;
* ``x * Clip(x + 3, 0, 6) / 6`` with the factors ``x`` and ``1/6`` (Mul by
  0.1666.. or Div by 6) in any order -- ``Clip(., 0, 6)`` is how exporters
  spell ReLU6, so ``x * Relu6(x + 3) * (1/6)`` is the same pattern;
* ``Clip(x + 3, 0, 6) / 6`` alone and the ONNX ``HardSigmoid`` op ->
  ``fused.hardsigmoid`` (alpha, beta).

The fused node defines the pattern's final value.
"""

from __future__ import annotations

from typing import Optional

from qcc.ir import Graph, Node, Value
from qcc.passmanager import PassContext, register_pass

from .fusion_match import close, const_operand, fuse, only_user, other_input, product_tree, scalar
from .fuse_activation import _clip_bounds

SIXTH = 1 / 6


def _relu6_of_x_plus_3(graph: Graph, clip: Node) -> Optional[tuple[Value, Node]]:
    """``clip = Clip(x + 3, 0, 6)``: (x, add node)."""
    b = _clip_bounds(clip)
    if b is None or b != (0.0, 6.0):
        return None
    add = clip.inputs[0].producer
    if add is None or add.op != "onnx.Add" or only_user(add.outputs[0], graph) is not clip:
        return None
    x, c = const_operand(add)
    if x is None or not close(scalar(c), 3.0):
        return None
    return x, add


def _from_clip(graph: Graph, clip: Node) -> Optional[str]:
    m = _relu6_of_x_plus_3(graph, clip)
    if m is None:
        return None
    x, add = m
    tree = product_tree(graph, clip.outputs[0], x, {"sixth": SIXTH})
    if tree is not None:
        out, nodes = tree
        fuse(graph, out.producer, "fused.hardswish", [x], {}, [add, clip] + nodes[:-1])
        return "hardswish"
    user = only_user(clip.outputs[0], graph)
    if user is None or user.op not in ("onnx.Mul", "onnx.Div"):
        return None
    c = scalar(other_input(user, clip.outputs[0]))
    if user.op == "onnx.Div":
        c = 1 / c if c and user.inputs[1] is not clip.outputs[0] else None
    if not close(c, SIXTH):
        return None
    fuse(graph, user, "fused.hardsigmoid", [x], {"alpha": SIXTH, "beta": 0.5}, [add, clip])
    return "hardsigmoid"


def _from_hardsigmoid(graph: Graph, hs: Node) -> Optional[str]:
    x = hs.inputs[0]
    alpha, beta = float(hs.attrs.get("alpha", 0.2)), float(hs.attrs.get("beta", 0.5))
    mul = only_user(hs.outputs[0], graph)
    if mul is not None and mul.op == "onnx.Mul" and other_input(mul, hs.outputs[0]) is x \
            and close(alpha, SIXTH) and close(beta, 0.5):
        fuse(graph, mul, "fused.hardswish", [x], {}, [hs])
        return "hardswish"
    graph.replace_node(hs, "fused.hardsigmoid", [x], {"alpha": alpha, "beta": beta})
    return "hardsigmoid"


@register_pass("fuse-hardswish", "x*HardSigmoid(x), x*Clip(x+3,0,6)/6, onnx HardSwish -> "
                                 "fused.hardswish; Clip(x+3,0,6)/6, HardSigmoid -> fused.hardsigmoid")
def fuse_hardswish(graph: Graph, ctx: PassContext) -> bool:
    counts = {"hardswish": 0, "hardsigmoid": 0}
    for node in list(graph.nodes):
        if node not in graph.nodes or not node.outputs[0].dtype.is_float:
            continue
        kind = None
        if node.op == "onnx.Clip":
            kind = _from_clip(graph, node)
        elif node.op == "onnx.HardSigmoid":
            kind = _from_hardsigmoid(graph, node)
        elif node.op == "onnx.HardSwish":
            graph.replace_node(node, "fused.hardswish", [node.inputs[0]], {})
            kind = "hardswish"
        if kind:
            counts[kind] += 1
    graph.drop_unused_constants()
    ctx.note("fuse-hardswish", **counts)
    return any(counts.values())
