"""QDQ export of the integer transformer ops (docs/transformers.md).

``qcc.isoftmax``, ``qcc.igelu`` and ``qcc.ilayernorm`` become the float ONNX op
they approximate between DequantizeLinear and QuantizeLinear.  Wide
intermediates (int32 attention scores, the int16 GELU input, an int16
residual stream) are not materialised: opsets below 21 have no int16/int32
QuantizeLinear, so their float stand-in feeds the consumer directly.  The
model is therefore a float-equivalent of the integer IR, not bit-exact.
"""

from __future__ import annotations

import math

import numpy as np

from qcc.errors import QccError
from qcc.ir import DType, Node

from . import qdq_rules  # noqa: F401  (base rules first: wrapped below)
from .qdq import QDQ_RULES, QdqExporter, qdq_rule

_WIDE = (DType.int16, DType.int32)
_BASE = {op: QDQ_RULES.get(op) for op in ("qcc.matmul", "qcc.linear", "qcc.add")}


def _scalar(ex: QdqExporter, base: str, v: float) -> str:
    return ex.const(base, np.float32(v))


@qdq_rule("qcc.matmul")
def _matmul(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    if out.dtype is not DType.int32:
        return _BASE["qcc.matmul"](ex, n)
    a, b = n.inputs[0], n.inputs[1]
    y = ex.add("MatMul", [ex.dq(a), ex.dq(b)])
    if out.qparams is None:
        raise QccError(f"QDQ export: int32 qcc.matmul '{n.name}' has no scale")
    k = float(out.qparams.scale[0]) / (float(a.qparams.scale[0]) * float(b.qparams.scale[0]))
    ex._dq[out.name] = ex.add("Mul", [y, _scalar(ex, n.name + "_k", k)])


@qdq_rule("qcc.linear")
def _linear(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    if out.dtype not in _WIDE:
        return _BASE["qcc.linear"](ex, n)
    y = ex.add("MatMul", [ex.dq(n.inputs[0]), ex.dq(n.inputs[1])])
    b = ex.bias(n, 2, n.inputs[0], n.inputs[1])
    ex._dq[out.name] = ex.add("Add", [y, b[0]]) if b else y


@qdq_rule("qcc.add")
def _add(ex: QdqExporter, n: Node) -> None:
    out = n.outputs[0]
    if out.dtype not in _WIDE:
        return _BASE["qcc.add"](ex, n)
    ex._dq[out.name] = ex.add("Add", [ex.dq(n.inputs[0]), ex.dq(n.inputs[1])])


@qdq_rule("qcc.isoftmax")
def _isoftmax(ex: QdqExporter, n: Node) -> None:
    x = ex.dq(n.inputs[0])
    if len(n.inputs) > 3 and n.inputs[3] is not None:
        m = ex.add("Cast", [n.inputs[3].name], to=1)
        big = ex.add("Mul", [ex.add("Abs", [m]), _scalar(ex, n.name + "_big", 1e4)])
        x = ex.add("Sub", [x, big])
    ex.q(ex.add("Softmax", [x], axis=int(n.attrs.get("axis", -1))), n.outputs[0])


@qdq_rule("qcc.igelu")
def _igelu(ex: QdqExporter, n: Node) -> None:
    x = ex.dq(n.inputs[0])
    e = ex.add("Erf", [ex.add("Mul", [x, _scalar(ex, n.name + "_r2", 1 / math.sqrt(2))])])
    one = ex.add("Add", [e, _scalar(ex, n.name + "_one", 1.0)])
    y = ex.add("Mul", [ex.add("Mul", [x, one]), _scalar(ex, n.name + "_half", 0.5)])
    ex.q(ex.clamp(y, n, n.outputs[0]), n.outputs[0])


@qdq_rule("qcc.ilayernorm")
def _ilayernorm(ex: QdqExporter, n: Node) -> None:
    x, g, b = n.inputs[0], n.inputs[1], n.inputs[2]
    if g.qparams is None or b.qparams is None:
        raise QccError(f"QDQ export: qcc.ilayernorm '{n.name}' lacks gamma/bias scales")
    gamma = ex.const(n.name + "_gamma", (g.data * float(g.qparams.scale[0])).astype(np.float32))
    beta = ex.const(n.name + "_beta", (b.data * float(b.qparams.scale[0])).astype(np.float32))
    axis = int(n.attrs.get("axis", -1))
    eps = float(n.attrs.get("epsilon", 1e-5))
    xf = ex.dq(x)
    if ex.g.opset >= 17:
        y = ex.add("LayerNormalization", [xf, gamma, beta], axis=axis, epsilon=eps)
    else:
        axes = list(range(axis % x.type.rank, x.type.rank))
        d = ex.add("Sub", [xf, ex.add("ReduceMean", [xf], axes=axes, keepdims=1)])
        var = ex.add("ReduceMean", [ex.add("Mul", [d, d])], axes=axes, keepdims=1)
        std = ex.add("Sqrt", [ex.add("Add", [var, _scalar(ex, n.name + "_eps", eps)])])
        y = ex.add("Add", [ex.add("Mul", [ex.add("Div", [d, std]), gamma]), beta])
    ex.q(ex.clamp(y, n, n.outputs[0]), n.outputs[0])
