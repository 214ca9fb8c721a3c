"""Model statistics: parameter counts, MACs per node, op histograms."""

from __future__ import annotations

from collections import Counter

import numpy as np

from .ir import Graph, Node


def node_macs(node: Node) -> int:
    """Multiply-accumulates of one node (conv, matmul and linear kinds)."""
    op = node.op_type
    out = node.outputs[0].shape if node.outputs else ()
    if op in ("Conv", "conv2d", "QLinearConv", "ConvInteger"):
        w = node.inputs[1 if op != "QLinearConv" else 3].shape
        k = int(np.prod(w[1:]))
        return int(np.prod(out)) * k
    if op in ("ConvTranspose", "conv_transpose2d"):
        x = node.inputs[0].shape
        w = node.inputs[1].shape
        return int(np.prod(x)) * int(np.prod(w[1:]))
    if op in ("MatMul", "Gemm", "linear", "matmul", "QLinearMatMul", "MatMulInteger"):
        a = node.inputs[0].shape
        k = a[-1] if not (op == "Gemm" and node.attrs.get("transA")) else a[0]
        return int(np.prod(out)) * int(k)
    return 0


def macs(graph: Graph) -> int:
    return sum(node_macs(n) for n in graph.nodes)


def macs_by_node(graph: Graph) -> dict[str, int]:
    """Node name -> multiply-accumulates (the per-layer column of ``qcc profile``)."""
    return {n.name: node_macs(n) for n in graph.nodes}


def param_count(graph: Graph) -> int:
    return int(sum(v.type.numel for v in graph.constants.values() if v.dtype.is_float or v.dtype.bits <= 8))


def weight_bytes(graph: Graph) -> int:
    return int(sum(v.type.nbytes for v in graph.constants.values()))


def op_histogram(graph: Graph) -> dict[str, int]:
    return dict(sorted(Counter(n.op for n in graph.nodes).items(), key=lambda kv: (-kv[1], kv[0])))
