"""canonicalize: one spelling per computation, so later passes match less.

* Identity, inference-mode Dropout and a Cast/CastLike to the dtype its input
  already has disappear (Dropout's mask, if read, becomes a constant of ones).
* Gemm becomes MatMul (+ Add): alpha/transB are folded into a constant
  weight ``[K, N]``, beta into the bias, transA becomes a Transpose.  The
  fusion passes then recognise one linear form (MatMul + Add).
* Sub of a constant becomes Add of its negation; Div by a constant becomes
  Mul by its reciprocal (float-exact up to one rounding, well inside 1e-5).
* Gather/GatherElements from a constant whose elements are all equal, at run-time
  indices, is that value in the output's shape (RoBERTa-family embeddings gather their
  all-zero token-type buffer at the position ids); an index out of range, an error in
  onnxruntime, is not checked.
* A two-operand Einsum that is a batched matrix product becomes Transpose / Reshape /
  MatMul (``canonicalize_einsum``).
"""

import numpy as np

from qcc.ir import Graph, TensorType
from qcc.ir.rewrite import bypass
from qcc.passmanager import PassContext, register_pass

from .canonicalize_einsum import einsum_to_matmul


def _drop_identity(graph: Graph, node) -> bool:
    if node.op == "onnx.Dropout":
        if len(node.outputs) > 1 and node.outputs[1].users:
            mask = node.outputs[1]
            ones = graph.add_const(mask.name + ".ones", np.ones(mask.shape, bool))
            graph.replace_all_uses(mask, ones)
        if len(node.inputs) > 2 and node.inputs[2] is not None and node.inputs[2].is_const \
                and bool(np.asarray(node.inputs[2].data)):
            return False  # training_mode=True: keep (its semantics are random)
    before = len(graph.nodes)
    bypass(graph, node)
    return len(graph.nodes) < before


def _gemm_to_matmul(graph: Graph, node) -> bool:
    a, b = node.inputs[0], node.inputs[1]
    c = node.inputs[2] if len(node.inputs) > 2 else None
    if not b.is_const or (c is not None and not c.is_const):
        return False
    alpha = float(node.attrs.get("alpha", 1.0))
    beta = float(node.attrs.get("beta", 1.0))
    w = b.data.T if node.attrs.get("transB", 0) else b.data
    w = (w * alpha).astype(b.data.dtype) if alpha != 1.0 else w
    x = a
    if node.attrs.get("transA", 0):
        t = graph.make("onnx.Transpose", [a], [TensorType(a.dtype, a.shape[::-1])],
                       {"perm": [1, 0]}, name=node.name + ".tA", before=node)
        x = t.outputs[0]
    out = node.outputs[0]
    wv = graph.add_const(b.name + ".kn", np.ascontiguousarray(w))
    if c is None or beta == 0.0:
        graph.replace_node(node, "onnx.MatMul", [x, wv], name=node.name)
        return True
    bias = (c.data * beta).astype(c.data.dtype) if beta != 1.0 else c.data
    mm = graph.make("onnx.MatMul", [x, wv], [out.type], name=node.name + ".mm", before=node)
    bv = graph.add_const(c.name + ".bias", bias)
    graph.replace_node(node, "onnx.Add", [mm.outputs[0], bv], name=node.name)
    return True


def _const_arith(graph: Graph, node) -> bool:
    b = node.inputs[1]
    if not b.is_const or not b.dtype.is_float:
        return False
    if node.op == "onnx.Sub":
        nb = graph.add_const(b.name + ".neg", -b.data)
        graph.replace_node(node, "onnx.Add", [node.inputs[0], nb])
        return True
    if node.op == "onnx.Div" and np.all(b.data != 0):
        rb = graph.add_const(b.name + ".recip", (1.0 / b.data.astype(np.float64)).astype(b.data.dtype))
        graph.replace_node(node, "onnx.Mul", [node.inputs[0], rb])
        return True
    return False


def _uniform_gather(graph: Graph, node) -> bool:
    data, out = node.inputs[0], node.outputs[0]
    if not data.is_const or data.data.size == 0 or graph.is_output(out) or node.inputs[1].is_const:
        return False
    flat = np.asarray(data.data).reshape(-1)
    if not np.all(flat == flat[0]) or (data.dtype.is_float and np.isnan(flat[0])):
        return False
    graph.replace_all_uses(out, graph.add_const(out.name + ".uniform", np.full(out.shape, flat[0], flat.dtype)))
    return True


@register_pass("canonicalize", "drop Identity/Dropout/same-dtype Cast, Gemm -> MatMul+Add, "
               "x-c -> x+(-c), x/c -> x*(1/c), gather from a uniform constant -> constant, "
               "Einsum -> MatMul")
def canonicalize(graph: Graph, ctx: PassContext) -> bool:
    counts = {"identity": 0, "gemm": 0, "const_arith": 0, "uniform_gather": 0, "einsum": 0}
    for node in list(graph.nodes):
        if node.op in ("onnx.Identity", "onnx.Dropout") or (
                node.op in ("onnx.Cast", "onnx.CastLike") and node.inputs[0].dtype == node.outputs[0].dtype):
            counts["identity"] += _drop_identity(graph, node)
        elif node.op == "onnx.Gemm":
            counts["gemm"] += _gemm_to_matmul(graph, node)
        elif node.op in ("onnx.Sub", "onnx.Div"):
            counts["const_arith"] += _const_arith(graph, node)
        elif node.op in ("onnx.Gather", "onnx.GatherElements"):
            counts["uniform_gather"] += _uniform_gather(graph, node)
        elif node.op == "onnx.Einsum" and einsum_to_matmul(graph, node):
            counts["einsum"] += 1
            _drop_identity(graph, next(n for n in graph.nodes if n.outputs and n.outputs[0] is node.outputs[0]))
    graph.drop_unused_constants()
    ctx.note("canonicalize", **counts)
    return any(counts.values())
