"""QDQ export of the integer recurrent ops (``qcc.lstm``, ``qcc.gru``).

ONNX has no integer LSTM/GRU, so each becomes the float ONNX op on
DequantizeLinear'd inputs and weights (per row: the int8 weights as [D*R, K]
with ``axis = 0``, reshaped back to [D, R, K]), biases at the gate scale
2^-12, and QuantizeLinear on Y and Y_h with the hidden state's scale.  The
LSTM cell state is quantized to int16 for its integer readers (a graph output) and
read as a float stand-in by float consumers.  Like the other QDQ
exports it is a float equivalent of the integer IR, not bit-exact.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import Node

from .qdq import QdqExporter, qdq_rule

GATE_SCALE = 2.0 ** -12


def _weight(ex: QdqExporter, v) -> str:
    d, r, k = v.shape
    q = ex.const(v.name + "_rows", np.asarray(v.data, np.int8).reshape(d * r, k))
    s = ex.const(v.name + "_scale", np.asarray(v.qparams.scale, np.float32))
    z = ex.const(v.name + "_zp", np.zeros(d * r, np.int8))
    f = ex.add("DequantizeLinear", [q, s, z], axis=0)
    return ex.add("Reshape", [f, ex.const(v.name + "_shape", np.array([d, r, k], np.int64))])


def _bias(ex: QdqExporter, n: Node, parts: list) -> str:
    b = np.concatenate([np.asarray(p, np.float64) * GATE_SCALE for p in parts], axis=1)
    return ex.const(n.name + "_B", b.astype(np.float32))


def _state(ex: QdqExporter, v, scale: float = 1.0) -> str:
    if v is None:
        return ""
    if v.is_const and v.qparams is None:  # the int16 LSTM cell state at 2^-cell_frac
        return ex.const(v.name + "_f", (np.asarray(v.data, np.float64) * scale).astype(np.float32))
    return ex.dq(v)


def _outputs(ex: QdqExporter, n: Node, op: str, ins: list, attrs: dict) -> None:
    outs = [ex.name(o.name + "_f") for o in n.outputs]
    ex.add(op, ins, outs, **attrs)
    for j, (o, f) in enumerate(zip(n.outputs, outs)):
        ex.q(f, o)  # the int16 cell state too: a qcc.dequantize (a graph output) reads it
        if j >= 2:
            ex._dq[o.name] = f  # float consumers take the float stand-in


@qdq_rule("qcc.lstm")
def _lstm(ex: QdqExporter, n: Node) -> None:
    a = n.attrs
    bias = n.inputs[3].data
    ins = [ex.dq(n.inputs[0]), _weight(ex, n.inputs[1]), _weight(ex, n.inputs[2]),
           _bias(ex, n, [bias, np.zeros_like(bias)]), "",
           _state(ex, n.inputs[8]), _state(ex, n.inputs[9], 2.0 ** -int(a["cell_frac"]))]
    _outputs(ex, n, "LSTM", ins, {"hidden_size": int(a["hidden_size"]),
                                  "direction": a.get("direction", "forward")})


@qdq_rule("qcc.gru")
def _gru(ex: QdqExporter, n: Node) -> None:
    a = n.attrs
    ins = [ex.dq(n.inputs[0]), _weight(ex, n.inputs[1]), _weight(ex, n.inputs[2]),
           _bias(ex, n, [n.inputs[3].data, n.inputs[4].data]), "", _state(ex, n.inputs[9])]
    _outputs(ex, n, "GRU", ins, {"hidden_size": int(a["hidden_size"]),
                                 "direction": a.get("direction", "forward"),
                                 "linear_before_reset": int(a.get("linear_before_reset", 0))})
