"""onnxruntime's quantized contrib ops (``com.microsoft`` QLinearAdd, QGemm ...) as
standard ONNX: DequantizeLinear -> float op -> QuantizeLinear; ``DynamicQuantizeLSTM``
(``quantize_dynamic``) as a float LSTM on its dequantized weights.

onnxruntime's ``quantize_static(..., quant_format=QOperator)`` writes the standard
QLinearConv/QLinearMatMul plus these contrib ops.  Expanded at import, such a model
is an ordinary QDQ model: the interpreter runs it in float between the Q/DQ pairs
(within one output step of onnxruntime's integer kernels), and the ``import-qdq``
pass keeps its scales when it is compiled.  Data movement on the integers
(``Flatten`` of a QLinear output) is wrapped in the same way (``_wrap_moves``).  Only the NCHW forms are expanded
(``channels_last=1`` stays unsupported and is reported as such).

The same registry holds the expanders of ``ms_dynamic`` (DynamicQuantizeMatMul,
MatMulIntegerToFloat), ``ms_fused`` (onnxruntime's transformer fusions) and
``ms_attention`` (Attention, QAttention, EmbedLayerNormalization); the importer imports
those modules so that they register.
"""

from __future__ import annotations

from typing import Callable, Optional

import onnx
import numpy as np
from onnx import helper, numpy_helper

MS = "com.microsoft"
Expander = Callable[[onnx.NodeProto, str], list[onnx.NodeProto]]
_EXPAND: dict[str, Expander] = {}


def _expander(op_type: str):
    def deco(fn: Expander) -> Expander:
        _EXPAND[op_type] = fn
        return fn
    return deco


def _attrs(n: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def can_expand(n: onnx.NodeProto) -> bool:
    return n.domain == MS and n.op_type in _EXPAND and not _attrs(n).get("channels_last", 0)


def _dq(x: str, scale: str, zp: str, out: str, name: str, axis: Optional[int] = None):
    ins = [x, scale] + ([zp] if zp else [])
    kw = {"axis": axis} if axis is not None else {}
    return helper.make_node("DequantizeLinear", ins, [out], name=name, **kw)


def _q(x: str, scale: str, zp: str, out: str, name: str):
    return helper.make_node("QuantizeLinear", [x, scale] + ([zp] if zp else []), [out], name=name)


def _inp(n: onnx.NodeProto, i: int) -> str:
    return n.input[i] if i < len(n.input) else ""


def _unary(op: str, **fixed):
    """X, x_scale, x_zp, y_scale, y_zp -> Q(op(DQ(X)))."""
    def expand(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
        attrs = {k: v for k, v in _attrs(n).items() if k != "channels_last"}
        attrs.update(fixed)
        return [_dq(n.input[0], n.input[1], _inp(n, 2), f"{name}.x", f"{name}.dq_x"),
                helper.make_node(op, [f"{name}.x"], [f"{name}.y"], name=f"{name}.{op}", **attrs),
                _q(f"{name}.y", n.input[3], _inp(n, 4), n.output[0], f"{name}.q")]
    return expand


def _binary(op: str):
    """A, a_scale, a_zp, B, b_scale, b_zp, c_scale, c_zp -> Q(DQ(A) op DQ(B))."""
    def expand(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
        return [_dq(n.input[0], n.input[1], _inp(n, 2), f"{name}.a", f"{name}.dq_a"),
                _dq(n.input[3], n.input[4], _inp(n, 5), f"{name}.b", f"{name}.dq_b"),
                helper.make_node(op, [f"{name}.a", f"{name}.b"], [f"{name}.y"], name=f"{name}.{op}"),
                _q(f"{name}.y", n.input[6], _inp(n, 7), n.output[0], f"{name}.q")]
    return expand


for _op, _std in [("QLinearAdd", "Add"), ("QLinearMul", "Mul")]:
    _EXPAND[_op] = _binary(_std)
for _op, _std in [("QLinearGlobalAveragePool", "GlobalAveragePool"),
                  ("QLinearAveragePool", "AveragePool"), ("QLinearLeakyRelu", "LeakyRelu"),
                  ("QLinearSigmoid", "Sigmoid")]:
    _EXPAND[_op] = _unary(_std)


@_expander("QLinearConcat")
def _concat(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    """Y_scale, Y_zp, then (X, X_scale, X_zp) per input."""
    nodes, parts = [], []
    for k, i in enumerate(range(2, len(n.input), 3)):
        parts.append(f"{name}.x{k}")
        nodes.append(_dq(n.input[i], n.input[i + 1], _inp(n, i + 2), parts[-1], f"{name}.dq_{k}"))
    nodes.append(helper.make_node("Concat", parts, [f"{name}.y"], name=f"{name}.Concat",
                                  axis=_attrs(n)["axis"]))
    nodes.append(_q(f"{name}.y", n.input[0], n.input[1], n.output[0], f"{name}.q"))
    return nodes


@_expander("QGemm")
def _qgemm(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    """A, a_scale, a_zp, B, b_scale, b_zp, C (int32 at a_scale*b_scale), y_scale, y_zp.
    Without y_scale the output is float."""
    a = _attrs(n)
    trans_b = int(a.get("transB", 0))
    nodes = [_dq(n.input[0], n.input[1], _inp(n, 2), f"{name}.a", f"{name}.dq_a"),
             _dq(n.input[3], n.input[4], _inp(n, 5), f"{name}.b", f"{name}.dq_b",
                 axis=0 if trans_b else 1)]
    ins = [f"{name}.a", f"{name}.b"]
    if _inp(n, 6):
        nodes.append(helper.make_node("Mul", [n.input[1], n.input[4]], [f"{name}.c_scale"],
                                      name=f"{name}.c_scale"))
        nodes.append(_dq(n.input[6], f"{name}.c_scale", "", f"{name}.c", f"{name}.dq_c", axis=0))
        ins.append(f"{name}.c")
    quantized = bool(_inp(n, 7))
    gemm_out = f"{name}.y" if quantized else n.output[0]
    nodes.append(helper.make_node("Gemm", ins, [gemm_out], name=f"{name}.Gemm",
                                  alpha=float(a.get("alpha", 1.0)),
                                  transA=int(a.get("transA", 0)), transB=trans_b))
    if quantized:
        nodes.append(_q(gemm_out, n.input[7], _inp(n, 8), n.output[0], f"{name}.q"))
    return nodes


@_expander("DynamicQuantizeLSTM")
def _dynamic_quantize_lstm(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    """onnxruntime's ``quantize_dynamic`` LSTM: int8/uint8 W [D, I, 4H] and R [D, H, 4H]
    with per-direction or per-column scales and zero points (slots 8-11) -> the float
    weights (``(w - zp) * scale``, transposed to ONNX's [D, 4H, I]) and a standard LSTM.
    The weights are constants, so constant folding leaves the float LSTM that qcc
    quantizes itself."""
    nodes = [helper.make_node("Constant", [], [f"{name}.shape"], name=f"{name}.shape",
                              value=numpy_helper.from_array(np.array([0, 1, -1], np.int64)))]
    ins = [n.input[0]]
    for w, sc, zp in ((1, 8, 9), (2, 10, 11)):
        pfx = f"{name}.w{w}"
        nodes += [helper.make_node("Cast", [n.input[w]], [f"{pfx}.f"], name=f"{pfx}.cast",
                                   to=onnx.TensorProto.FLOAT),
                  helper.make_node("Reshape", [n.input[sc], f"{name}.shape"], [f"{pfx}.s"],
                                   name=f"{pfx}.rs")]
        cur = f"{pfx}.f"
        if _inp(n, zp):
            nodes += [helper.make_node("Cast", [n.input[zp]], [f"{pfx}.zf"], name=f"{pfx}.zcast",
                                       to=onnx.TensorProto.FLOAT),
                      helper.make_node("Reshape", [f"{pfx}.zf", f"{name}.shape"], [f"{pfx}.z"],
                                       name=f"{pfx}.rz"),
                      helper.make_node("Sub", [cur, f"{pfx}.z"], [f"{pfx}.c"], name=f"{pfx}.sub")]
            cur = f"{pfx}.c"
        nodes += [helper.make_node("Mul", [cur, f"{pfx}.s"], [f"{pfx}.d"], name=f"{pfx}.mul"),
                  helper.make_node("Transpose", [f"{pfx}.d"], [f"{pfx}.t"], name=f"{pfx}.tr",
                                   perm=[0, 2, 1])]
        ins.append(f"{pfx}.t")
    ins += [_inp(n, i) for i in range(3, 8)]
    while ins and not ins[-1]:
        ins.pop()
    nodes.append(helper.make_node("LSTM", ins, list(n.output), name=f"{name}.LSTM", **_attrs(n)))
    return nodes


# where a quantized tensor's (scale, zero point) come from: input slots of its producer
_OUT_QPARAMS = {"QuantizeLinear": (1, 2), "QLinearConv": (6, 7), "QLinearMatMul": (6, 7)}
# ops that only move quantized values (QOperator models run them on the integers)
MOVES = {"Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "MaxPool"}


def _wrap_moves(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """``Flatten(x_q)`` on the integers of a quantized ``x_q`` becomes
    ``DQ(x_q) -> Flatten -> Q`` with the same (scale, zero point): the same values, in
    the QDQ form that the ``import-qdq`` pass reads."""
    qparams: dict[str, tuple[str, str]] = {}
    out = []
    for n in nodes:
        slots = _OUT_QPARAMS.get(n.op_type) if n.domain in ("", "ai.onnx") else None
        if slots and len(n.input) > slots[0]:
            qparams[n.output[0]] = (n.input[slots[0]], _inp(n, slots[1]))
        if n.domain in ("", "ai.onnx") and n.op_type in MOVES and n.input[0] in qparams \
                and len(n.output) == 1:
            s, z = qparams[n.input[0]]
            name = n.name or f"{n.op_type}_{n.output[0]}"
            moved = onnx.NodeProto()
            moved.CopyFrom(n)
            moved.input[0] = f"{name}.x"
            moved.output[0] = f"{name}.y"
            out += [_dq(n.input[0], s, z, f"{name}.x", f"{name}.dq"), moved,
                    _q(f"{name}.y", s, z, n.output[0], f"{name}.q")]
            qparams[n.output[0]] = (s, z)
            continue
        out.append(n)
    return out


def _shapes(model: onnx.ModelProto) -> dict[str, tuple]:
    """The shapes the file declares (inputs, outputs, value_info, initializers) and ONNX
    shape inference adds (it passes over the contrib ops): a dim is an int, its symbolic
    name, or None."""
    try:
        g = onnx.shape_inference.infer_shapes(model).graph
    except Exception:  # noqa: BLE001 - the declared ones are enough where inference fails
        g = model.graph
    out = {t.name: tuple(int(d) for d in t.dims) for t in g.initializer}
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape"):
            out[v.name] = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                for d in v.type.tensor_type.shape.dim)
    return out


def _with_nodes(model: onnx.ModelProto, nodes: list) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


def expand_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with every expandable contrib node replaced and the moves of
    quantized integers wrapped (the model itself when neither occurs).  Expanders that
    need shapes (FusedMatMul's transposes, Attention's mask) run second, on the shapes
    inferred once the others are expanded (an EmbedLayerNormalization's mask_index)."""
    nodes, later = [], []
    for i, n in enumerate(model.graph.node):
        if can_expand(n) and not getattr(_EXPAND[n.op_type], "needs_shapes", False):
            nodes.extend(_EXPAND[n.op_type](n, n.name or f"{n.op_type}_{i}"))
        else:
            if can_expand(n):
                later.append((len(nodes), n, n.name or f"{n.op_type}_{i}"))
            nodes.append(n)
    if later:
        shapes = _shapes(_with_nodes(model, nodes))
        for at, n, name in reversed(later):
            nodes[at:at + 1] = _EXPAND[n.op_type](n, name, shapes)
    nodes = _wrap_moves(nodes)
    if len(nodes) == len(model.graph.node) and not later:
        return model
    return _with_nodes(model, nodes)
