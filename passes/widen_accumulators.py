"""widen-accumulators: give an int64 accumulator to a reduction whose int32 sum is not proved.

A sum over many elements (average/global average pooling, ReduceMean/ReduceSum, a
conv/linear/matmul with a long reduction axis) can exceed int32 for the ranges its
operands may take.  Instead of refusing such a model, this pass switches exactly those
nodes to the widened form of docs/arithmetic.md §5.1: attribute ``acc_bits=64`` (the
reference interpreter and the C kernels sum in int64) and a multiplier narrowed by
``arith.narrow_multiplier`` so that ``acc * m`` still fits int64 before the one rounding
shift.  Everything else keeps int32.  It uses the bound rules of ``check-headroom``,
which runs next and proves the widened form (and refuses what even int64 cannot hold).

Each widened node is listed in the manifest (``passes.widen-accumulators.nodes``) and,
after a successful ``qcc compile``, printed as a ``qcc: note:`` line.  Nodes that cannot take the widened form (an
int32 output with no requantization, per-group weights) are left for check-headroom to
refuse with its message.
"""

from __future__ import annotations

import numpy as np

from qcc import arith
from qcc.errors import QccError
from qcc.ir import DType, Graph, Node
from qcc.passmanager import PassContext, register_pass

from .check_headroom import BOUNDS, HeadroomError, value_absmax

# op -> index of the ``mult`` input (``shift`` follows it)
WIDENABLE = {"qcc.avgpool": 1, "qcc.global_avgpool": 1, "qcc.reduce_mean": 1,
             "qcc.linear": 3, "qcc.conv2d": 3, "qcc.matmul": 2}


def _acc_bound(node: Node, amax) -> int:
    rows = BOUNDS[node.op](node, amax)
    return next(int(b) for name, b, _ in rows if name == "acc")


def _widenable(node: Node) -> bool:
    i_m = WIDENABLE[node.op]
    if i_m + 1 >= len(node.inputs) or node.inputs[i_m] is None:
        return False  # int32 output: nothing to widen into
    if node.outputs[0].dtype is DType.int32 or node.attrs.get("group_size"):
        return False
    return all(v is not None and v.is_const for v in node.inputs[i_m:i_m + 2])


def _widen(graph: Graph, node: Node, bound: int) -> dict:
    i_m = WIDENABLE[node.op]
    need = int(bound).bit_length()
    if need > 62:
        raise HeadroomError(f"{node.op} node '{node.name}': its accumulator can reach "
                            f"{bound} (> 2^62), beyond even the int64 form")
    m, s = node.inputs[i_m], node.inputs[i_m + 1]
    try:
        mn, sn = arith.narrow_multiplier(m.data, s.data, need)
    except QccError as e:
        raise HeadroomError(f"{node.op} node '{node.name}': {e}") from None
    node.set_input(i_m, graph.add_const(f"{node.name}.mult64", mn.reshape(m.shape)))
    node.set_input(i_m + 1, graph.add_const(f"{node.name}.shift64", sn.reshape(s.shape)))
    node.attrs["acc_bits"] = 64
    return {"op": node.op, "acc_bound": int(bound), "acc_bits": 64,
            "multiplier_bits_dropped": max(0, need - 31)}


@register_pass("widen-accumulators",
               "give an int64 accumulator to the reductions whose int32 sum is not proved",
               kind="integer")
def widen_accumulators(graph: Graph, ctx: PassContext) -> bool:
    known: dict = {}
    amax = value_absmax(known)
    done = {}
    for n in graph.nodes:
        if n.op not in WIDENABLE or int(n.attrs.get("acc_bits", 32) or 32) == 64:
            continue
        bound = _acc_bound(n, amax)
        if bound <= arith.INT32_MAX or not _widenable(n):
            continue
        done[n.name] = _widen(graph, n, bound)
    ctx.note("widen-accumulators", nodes=done)
    if done:
        graph.drop_unused_constants()
    return bool(done)
