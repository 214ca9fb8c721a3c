"""IR -> ONNX.

``to_onnx(graph)`` writes ``onnx.*`` nodes as ONNX nodes at the graph's
opset and ``qcc.*`` nodes as nodes of the custom domain ``qcc`` (Netron
shows them; onnxruntime cannot run them).  Quantization parameters of values
are recorded as metadata (``qcc.qparams`` entries).  The QDQ model that
onnxruntime runs is made by the onnx backend from the integer IR.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..ir import Graph, Node, Value
from ..ops.onnx_ops import to_node_proto


def _value_info(v: Value) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(v.name, v.dtype.onnx, list(v.shape))


def _custom_node(n: Node) -> onnx.NodeProto:
    attrs = {}
    for k, v in n.attrs.items():
        if v is None:
            continue
        if isinstance(v, np.ndarray):
            v = numpy_helper.from_array(v)
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, (list, tuple)) and v and isinstance(v[0], np.generic):
            v = [x.item() for x in v]
        attrs[k] = v
    return helper.make_node(n.op_type, [x.name if x is not None else "" for x in n.inputs],
                            [x.name for x in n.outputs], name=n.name, domain=n.domain, **attrs)


def _initializer(v: Value) -> onnx.TensorProto:
    data = v.data
    if v.dtype.bits < 8 and v.dtype.is_int:  # int4/int2 held unpacked; store as int8
        data = data.astype(np.int8)
    # np.ascontiguousarray turns a 0-d array into shape (1,): keep scalars scalar
    return numpy_helper.from_array(np.ascontiguousarray(data).reshape(data.shape), v.name)


def to_onnx(graph: Graph, doc: str = "") -> onnx.ModelProto:
    nodes = []
    domains = {"": graph.opset}
    for n in graph.nodes:
        if n.domain == "onnx":
            nodes.append(to_node_proto(n, graph.opset))
        else:
            nodes.append(_custom_node(n))
            domains[n.domain] = 1
    inits = [_initializer(v) for v in graph.constants.values()]
    vis = [_value_info(v) for n in graph.nodes for v in n.outputs
           if not graph.is_output(v)]
    g = helper.make_graph(nodes, graph.name, [_value_info(v) for v in graph.inputs],
                          [_value_info(v) for v in graph.outputs], inits, value_info=vis)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in domains.items()],
                              producer_name="qcc", doc_string=doc)
    model.ir_version = min(model.ir_version, 10)
    qp = {v.name: {"scale": v.qparams.scale.tolist(), "zero_point": v.qparams.zero_point.tolist(),
                   "axis": v.qparams.axis, "bits": v.qparams.bits}
          for v in graph.values() if v.qparams is not None}
    if qp:
        helper.set_model_props(model, {"qcc.qparams": json.dumps(qp)})
    return model


def save_onnx(graph: Graph, path: str, doc: str = "") -> None:
    onnx.save(to_onnx(graph, doc), path)
