"""onnxruntime's fused dynamic-quantization contrib ops as the standard ONNX chain that
``quantize_dynamic`` writes (same semantics, so the interpreter runs them as onnxruntime
does):

* ``DynamicQuantizeMatMul(A, B, b_scale, b_zp?, bias?)`` ->
  ``DynamicQuantizeLinear(A) -> MatMulInteger -> Cast -> Mul(a_scale * b_scale) [-> Add]``;
* ``MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp?, b_zp?, bias?)`` ->
  ``MatMulInteger -> Cast -> Mul(a_scale * b_scale) [-> Add]``.

onnxruntime's graph optimizer makes them out of that chain (a model saved with
``optimized_model_filepath``).  The ``import-dynamic`` pass maps the chain back to a
float MatMul on the shipped weights when the model is quantized.
"""

from __future__ import annotations

import onnx
from onnx import helper

from .ms_qops import _expander, _inp


def _rescale(n: onnx.NodeProto, name: str, a_q: str, b_q: str, a_zp: str, b_zp: str,
             a_scale: str, b_scale: str, bias: str) -> list[onnx.NodeProto]:
    ins = [a_q, b_q, a_zp, b_zp]
    while not ins[-1]:
        ins.pop()
    nodes = [helper.make_node("MatMulInteger", ins, [f"{name}.acc"], name=f"{name}.MatMulInteger"),
             helper.make_node("Cast", [f"{name}.acc"], [f"{name}.accf"], name=f"{name}.cast",
                              to=onnx.TensorProto.FLOAT),
             helper.make_node("Mul", [a_scale, b_scale], [f"{name}.scale"], name=f"{name}.scales_mul")]
    y = n.output[0]
    if bias:
        nodes += [helper.make_node("Mul", [f"{name}.accf", f"{name}.scale"], [f"{name}.y"],
                                   name=f"{name}.rescale"),
                  helper.make_node("Add", [f"{name}.y", bias], [y], name=f"{name}.bias")]
    else:
        nodes.append(helper.make_node("Mul", [f"{name}.accf", f"{name}.scale"], [y], name=f"{name}.rescale"))
    return nodes


@_expander("DynamicQuantizeMatMul")
def _dynamic_quantize_matmul(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    q = [f"{name}.a_q", f"{name}.a_scale", f"{name}.a_zp"]
    return [helper.make_node("DynamicQuantizeLinear", [n.input[0]], q, name=f"{name}.dql")] + \
        _rescale(n, name, q[0], n.input[1], q[2], _inp(n, 3), q[1], n.input[2], _inp(n, 4))


@_expander("MatMulIntegerToFloat")
def _matmul_integer_to_float(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    return _rescale(n, name, n.input[0], n.input[1], _inp(n, 4), _inp(n, 5), n.input[2], n.input[3],
                    _inp(n, 6))


_DYNAMIC = {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul",
            "MatMulIntegerToFloat", "DynamicQuantizeLSTM"}
_STATIC = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd",
           "QLinearMul", "QLinearConcat", "QLinearGlobalAveragePool", "QLinearAveragePool",
           "QLinearLeakyRelu", "QLinearSigmoid"}


def quantization_of(model: onnx.ModelProto) -> str:
    """How a model is quantized, in words (``qcc inspect``): float, pre-quantized with
    its own scales (QDQ / QOperator), or dynamically (``quantize_dynamic``)."""
    ops = [n.op_type for n in model.graph.node]
    dyn = [o for o in ops if o in _DYNAMIC - {"DynamicQuantizeLinear"}]
    if dyn:
        return (f"dynamic (onnxruntime quantize_dynamic: {len(dyn)} integer MatMul/Conv/LSTM node(s)); "
                f"compiled as the float model on its shipped weights, quantized statically from --calib")
    if any(o in _STATIC for o in ops):
        return "static (QDQ / QOperator): compiled with the model's own scales"
    return "float"
