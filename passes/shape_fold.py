"""shape-fold: make shape computations static.

All tensor types are static after import, so ``Shape``/``Size`` of any value
are constants; replacing them lets constant folding collapse the exporters'
Shape -> Gather -> Concat -> Reshape chains, ConstantOfShape, Range and
Expand arguments.  Reshape-like ops whose target is now known
(Flatten, Squeeze, Unsqueeze, Reshape with -1/0) become one ``Reshape``
with an explicit constant shape, and no-op reshapes/expands disappear.
"""

import numpy as np

from qcc.ir import Graph
from qcc.ir.rewrite import bypass, fold_node, static_value
from qcc.passmanager import PassContext, register_pass

RESHAPES = {"onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Reshape"}


def _as_reshape(graph: Graph, node) -> bool:
    out = node.outputs[0]
    x = node.inputs[0]
    if node.op == "onnx.Reshape" and node.inputs[1].is_const and \
            list(node.inputs[1].data) == list(out.shape) and not node.attrs.get("allowzero"):
        return False
    shape = graph.add_const(f"{node.name}.shape", np.array(out.shape, np.int64))
    graph.replace_node(node, "onnx.Reshape", [x, shape])
    return True


@register_pass("shape-fold", "fold Shape/Size and shape subgraphs; canonical static Reshape")
def shape_fold(graph: Graph, ctx: PassContext) -> bool:
    changed = 0
    for node in list(graph.nodes):
        if static_value(node) is not None or all(v is None or v.is_const for v in node.inputs):
            changed += fold_node(graph, node)
    for node in list(graph.nodes):
        if node.op in RESHAPES | {"onnx.Expand"} and node.inputs[0].shape == node.outputs[0].shape:
            before = len(graph.nodes)
            bypass(graph, node)  # refuses when it would rename a graph input/output
            changed += len(graph.nodes) < before
        elif node.op in RESHAPES:
            changed += _as_reshape(graph, node)
    graph.drop_unused_constants()
    ctx.note("shape-fold", rewrites=changed)
    return changed > 0
