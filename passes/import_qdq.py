"""import-qdq: take a pre-quantized model's own scales instead of calibrating.

QDQ models (onnxruntime ``quantize_static``, torch exporters) carry their
quantization as ``QuantizeLinear -> DequantizeLinear`` pairs around float ops,
and QOperator models as ``QLinearConv``/``QLinearMatMul``.  This pass turns
them into a float graph plus pinned quantization parameters:

* ``DequantizeLinear(const int8 W, s, zp)`` becomes the float constant
  ``s * (W - zp)`` and its (per-channel) scale is pinned in
  ``graph.meta["pinned_weights"]`` so the quantizer reproduces ``W`` exactly;
* an activation pair ``Q(x, s, zp) -> DequantizeLinear`` is removed (readers of
  the DQ read ``x``) and ``(s, zp)`` is pinned for ``x`` in
  ``graph.meta["pinned_qparams"]`` — the quantizer uses it instead of a range;
* a ``QLinearConv``/``QLinearMatMul`` becomes ``DQ -> Conv/MatMul -> Q`` first.

It runs only in the quantizing pipeline; the float pipeline keeps QDQ nodes
(the interpreter runs them with ONNX semantics).
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Graph, Node, QParams, TensorType
from qcc.passmanager import PassContext, register_pass

QDQ_OPS = {"onnx.QuantizeLinear", "onnx.DequantizeLinear", "onnx.QLinearConv", "onnx.QLinearMatMul"}


def has_qdq(graph: Graph) -> bool:
    return any(n.op in QDQ_OPS for n in graph.nodes)


def _qp(node: Node, axis_rank: int) -> QParams:
    s = node.inputs[1].data.astype(np.float64).reshape(-1)
    z = node.inputs[2].data.astype(np.int64).reshape(-1) if len(node.inputs) > 2 and \
        node.inputs[2] is not None else np.zeros_like(s, dtype=np.int64)
    axis = int(node.attrs.get("axis", 1)) % max(axis_rank, 1) if s.size > 1 else None
    zdt = node.inputs[2].dtype if len(node.inputs) > 2 and node.inputs[2] is not None else DType.uint8
    return QParams(s, z, bits=8, axis=axis, signed=zdt is not DType.uint8)


def _expand_qlinear(graph: Graph, node: Node) -> None:
    """QLinearConv / QLinearMatMul -> DequantizeLinear x2 -> Conv/MatMul (+bias) -> QuantizeLinear."""
    ins = node.inputs
    out = node.outputs[0]

    def dq(x, s, z, axis=None):
        attrs = {"axis": axis} if axis is not None and s.type.numel > 1 else {}
        return graph.make("onnx.DequantizeLinear", [x, s, z], [TensorType(DType.float32, x.shape)],
                          attrs, name=node.name + ".dq", before=node).outputs[0]

    xf = dq(ins[0], ins[1], ins[2])
    if node.op == "onnx.QLinearConv":
        wf = dq(ins[3], ins[4], ins[5], axis=0)
        extra = []
        if len(ins) > 8 and ins[8] is not None:
            bscale = graph.add_const(node.name + ".bscale", (ins[1].data.astype(np.float64) *
                                     ins[4].data.astype(np.float64)).astype(np.float32).reshape(-1))
            bz = graph.add_const(node.name + ".bzp", np.zeros(bscale.type.numel, np.int32))
            extra = [dq(ins[8], bscale, bz, axis=0)]
        attrs = {k: v for k, v in node.attrs.items()}
        f = graph.make("onnx.Conv", [xf, wf] + extra, [TensorType(DType.float32, out.shape)], attrs,
                       name=node.name + ".conv", before=node).outputs[0]
        s, z = ins[6], ins[7]
    else:
        wf = dq(ins[3], ins[4], ins[5], axis=1)
        f = graph.make("onnx.MatMul", [xf, wf], [TensorType(DType.float32, out.shape)],
                       name=node.name + ".mm", before=node).outputs[0]
        s, z = ins[6], ins[7]
    graph.replace_node(node, "onnx.QuantizeLinear", [f, s, z])


@register_pass("import-qdq", "pre-quantized (QDQ/QOperator) models: pin their scales, fold weight DQ, drop Q/DQ pairs",
               kind="quantize")
def import_qdq(graph: Graph, ctx: PassContext) -> bool:
    if not has_qdq(graph):
        return False
    for n in [n for n in graph.nodes if n.op in ("onnx.QLinearConv", "onnx.QLinearMatMul")]:
        _expand_qlinear(graph, n)
    pinned = graph.meta.setdefault("pinned_qparams", {})
    pinned_w = graph.meta.setdefault("pinned_weights", {})
    folded = removed = 0
    for n in list(graph.nodes):
        if n.op != "onnx.DequantizeLinear":
            continue
        x = n.inputs[0]
        if x.is_const:  # weights / bias
            qp = _qp(n, x.type.rank)
            shape = [1] * x.type.rank
            if qp.axis is not None:
                shape[qp.axis] = -1
            w = (qp.scale.reshape(shape) * (x.data.astype(np.float64) - qp.zero_point.reshape(shape)))
            c = graph.add_const(n.outputs[0].name, w.astype(np.float32))
            if x.dtype in (DType.int8, DType.uint8):
                pinned_w[c.name] = qp
            graph.replace_all_uses(n.outputs[0], c)
            graph.remove_node(n)
            folded += 1
        elif x.producer is not None and x.producer.op == "onnx.QuantizeLinear":
            q = x.producer
            src = q.inputs[0]
            qp = _qp(q, src.type.rank)
            if not qp.signed:  # uint8 (s, zp) == int8 (s, zp - 128): same real values
                qp = QParams(qp.scale, qp.zero_point - 128, bits=8, signed=True)
            pinned[src.name] = qp
            if graph.is_output(n.outputs[0]):  # keep the output's name
                pinned[n.outputs[0].name] = pinned[src.name]  # canonicalize may rename src to it
                graph.replace_node(n, "onnx.Identity", [src])
            else:
                graph.replace_all_uses(n.outputs[0], src)
                graph.remove_node(n)
            removed += 1
    for n in list(graph.nodes):  # Q nodes nobody reads any more
        if n.op == "onnx.QuantizeLinear" and not n.outputs[0].users and not graph.is_output(n.outputs[0]):
            graph.remove_node(n)
    graph.drop_unused_constants()
    ctx.note("import-qdq", weights_folded=folded, activation_pairs_removed=removed, pinned=len(pinned))
    return True
