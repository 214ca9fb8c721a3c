"""constant-fold: evaluate nodes whose inputs are all constants.

Folding uses the op's own reference semantics (the interpreter), so it is
exact by construction.  Quantize/Dequantize nodes are never folded: they
carry quantization parameters later passes must see.
"""

from qcc.ir import Graph
from qcc.ir.rewrite import fold_node
from qcc.passmanager import PassContext, register_pass


@register_pass("constant-fold", "evaluate nodes whose inputs are all constants")
def constant_fold(graph: Graph, ctx: PassContext) -> bool:
    folded = 0
    for node in list(graph.nodes):
        if fold_node(graph, node):
            folded += 1
    graph.drop_unused_constants()
    ctx.note("constant-fold", folded=folded)
    return folded > 0
