"""check-integer-only: prove no float arithmetic remains after the input quantize.

Fails with the names of the offending nodes (ops kept on purpose with
``--allow-float`` are accepted and reported in the manifest).
"""

from qcc.ir import Graph
from qcc.ir.verifier import check_integer_only, float_offenders
from qcc.passmanager import PassContext, register_pass


@register_pass("check-integer-only", "verify that no float arithmetic remains between quantize and dequantize",
               kind="integer")
def check(graph: Graph, ctx: PassContext) -> bool:
    allow = frozenset(ctx.options.get("allow_float") or [])
    kept = [n.name for n in float_offenders(graph)]
    check_integer_only(graph, allow)
    ctx.note("check-integer-only", integer_only=not kept, float_nodes_allowed=kept)
    return False
