"""lower-index-maps: data movement with constant index operands becomes ``qcc.index_map``.

Transpose, Slice, Split, Expand, Tile, Pad, DepthToSpace, SpaceToDepth and
Gather/GatherElements/GatherND whose index operands (perm attributes, starts/ends,
pads, indices, ...) are constants move every output element from one input element
(or write the pad value).  The pass runs the op's own reference code once on the
element indices of its input (:func:`qcc.ops.integer_move.source_indices`) and puts one
``qcc.index_map`` per used output in its place: the strided form (offset + strides)
when the map is affine, else an explicit constant int32 index table with the fill
value.  The interpreter runs the new op, so ``qcc run --engine reference`` checks every
backend against the very map the backends implement.  Views (Reshape, Flatten, ...)
stay; a move of a float tensor or of a constant, or one with a computed index operand
(a Gather of run-time ids), is left alone.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Graph, Node
from qcc.ops.integer_move import affine, fill_value, movable, source_indices
from qcc.passmanager import PassContext, register_pass


def _candidate(node: Node) -> bool:
    x = node.inputs[0] if node.inputs else None
    return (movable(node) and x is not None and not x.is_const and not x.dtype.is_float
            and all(o.dtype == x.dtype for o in node.outputs))


def _map_node(graph: Graph, node: Node, out, idx: np.ndarray, name: str):
    """(op inputs, attrs) of the ``qcc.index_map`` that makes ``out``."""
    aff = affine(idx)
    if aff is not None:
        return [node.inputs[0]], {"shape": list(out.shape), "offset": aff[0],
                                  "strides": aff[1]}
    table = graph.add_const(f"{name}.{out.name}.idx", idx.astype(np.int32), DType.int32)
    return [node.inputs[0], table], {"fill": fill_value(node)}


@register_pass("lower-index-maps", "data movement with constant indices -> qcc.index_map",
               kind="integer")
def lower_index_maps(graph: Graph, ctx: PassContext) -> bool:
    done: dict[str, int] = {}
    for node in list(graph.nodes):
        if not _candidate(node):
            continue
        maps = source_indices(node)
        used = [(o, m) for o, m in zip(node.outputs, maps)
                if o.users or any(o is g for g in graph.outputs)]
        if len(node.outputs) == 1 and used:
            inputs, attrs = _map_node(graph, node, *used[0], node.name)
            graph.replace_node(node, "qcc.index_map", inputs, attrs)
        else:  # Split: one node per used output, in the Split's place
            for out, idx in used:
                inputs, attrs = _map_node(graph, node, out, idx, node.name)
                graph.add_node("qcc.index_map", inputs, [out], attrs,
                               name=f"{node.name}.{out.name}", before=node)
            graph.remove_node(node)
        done[node.op_type] = done.get(node.op_type, 0) + 1
    ctx.note("lower-index-maps", rewritten=sum(done.values()), ops=done)
    return bool(done)
