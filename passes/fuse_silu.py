"""fuse-silu: ``Mul(x, Sigmoid(x))`` (either operand order) -> ``fused.silu``.

The Sigmoid must have no other reader; the fused node defines the Mul's
output value.
"""

from __future__ import annotations

from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass

from .fusion_match import fuse, only_user, other_input


@register_pass("fuse-silu", "x * Sigmoid(x) -> fused.silu")
def fuse_silu(graph: Graph, ctx: PassContext) -> bool:
    count = 0
    for node in list(graph.nodes):
        if node not in graph.nodes or node.op != "onnx.Sigmoid":
            continue
        x = node.inputs[0]
        mul = only_user(node.outputs[0], graph)
        if mul is None or mul.op != "onnx.Mul" or other_input(mul, node.outputs[0]) is not x:
            continue
        fuse(graph, mul, "fused.silu", [x], {}, [node])
        count += 1
    ctx.note("fuse-silu", fused=count)
    return count > 0
