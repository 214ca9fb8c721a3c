"""Small rewrite utilities shared by the importer and the passes."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .graph import Graph, Node, Value

# ops never folded: they carry quantization that later passes must see
NO_FOLD = {"onnx.QuantizeLinear", "onnx.DequantizeLinear", "onnx.QLinearConv",
           "onnx.QLinearMatMul", "onnx.DynamicQuantizeLinear"}
FOLD_LIMIT = 1 << 28  # do not materialise folded constants above 256M elements (1 GiB of f32)


def static_value(node: Node) -> Optional[list[np.ndarray]]:
    """Shape/Size of a statically typed value are constants, whatever its producer."""
    if node.op == "onnx.Shape":
        shape = np.array(node.inputs[0].shape, dtype=np.int64)
        start = node.attrs.get("start", 0)
        end = node.attrs.get("end", len(shape))
        return [shape[slice(start, end)]]
    if node.op == "onnx.Size":
        return [np.array(node.inputs[0].type.numel, dtype=np.int64)]
    return None


def fold_node(graph: Graph, node: Node, allow_large: bool = False) -> bool:
    """Replace ``node`` by constants if its result is known at compile time."""
    from ..ops import lookup

    if node.op in NO_FOLD or node.domain != "onnx":
        return False
    res = static_value(node)
    if res is None:
        if not all(v is None or v.is_const for v in node.inputs):
            return False
        if not allow_large and sum(v.type.numel for v in node.outputs) > FOLD_LIMIT:
            return False
        try:
            res = lookup(node.op).run(node, [None if v is None else v.data for v in node.inputs])
        except Exception as e:  # noqa: BLE001 - an op that cannot run here stays a node
            return _leave(graph, node, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    # the inferred type is authoritative: onnx.reference returns some scalars as [1]
    res = [np.asarray(r).reshape(v.type.shape) if np.asarray(r).size == v.type.numel else np.asarray(r)
           for v, r in zip(node.outputs, res)]
    for v, r in zip(node.outputs, res):
        if v.type.shape != r.shape:
            return _leave(graph, node, f"folded output '{v.name}' has shape {list(r.shape)}, "
                                       f"the node's type says {list(v.type.shape)}")
    for v, r in zip(node.outputs, res):
        if r.dtype != v.type.dtype.np:
            r = r.astype(v.type.dtype.np)
        v.data = r
        graph.constants[v.name] = v
    graph.remove_node(node)
    return True


def _leave(graph: Graph, node: Node, why: str) -> bool:
    """A fold that cannot be done leaves the node in the graph (it runs at inference
    time like any other); the reason is kept in ``graph.meta["unfolded"]``."""
    graph.meta.setdefault("unfolded", {})[node.name] = f"{node.op}: {why}"
    return False


def replace_with(graph: Graph, node: Node, new_values: list[Value]) -> None:
    """Replace every use of ``node``'s outputs by ``new_values`` and drop it."""
    for old, new in zip(node.outputs, new_values):
        if new is not None:
            graph.replace_all_uses(old, new)
    graph.remove_node(node)


def bypass(graph: Graph, node: Node, input_index: int = 0) -> None:
    """Remove a node whose first output equals one of its inputs (Identity)."""
    src = node.inputs[input_index]
    out = node.outputs[0]
    if graph.is_output(out) and (src in graph.inputs or graph.is_output(src)):
        # keep the graph output name stable: leave an Identity in place
        return
    if graph.is_output(out) and src.producer is not None and not src.is_const:
        # rename: the producer now defines the output value directly
        graph.replace_all_uses(src, out)  # users of src read out (same data)
        prod = src.producer
        prod.outputs[prod.outputs.index(src)] = out
        graph.remove_node(node)
        out.producer = prod
        src.producer = None
        return
    replace_with(graph, node, [src])
