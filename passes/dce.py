"""dce: remove nodes whose results nobody reads, and unused constants.

Liveness is computed backwards from the graph outputs over the node list
(kept in topological order), so chains of dead nodes go in one sweep.
"""

from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass


@register_pass("dce", "dead code elimination: drop unused nodes and constants")
def dce(graph: Graph, ctx: PassContext) -> bool:
    live = {id(v) for v in graph.outputs}
    dead = []
    for node in reversed(graph.nodes):
        if any(id(v) in live for v in node.outputs):
            live.update(id(v) for v in node.inputs if v is not None)
        else:
            dead.append(node)
    for node in dead:
        graph.remove_node(node)
    consts = graph.drop_unused_constants()
    ctx.note("dce", nodes_removed=len(dead), constants_removed=consts)
    return bool(dead or consts)
