"""Quantize rules for elementwise ops, lookup tables and data movement."""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc import arith, lut
from qcc.ir import DType, Node, QParams

from .state import QState


def _has_q_input(st: QState, node: Node) -> bool:
    return any(st.is_q(v) for v in node.inputs if v is not None)


def _zp(v) -> int:
    return int(v.qparams.zero_point[0])


def _s(v) -> float:
    return float(v.qparams.scale[0])


def relu_reader(st: QState, out) -> Optional[Node]:
    """The Relu (or Clip with bounds 0 and at least the calibrated maximum) that alone
    reads ``out``, else None.

    Its producer then writes straight into the Relu's quantization and takes the Relu's
    output name: the Relu's range starts at 0, so the zero point is the type's minimum
    and the producer's saturation is the Relu (``relu_clip`` below emits nothing).  One
    rounding instead of two, and no codes spent on the negative half the Relu discards
    (onnxruntime's QDQ models do the same: an Add feeding a Relu stays float until the
    Relu's QuantizeLinear)."""
    outs = {id(o) for o in st.old.outputs}
    if len(out.users) != 1 or id(out) in outs:
        return None
    r = out.users[0]
    if r.op not in ("onnx.Relu", "onnx.Clip") or r.inputs[0] is not out or len(r.outputs) != 1 \
            or id(r.outputs[0]) in outs or r.outputs[0].name not in st.ranges \
            or {r.op_type, r.op, r.name} & set(st.allow_float):
        return None
    from .rules_nn import clamp_bounds, clip_params

    params = clip_params(r) if r.op == "onnx.Clip" else {}
    if params is None or (r.op == "onnx.Clip" and params.get("min") != 0.0):
        return None
    qp = st.act_qp(r.outputs[0])
    full = clamp_bounds("clip" if r.op == "onnx.Clip" else "relu", params, qp) == (qp.qmin, qp.qmax)
    return r if full and int(qp.zero_point[0]) == qp.qmin else None


def add_sub(st: QState, node: Node) -> bool:
    if len(node.inputs) != 2:
        return False
    a, b = node.inputs
    if not _has_q_input(st, node) or not a.dtype.is_float:
        return False
    qa, qb = st.q(a), st.q(b)
    out = node.outputs[0]
    relu = relu_reader(st, out)
    named = relu.outputs[0] if relu is not None else out
    yqp = st.act_qp(named)
    sy = float(yqp.scale[0])
    ms, s = arith.quantize_multipliers_shared(np.array([_s(qa) / sy, _s(qb) / sy]))
    mult = st.g.add_const(node.name + ".mult", np.asarray(ms, np.int32).reshape(2))
    shift = st.g.add_const(node.name + ".shift", np.asarray(s, np.int32).reshape(1))
    n = st.emit("qcc.sub" if node.op == "onnx.Sub" else "qcc.add", [qa, qb, mult, shift],
                {"a_zp": _zp(qa), "b_zp": _zp(qb), "y_zp": int(yqp.zero_point[0])},
                name=node.name, out_name=named.name)
    st.set_q(out, n.outputs[0], yqp)
    return True


def mul(st: QState, node: Node) -> bool:
    a, b = node.inputs
    if not _has_q_input(st, node) or not a.dtype.is_float:
        return False
    qa, qb = st.q(a), st.q(b)
    out = node.outputs[0]
    yqp = st.act_qp(out)
    mult, shift = st.requant_consts(_s(qa) * _s(qb) / float(yqp.scale[0]), node.name)
    n = st.emit("qcc.mul", [qa, qb, mult, shift],
                {"a_zp": _zp(qa), "b_zp": _zp(qb), "y_zp": int(yqp.zero_point[0])},
                name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True


def relu_clip(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    if not st.is_q(x):
        return False
    from .rules_nn import clamp_bounds, clip_params

    out = node.outputs[0]
    qx = st.q(x)
    yqp = st.act_qp(out)
    kind, params = "relu", {}
    if node.op == "onnx.Clip":
        kind = "clip"
        params = clip_params(node)
        if params is None:
            return False
    amin, amax = clamp_bounds(kind, params, yqp)
    if _same_qp(qx.qparams, yqp) and (amin, amax) == (yqp.qmin, yqp.qmax) \
            and not any(o is out for o in st.old.outputs):
        st.set_q(out, qx, yqp)  # the producer already saturates to this range (relu_reader)
        st.stands_for[qx.name] = out
        return True
    mult, shift = st.requant_consts(_s(qx) / float(yqp.scale[0]), node.name)
    n = st.emit("qcc.requant", [qx, mult, shift],
                {"x_zp": _zp(qx), "y_zp": int(yqp.zero_point[0]), "act_min": amin, "act_max": amax},
                name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True


def _same_qp(a, b) -> bool:
    return a is not None and a.scale.size == 1 and b.scale.size == 1 and \
        float(a.scale[0]) == float(b.scale[0]) and int(a.zero_point[0]) == int(b.zero_point[0]) \
        and (a.qmin, a.qmax) == (b.qmin, b.qmax)


LUT_OPS = {
    "onnx.Sigmoid": "Sigmoid", "onnx.Tanh": "Tanh", "onnx.Exp": "Exp", "onnx.Erf": "Erf",
    "onnx.Sqrt": "Sqrt", "onnx.Reciprocal": "Reciprocal", "onnx.HardSwish": "HardSwish",
    "onnx.HardSigmoid": "HardSigmoid", "onnx.LeakyRelu": "LeakyRelu", "onnx.Elu": "Elu",
    "onnx.Softplus": "Softplus", "onnx.Mish": "Mish", "onnx.Log": "Log", "onnx.Abs": "Abs",
    "onnx.Neg": "Neg", "onnx.Softsign": "Softsign", "onnx.Sin": "Sin", "onnx.Cos": "Cos",
    "onnx.Gelu": "Gelu", "fused.silu": "SiLU", "fused.gelu": "Gelu", "fused.hardswish": "HardSwish",
    "fused.hardsigmoid": "HardSigmoid",
}
LUT_PARAMS = {"alpha", "beta", "approximate"}


def unary_lut(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    if not x.dtype.is_float or (not st.is_q(x) and x.name not in st.ranges):
        return False
    qx = st.q(x)
    out = node.outputs[0]
    yqp = st.act_qp(out)
    params = {k: v for k, v in node.attrs.items() if k in LUT_PARAMS}
    table = lut.build_table(LUT_OPS[node.op], _s(qx), _zp(qx), float(yqp.scale[0]),
                            int(yqp.zero_point[0]), params=params)
    tv = st.g.add_const(node.name + ".lut", table, DType.int8)
    n = st.emit("qcc.lut", [qx, tv], {"fn": LUT_OPS[node.op], **params}, name=node.name,
                out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True


MOVE_OPS = {"onnx.Reshape", "onnx.Flatten", "onnx.Transpose", "onnx.Squeeze", "onnx.Unsqueeze",
            "onnx.Slice", "onnx.Split", "onnx.Expand", "onnx.Tile", "onnx.Identity",
            "onnx.DepthToSpace", "onnx.SpaceToDepth", "onnx.GatherElements", "onnx.GatherND"}


def data_movement(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    if not st.is_q(x):
        return False
    qx = st.qmap[id(x)]
    rest = [st.f(v) for v in node.inputs[1:]]
    n = st.emit(node.op, [qx] + rest, dict(node.attrs), name=node.name,
                out_names=[v.name for v in node.outputs], n_out=len(node.outputs))
    for old, new in zip(node.outputs, n.outputs):
        st.set_q(old, new, qx.qparams)
    return True


def gather(st: QState, node: Node) -> bool:
    data, idx = node.inputs
    out = node.outputs[0]
    if st.is_q(data):
        qd = st.qmap[id(data)]
        qp = qd.qparams
    elif data.is_const and data.dtype.is_float:
        qp = st.act_qp(out) if out.name in st.ranges else None
        if qp is None:
            return False
        qd = st.q(data, qp)  # embedding table quantized at the output's range
    else:
        return False
    n = st.emit("onnx.Gather", [qd, st.f(idx)], dict(node.attrs), name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], qp)
    return True


def pad(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    mode = str(node.attrs.get("mode", "constant"))
    if not st.is_q(x) or mode not in ("constant", "reflect", "edge"):
        return False
    qx = st.qmap[id(x)]
    if mode != "constant":  # copies of input elements: pure data movement on int8
        n = st.emit("onnx.Pad", [qx, st.f(node.inputs[1])] + [None if v is None else st.f(v) for v in
                    node.inputs[2:]], dict(node.attrs), name=node.name, out_name=node.outputs[0].name)
        st.set_q(node.outputs[0], n.outputs[0], qx.qparams)
        return True
    value = node.inputs[2] if len(node.inputs) > 2 else None
    if value is not None and (not value.is_const or float(value.data) != 0.0):
        return False
    zpv = st.g.add_const(node.name + ".zp", np.array(_zp(qx), qx.dtype.np))  # uint8 codes too
    rest = [st.f(node.inputs[1]), zpv] + [st.f(v) for v in node.inputs[3:]]
    n = st.emit("onnx.Pad", [qx] + rest, dict(node.attrs), name=node.name, out_name=node.outputs[0].name)
    st.set_q(node.outputs[0], n.outputs[0], qx.qparams)
    return True


def resize(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    out = node.outputs[0]
    mode = str(node.attrs.get("mode", "nearest"))
    if not st.is_q(x) or x.type.rank != 4 or mode not in ("nearest", "linear") \
            or out.shape[:2] != x.shape[:2]:
        return False
    qx = st.qmap[id(x)]
    attrs = {"sizes": [int(out.shape[2]), int(out.shape[3])], "mode": mode, "x_zp": _zp(qx)}
    for k in ("coordinate_transformation_mode", "nearest_mode"):
        if k in node.attrs:
            attrs[k] = str(node.attrs[k])
    n = st.emit("qcc.resize", [qx], attrs, name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], qx.qparams)
    return True
