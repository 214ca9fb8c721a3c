"""fuse-linear: MatMul/Conv/ConvTranspose (+ constant bias Add) -> fused ops.

* ``MatMul(x[..., K], W[K, N])`` with a constant 2-D ``W`` becomes
  ``fused.linear``; an ``Add`` of a constant that broadcasts over the last
  axis only (``[N]``, ``[1, N]`` ...) and is the MatMul's only reader becomes
  its bias.
* ``Conv`` / ``ConvTranspose`` with a constant weight become ``fused.conv`` /
  ``fused.conv_transpose`` (ONNX attributes kept); a following ``Add`` of a
  per-output-channel constant (``[M, 1, 1]``, ``[1, M, 1, 1]``) is merged into
  the bias.

The fused node defines the output value of the last matched node (the Add if
there is one), so calibration names survive.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc.ir import Graph, Node, Value
from qcc.passmanager import PassContext, register_pass

from .fusion_match import broadcast_channel, const_operand, only_user

FUSED = {"onnx.Conv": "fused.conv", "onnx.ConvTranspose": "fused.conv_transpose",
         "onnx.MatMul": "fused.linear"}


def _bias_add(graph: Graph, node: Node) -> Optional[tuple[Node, np.ndarray]]:
    """A following Add of a constant bias over the output-channel axis."""
    out = node.outputs[0]
    add = only_user(out, graph)
    if add is None or add.op != "onnx.Add":
        return None
    xv, cv = const_operand(add)
    if xv is not out or not cv.dtype.is_float or add.outputs[0].shape != out.shape:
        return None
    if node.op == "onnx.MatMul":
        vec = broadcast_channel(cv.data, out.type.rank, out.shape[-1], axis=-1)
    else:
        vec = broadcast_channel(cv.data, out.type.rank, out.shape[1], axis=1)
    return None if vec is None else (add, vec)


def _fusable(node: Node) -> bool:
    w = node.inputs[1]
    x = node.inputs[0]
    if w is None or not w.is_const or not w.dtype.is_float or not x.dtype.is_float:
        return False
    if node.op == "onnx.MatMul":
        return w.type.rank == 2 and x.type.rank >= 2
    return len(node.inputs) < 3 or node.inputs[2] is None or node.inputs[2].is_const


def _fuse(graph: Graph, node: Node) -> bool:
    if not _fusable(node):
        return False
    x, w = node.inputs[0], node.inputs[1]
    b: Optional[Value] = node.inputs[2] if len(node.inputs) > 2 else None
    attrs = {} if node.op == "onnx.MatMul" else dict(node.attrs)
    attrs["activation"] = "none"
    root = node
    extra = _bias_add(graph, node)
    if extra is not None:
        add, vec = extra
        base = np.zeros(vec.shape, np.float64) if b is None else b.data.astype(np.float64)
        b = graph.add_const(w.name + ".bias", (base + vec).astype(w.data.dtype))
        root = add
    name = node.name
    if root is not node:
        graph.remove_node(node)  # first, so that the fused node can take its name
    graph.replace_node(root, FUSED[node.op], [x, w, b] if b is not None else [x, w], attrs,
                       name=name)
    return True


@register_pass("fuse-linear", "MatMul(const W) / Conv / ConvTranspose (+ const bias Add) -> "
                              "fused.linear / fused.conv / fused.conv_transpose")
def fuse_linear(graph: Graph, ctx: PassContext) -> bool:
    count = 0
    for node in list(graph.nodes):
        if node in graph.nodes and node.op in FUSED:
            count += _fuse(graph, node)
    graph.drop_unused_constants()
    ctx.note("fuse-linear", fused=count)
    return count > 0
