"""uint8 activations into C kernels written for int8, exactly.

The quantizer gives non-negative tensors (Softmax's probabilities, Sigmoid) uint8
codes; several C kernels (convolutions, pooling, reductions, resize, concat,
Max/Min) read int8 only.  ``q_i8 = q_u8 - 128`` with zero point ``zp - 128`` is the
same real tensor, so before lowering each such uint8 input gets an exact
``qcc.requant`` to int8 (multiplier 2^30 / 2^30, no rounding) and its consumer's
zero point moves by -128.  Ops whose output has their input's type (pooling,
resize, Max/Min) then produce int8, turned back into the uint8 value the graph
declares by the inverse shift.  The reference interpreter runs the same graph
(``model.qcc`` is saved after this rewrite), so C and reference stay bit-exact.

A target passes the ops whose kernels read int8 only (``ops``): the C and Triton
targets the default ``ADAPTED``, the accelerator its int8-only GEMM families
(``backends/accel/target.py``: ``INT8_ONLY``), whose other kernels read uint8 as it is.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Graph, Node, QParams, TensorType, Value

ZP_ATTR = {"qcc.conv2d": "x_zp", "qcc.conv_transpose2d": "x_zp", "qcc.avgpool": "x_zp",
           "qcc.global_avgpool": "x_zp", "qcc.reduce_mean": "x_zp", "qcc.resize": "x_zp",
           "qcc.concat": "zps", "qcc.linear": "x_zp"}
SAME_TYPE = {"onnx.MaxPool", "onnx.GlobalMaxPool", "onnx.ReduceMax", "onnx.ReduceMin",
             "onnx.Max", "onnx.Min", "qcc.resize"}
ADAPTED = (set(ZP_ATTR) - {"qcc.linear"}) | SAME_TYPE  # the C/Triton linear kernels read uint8


def _shift(graph: Graph, x: Value, to: DType, before, name: str, out: Value = None) -> Value:
    """Exact ``x`` -> ``to`` by +-128 (qcc.requant, multiplier exactly 1); the result is
    ``out`` when given (it keeps its name and place in the graph)."""
    m = graph.add_const(f"{name}.m", np.array([1 << 30], np.int32))
    s = graph.add_const(f"{name}.s", np.array([30], np.int32))
    y_zp = -128 if to is DType.int8 else 128
    if out is None:
        out = graph.new_value(name, TensorType(to, x.shape))
        if x.qparams is not None:
            qp = x.qparams
            out.qparams = QParams(qp.scale, qp.zero_point + y_zp, bits=8, axis=qp.axis,
                                  signed=to is DType.int8)
    graph.add_node("qcc.requant", [x, m, s], [out],
                   {"x_zp": 0, "y_zp": y_zp, "act_min": to.min, "act_max": to.max,
                    "dtype": "i8" if to is DType.int8 else "u8"}, name=name, before=before)
    return out


def adapt_unsigned_inputs(graph: Graph, ops=ADAPTED) -> list[str]:
    """Rewrite in place the uint8 inputs of the nodes whose op is in ``ops`` (each a key of
    ``ZP_ATTR`` or ``SAME_TYPE``); returns the names of the adapted nodes."""
    unknown = set(ops) - set(ZP_ATTR) - SAME_TYPE
    if unknown:
        raise ValueError(f"no uint8 adaptation for {sorted(unknown)}")
    done = []
    for node in list(graph.nodes):
        if node.op not in ops:
            continue
        idx = [i for i, v in enumerate(node.inputs)
               if v is not None and not v.is_const and v.dtype is DType.uint8]
        if not idx:
            continue
        for i in idx:
            node.set_input(i, _shift(graph, node.inputs[i], DType.int8, node, f"{node.name}.in{i}.s8"))
        attr = ZP_ATTR.get(node.op)
        if attr == "zps":
            zps = list(node.attrs.get("zps", [0] * (len(node.inputs) - 2)))
            for i in idx:
                zps[i] = int(zps[i]) - 128
            node.attrs["zps"] = zps
        elif attr is not None:
            node.attrs[attr] = int(node.attrs.get(attr, 0)) - 128
        if node.op in SAME_TYPE and node.outputs[0].dtype is DType.uint8:
            _restore_output(graph, node)
        done.append(node.name)
    return done


def _restore_output(graph: Graph, node: Node) -> None:
    """``node`` now computes int8; its declared uint8 output comes from a shift after it."""
    out = node.outputs[0]
    tmp = graph.new_value(f"{out.name}.s8", TensorType(DType.int8, out.shape))
    if out.qparams is not None:
        qp = out.qparams
        tmp.qparams = QParams(qp.scale, qp.zero_point - 128, bits=8, axis=qp.axis, signed=True)
    node.outputs[0] = tmp
    tmp.producer = node
    idx = graph.nodes.index(node)
    after = graph.nodes[idx + 1] if idx + 1 < len(graph.nodes) else None
    _shift(graph, tmp, DType.uint8, after, f"{node.name}.u8", out=out)
