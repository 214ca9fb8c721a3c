"""check-integer-only: prove no float arithmetic remains after the input quantize.

Fails with the names of the offending nodes (ops kept on purpose with
``--allow-float`` are accepted and reported in the manifest).
"""

from dataclasses import dataclass

from qcc.ir import Graph
from qcc.ir.verifier import check_integer_only, float_offenders
from qcc.passmanager import PassContext, register_pass


@dataclass(frozen=True)
class CheckIntegerOptions:
    allow_float: tuple = ()  # --allow-float: op types or node names kept in float on purpose

    def __post_init__(self):
        object.__setattr__(self, "allow_float", tuple(self.allow_float or ()))


@register_pass("check-integer-only", "verify that no float arithmetic remains between quantize and dequantize",
               kind="integer", options=CheckIntegerOptions)
def check(graph: Graph, ctx: PassContext) -> bool:
    allow = frozenset(ctx.options_of(CheckIntegerOptions).allow_float)
    kept = [n.name for n in float_offenders(graph)]
    check_integer_only(graph, allow)
    ctx.note("check-integer-only", integer_only=not kept, float_nodes_allowed=kept)
    return False
