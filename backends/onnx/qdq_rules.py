"""QDQ export rules: one float ONNX spelling per integer op."""

from __future__ import annotations

import numpy as np
import onnx

from qcc import arith
from qcc.errors import QccError
from qcc.ir import Node

from .qdq import QdqExporter, qdq_rule


@qdq_rule("qcc.quantize")
def _quantize(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    s = ex.const(out.name + "_scale", np.float32(n.attrs["scale"]))
    z = ex.const(out.name + "_zp", np.asarray(int(n.attrs.get("zero_point", 0)), out.dtype.np))
    ex.add("QuantizeLinear", [n.inputs[0].name, s, z], [out.name], domain=ex.qdq_domain(out.dtype))


@qdq_rule("qcc.dequantize")
def _dequantize(ex: QdqExporter, n: Node) -> None:
    x = n.inputs[0]
    s = ex.const(x.name + "_scale", np.float32(n.attrs["scale"]))
    z = ex.const(x.name + "_zp", np.asarray(int(n.attrs.get("zero_point", 0)), x.dtype.np))
    ex.add("DequantizeLinear", [x.name, s, z], [n.outputs[0].name], domain=ex.qdq_domain(x.dtype))


def _requantized(n: Node, i: int) -> bool:
    return i < len(n.inputs) and n.inputs[i] is not None


def _wide(n: Node) -> bool:
    """An int64-accumulator node (docs/arithmetic.md 5.1).  onnxruntime fuses
    DequantizeLinear -> Conv/MatMul -> QuantizeLinear into integer kernels that accumulate
    in int32 and would overflow on it, so its export keeps the fusion from matching."""
    return int(n.attrs.get("acc_bits", 32) or 32) == 64


def _float_weight(ex: QdqExporter, w) -> str:
    """The weight as a float constant (its quantized values, dequantized), no DequantizeLinear."""
    qp = w.qparams
    if qp is None or qp.group_size is not None:
        raise QccError(f"QDQ export: weight '{w.name}' of an int64-accumulator node needs "
                       f"per-tensor or per-channel quantization parameters")
    axis = qp.axis if np.size(qp.scale) > 1 else None
    return ex.const(w.name + "_wide_f", arith.dequantize(w.data, qp.scale, qp.zero_point, axis))


def _f64(ex: QdqExporter, name: str) -> str:
    return ex.add("Cast", [name], to=onnx.TensorProto.DOUBLE)


def _unfused(ex: QdqExporter, name: str) -> str:
    """``name`` through Cast to double and back: onnxruntime otherwise turns
    DequantizeLinear -> Conv (float weights too) / GlobalAveragePool / AveragePool ->
    QuantizeLinear into its QLinear* kernels, which sum in int32."""
    return ex.add("Cast", [_f64(ex, name)], to=onnx.TensorProto.FLOAT)


@qdq_rule("qcc.conv2d", "qcc.conv_transpose2d")
def _conv(ex: QdqExporter, n: Node) -> None:
    x, w = n.inputs[0], n.inputs[1]
    out = n.outputs[0]
    if not _requantized(n, 3):
        raise QccError(f"QDQ export: {n.op} node '{n.name}' has an int32 accumulator output")
    attrs = {k: n.attrs[k] for k in ("strides", "pads", "dilations", "group") if k in n.attrs}
    op = "Conv"
    if n.op == "qcc.conv_transpose2d":
        op = "ConvTranspose"
        if "output_padding" in n.attrs:
            attrs["output_padding"] = n.attrs["output_padding"]
    ins = [ex.dq(x), _float_weight(ex, w) if _wide(n) else ex.dq(w)] + ex.bias(n, 2, x, w)
    y = ex.add(op, ins, **attrs)
    if _wide(n):
        y = _unfused(ex, y)
    ex.q(ex.clamp(y, n, out), out)


@qdq_rule("qcc.linear")
def _linear(ex: QdqExporter, n: Node) -> None:
    x, w = n.inputs[0], n.inputs[1]
    out = n.outputs[0]
    if not _requantized(n, 3):
        raise QccError(f"QDQ export: qcc.linear node '{n.name}' has an int32 accumulator output")
    y = ex.add("MatMul", [ex.dq(x), _float_weight(ex, w) if _wide(n) else ex.dq(w)])
    b = ex.bias(n, 2, x, w)
    if b:
        y = ex.add("Add", [y, b[0]])
    if _wide(n):
        y = _unfused(ex, y)
    ex.q(ex.clamp(y, n, out), out)


@qdq_rule("qcc.matmul")
def _matmul(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    a, b = ex.dq(n.inputs[0]), ex.dq(n.inputs[1])
    if _wide(n):  # in double: no integer fusion (see _wide)
        y = ex.add("Cast", [ex.add("MatMul", [_f64(ex, a), _f64(ex, b)])],
                   to=onnx.TensorProto.FLOAT)
    else:
        y = ex.add("MatMul", [a, b])
    ex.q(ex.clamp(y, n, out), out)


@qdq_rule("qcc.add", "qcc.sub", "qcc.mul")
def _binary(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    op = {"qcc.add": "Add", "qcc.sub": "Sub", "qcc.mul": "Mul"}[n.op]
    y = ex.add(op, [ex.dq(n.inputs[0]), ex.dq(n.inputs[1])])
    ex.q(ex.clamp(y, n, out), out)


@qdq_rule("qcc.requant")
def _requant(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    ex.q(ex.clamp(ex.dq(n.inputs[0]), n, out), out)


@qdq_rule("qcc.concat")
def _concat(ex: QdqExporter, n: Node) -> None:
    k = len(n.inputs) - 2
    out = n.outputs[0]
    y = ex.add("Concat", [ex.dq(v) for v in n.inputs[:k]], axis=int(n.attrs.get("axis", 1)))
    ex.q(y, out)


@qdq_rule("qcc.avgpool")
def _avgpool(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    y = ex.add("AveragePool", [ex.dq(n.inputs[0])], kernel_shape=list(n.attrs["kernel_shape"]),
               strides=list(n.attrs.get("strides", [1, 1])), pads=list(n.attrs.get("pads", [0, 0, 0, 0])),
               count_include_pad=int(n.attrs.get("count_include_pad", 0)))
    ex.q(ex.clamp(_unfused(ex, y) if _wide(n) else y, n, out), out)


@qdq_rule("qcc.global_avgpool")
def _gap(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    y = ex.add("GlobalAveragePool", [ex.dq(n.inputs[0])])
    ex.q(ex.clamp(_unfused(ex, y) if _wide(n) else y, n, out), out)


@qdq_rule("qcc.reduce_mean")
def _mean(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    axes = [int(a) for a in n.attrs.get("axes", [])]
    keep = int(n.attrs.get("keepdims", 1))
    op = "ReduceSum" if n.attrs.get("reduce") == "sum" else "ReduceMean"  # ReduceSum: opset 13 input
    if ex.g.opset >= (13 if op == "ReduceSum" else 18):
        y = ex.add(op, [ex.dq(n.inputs[0]), ex.const(n.name + "_axes", np.array(axes, np.int64))],
                   keepdims=keep)
    else:
        y = ex.add(op, [ex.dq(n.inputs[0])], axes=axes, keepdims=keep)
    ex.q(ex.clamp(_unfused(ex, y) if _wide(n) else y, n, out), out)


@qdq_rule("qcc.resize")
def _resize(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    x = n.inputs[0]
    sizes = ex.const(n.name + "_sizes", np.array(list(x.shape[:2]) + list(n.attrs["sizes"]), np.int64))
    attrs = {"mode": n.attrs.get("mode", "nearest"),
             "coordinate_transformation_mode": n.attrs.get("coordinate_transformation_mode", "half_pixel")}
    if attrs["mode"] == "nearest":
        attrs["nearest_mode"] = n.attrs.get("nearest_mode", "round_prefer_floor")
    y = ex.add("Resize", [ex.dq(x), "", "", sizes], **attrs)
    ex.q(y, out)


# qcc.lut: the float function it tabulates (attribute ``fn``)
_UNARY = {"Sigmoid", "Tanh", "Exp", "Erf", "Sqrt", "Reciprocal", "Log", "Abs", "Neg", "Sin", "Cos",
          "Softsign", "Softplus", "Relu"}


@qdq_rule("qcc.lut")
def _lut(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    fn = n.attrs.get("fn")
    x = ex.dq(n.inputs[0])
    if fn in _UNARY:
        y = ex.add(fn, [x])
    elif fn == "HardSigmoid":
        y = ex.add("HardSigmoid", [x], alpha=float(n.attrs.get("alpha", 0.2)), beta=float(n.attrs.get("beta", 0.5)))
    elif fn == "LeakyRelu":
        y = ex.add("LeakyRelu", [x], alpha=float(n.attrs.get("alpha", 0.01)))
    elif fn == "Elu":
        y = ex.add("Elu", [x], alpha=float(n.attrs.get("alpha", 1.0)))
    elif fn == "HardSwish":
        y = ex.add("HardSwish", [x]) if ex.g.opset >= 14 else \
            ex.add("Mul", [x, ex.add("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])
    elif fn == "SiLU":
        y = ex.add("Mul", [x, ex.add("Sigmoid", [x])])
    elif fn == "Mish":
        y = ex.add("Mul", [x, ex.add("Tanh", [ex.add("Softplus", [x])])])
    elif fn == "Gelu":
        if n.attrs.get("approximate", "none") == "tanh":
            c = ex.const(n.name + "_c", np.float32(0.044715))
            k = ex.const(n.name + "_k", np.float32(np.sqrt(2 / np.pi)))
            inner = ex.add("Mul", [k, ex.add("Add", [x, ex.add("Mul", [c, ex.add("Mul", [x, ex.add("Mul", [x, x])])])])])
            t = ex.add("Tanh", [inner])
        else:
            r = ex.const(n.name + "_r", np.float32(1 / np.sqrt(2)))
            t = ex.add("Erf", [ex.add("Mul", [x, r])])
        one = ex.const(n.name + "_one", np.float32(1.0))
        half = ex.const(n.name + "_half", np.float32(0.5))
        y = ex.add("Mul", [ex.add("Mul", [x, half]), ex.add("Add", [t, one])])
    elif fn == "LrnScale":  # (bias + alpha * x)^-beta, the LRN divisor (passes/quantize/rules_norm.py)
        a = ex.const(n.name + "_a", np.float32(n.attrs["alpha"]))
        b = ex.const(n.name + "_b", np.float32(n.attrs["bias"]))
        e = ex.const(n.name + "_e", np.float32(-float(n.attrs["beta"])))
        y = ex.add("Pow", [ex.add("Add", [ex.add("Mul", [x, a]), b]), e])
    else:
        raise QccError(f"QDQ export: qcc.lut node '{n.name}' tabulates '{fn}', which has no ONNX spelling")
    ex.q(y, out)
