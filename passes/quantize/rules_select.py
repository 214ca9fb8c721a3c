"""Quantize rules for selection ops and shape adapters of the dense rules.

* ``Max``/``Min`` (elementwise), ``ReduceMax``/``ReduceMin``: int8 quantization
  is monotone, so on inputs that share one scale and zero point the integer
  max/min *is* the quantized max/min.  Inputs on other scales are first
  requantized to the output's (``qcc.requant``, one dyadic multiplier each);
  the selection itself stays the ONNX op on int8 (no arithmetic).
* ``Where(cond, a, b)`` selecting between int8 values (Funnel's token-type attention
  terms): both branches requantized to the output's qparams, then the ONNX op on int8
  with the bool condition (no arithmetic), as for Max/Min.
* ``PRelu``: a scalar slope is a ``qcc.lut`` (LeakyRelu with that alpha); per-channel
  slopes (any signs and sizes) are ``max(x, 0) + a * min(x, 0)``, each part rounded
  once into the output's qparams (int16 slopes), summed exactly.
* ``LogSoftmax`` (last axis) is ``d - log(sum(exp(d)))`` with ``d = x - max(x)``:
  ReduceMax, ``qcc.sub``, an exp ``qcc.lut``, a ``qcc.reduce_mean`` sum, a log
  ``qcc.lut`` and ``qcc.sub``; the intermediate ranges follow from x's range.
* 1-D convolutions (``Conv``/``ConvTranspose`` on ``[N, C, L]``) and 1-D AveragePool run
  as 2-D ones on ``[N, C, 1, L]`` between two int8 reshapes.
"""

from __future__ import annotations

import numpy as np

from qcc import arith, lut
from qcc.ir import DType, Graph, Node, QParams, TensorType, Value
from qcc.quant_scheme import act_qparams

from . import rules_nn
from .state import QState


def max_min(st: QState, node: Node) -> bool:
    out = node.outputs[0]
    if not out.dtype.is_float or not any(st.is_q(v) for v in node.inputs):
        return False
    if any(not st.is_q(v) and not v.is_const and v.name not in st.ranges for v in node.inputs):
        return False
    yqp = st.act_qp(out)
    ins = []
    for i, v in enumerate(node.inputs):
        qv = st.q(v, yqp) if v.is_const else st.q(v)
        ins.append(st.to_qparams(qv, yqp, f"{node.name}.in{i}"))
    n = st.emit(node.op, ins, {}, name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True


def where_select(st: QState, node: Node) -> bool:
    cond, a, b = (list(node.inputs) + [None, None, None])[:3]
    out = node.outputs[0]
    if cond is None or cond.dtype is not DType.bool or not out.dtype.is_float \
            or not any(st.is_q(v) for v in (a, b)):
        return False  # float pre-processing (masks made from inputs) stays float
    if any(not st.is_q(v) and not v.is_const and v.name not in st.ranges for v in (a, b)):
        return False
    if any(v.is_const and not np.all(np.isfinite(v.data)) for v in (a, b)):
        return False  # a -inf fill is a mask: only before a Softmax
    yqp = st.act_qp(out)
    ins = [st.to_qparams(st.q(v, yqp) if v.is_const else st.q(v), yqp, f"{node.name}.in{i}")
           for i, v in enumerate((a, b))]
    n = st.emit("onnx.Where", [st.f(cond)] + ins, {}, name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True


def reduce_select(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    if not st.is_q(x) or not node.outputs[0].dtype.is_float:
        return False
    if len(node.inputs) > 1 and node.inputs[1] is not None and not node.inputs[1].is_const:
        return False
    qx = st.qmap[id(x)]
    rest = [st.f(v) for v in node.inputs[1:]]
    n = st.emit(node.op, [qx] + rest, dict(node.attrs), name=node.name, out_name=node.outputs[0].name)
    st.set_q(node.outputs[0], n.outputs[0], qx.qparams)
    return True


def prelu(st: QState, node: Node) -> bool:
    x, slope = node.inputs
    out = node.outputs[0]
    if not st.is_q(x) or not slope.is_const or not out.dtype.is_float:
        return False
    a = slope.data.astype(np.float64)
    qx = st.qmap[id(x)]
    yqp = st.act_qp(out)
    if a.size == 1 or np.all(a == a.reshape(-1)[0]):
        alpha = float(a.reshape(-1)[0])
        table = lut.build_table("LeakyRelu", float(qx.qparams.scale[0]), int(qx.qparams.zero_point[0]),
                                float(yqp.scale[0]), int(yqp.zero_point[0]), params={"alpha": alpha})
        tv = st.g.add_const(node.name + ".lut", table, DType.int8)
        n = st.emit("qcc.lut", [qx, tv], {"fn": "LeakyRelu", "alpha": alpha}, name=node.name,
                    out_name=out.name)
        st.set_q(out, n.outputs[0], yqp)
        return True
    return _prelu_split(st, node, qx, a, yqp)


def _clamp(st: QState, qv: Value, lo: int, hi: int, name: str) -> Value:
    """``qv`` clamped to [lo, hi] in its own codes (identity requant: exact)."""
    mult, shift = st.requant_consts(1.0, name)
    zp = int(qv.qparams.zero_point[0])
    n = st.emit("qcc.requant", [qv, mult, shift], {"x_zp": zp, "y_zp": zp, "act_min": lo, "act_max": hi},
                name=name, out_name=name)
    n.outputs[0].qparams = qv.qparams
    return n.outputs[0]


def _prelu_split(st: QState, node: Node, qx: Value, a: np.ndarray, yqp) -> bool:
    """PRelu with per-channel slopes (trained ones mix signs and sizes), one rounding per
    element as float PRelu then QuantizeLinear: ``pos = requant(max(x, zp))`` and
    ``neg = (min(x, zp) - zp) * a`` (``qcc.mul`` by the slopes as int16, 2^-15 of the
    largest), both straight into the output's qparams, then ``pos + neg`` by a
    ``qcc.add`` with unit multipliers (exact: one of the two is the zero point)."""
    out = node.outputs[0]
    zp, yzp = int(qx.qparams.zero_point[0]), int(yqp.zero_point[0])
    sx, sy = float(qx.qparams.scale[0]), float(yqp.scale[0])
    mult, shift = st.requant_consts(sx / sy, node.name + ".pos")
    pos = st.emit("qcc.requant", [qx, mult, shift], {"x_zp": zp, "y_zp": yzp, "act_min": yzp,
                  "act_max": yqp.qmax}, name=node.name + ".pos", out_name=node.name + ".pos")
    pos.outputs[0].qparams = yqp
    neg = _clamp(st, qx, qx.qparams.qmin, zp, node.name + ".neg")
    amax = max(float(np.abs(a).max()), 1e-30)
    sa = amax / 32767.0
    qa = st.g.add_const(node.name + ".slope", np.clip(np.rint(a / sa), -32767, 32767).astype(np.int16),
                        DType.int16, qparams=QParams(scale=sa, zero_point=0, bits=16))
    mult, shift = st.requant_consts(sx * sa / sy, node.name + ".an")
    m = st.emit("qcc.mul", [neg, qa, mult, shift], {"a_zp": zp, "b_zp": 0, "y_zp": yzp},
                name=node.name + ".an", out_name=node.name + ".an")
    m.outputs[0].qparams = yqp
    y = _binary(st, "qcc.add", pos.outputs[0], m.outputs[0], yqp, node.name, out.name)
    st.set_q(out, y, yqp)
    return True


def _binary(st: QState, op: str, a: Value, b: Value, qp, name: str, out_name: str = "") -> Value:
    sy = float(qp.scale[0])
    ms, s = arith.quantize_multipliers_shared(np.array([float(a.qparams.scale[0]) / sy,
                                                        float(b.qparams.scale[0]) / sy]))
    mult = st.g.add_const(name + ".mult", np.asarray(ms, np.int32).reshape(2))
    shift = st.g.add_const(name + ".shift", np.asarray(s, np.int32).reshape(1))
    n = st.emit(op, [a, b, mult, shift], {"a_zp": int(a.qparams.zero_point[0]),
                "b_zp": int(b.qparams.zero_point[0]), "y_zp": int(qp.zero_point[0])}, name=name,
                out_name=out_name or name)
    n.outputs[0].qparams = qp
    return n.outputs[0]


def _table(st: QState, fn: str, qv: Value, qp, name: str) -> Value:
    t = lut.build_table(fn, float(qv.qparams.scale[0]), int(qv.qparams.zero_point[0]),
                        float(qp.scale[0]), int(qp.zero_point[0]))
    n = st.emit("qcc.lut", [qv, st.g.add_const(name + ".lut", t, DType.int8)], {"fn": fn},
                name=name, out_name=name)
    n.outputs[0].qparams = qp
    return n.outputs[0]


def log_softmax(st: QState, node: Node) -> bool:
    x, out = node.inputs[0], node.outputs[0]
    rank = x.type.rank
    if not st.is_q(x) or int(node.attrs.get("axis", -1)) % rank != rank - 1:
        return False
    qx = st.qmap[id(x)]
    q = qx.qparams
    width = float(q.scale[0]) * (q.qmax - q.qmin)  # x's quantized range: max(x) - x <= width
    n_cls = int(x.shape[-1])
    if st.g.opset >= 18:  # axes became an input in opset 18
        ax = st.g.add_const(node.name + ".axes", np.array([rank - 1], np.int64))
        m = st.emit("onnx.ReduceMax", [qx, ax], {"keepdims": 1}, name=node.name + ".max",
                    out_name=node.name + ".max")
    else:
        m = st.emit("onnx.ReduceMax", [qx], {"axes": [rank - 1], "keepdims": 1}, name=node.name + ".max",
                    out_name=node.name + ".max")
    m.outputs[0].qparams = q
    d = _binary(st, "qcc.sub", qx, m.outputs[0], act_qparams(-width, 0.0), node.name + ".d")
    e = _table(st, "Exp", d, act_qparams(0.0, 1.0), node.name + ".exp")
    sqp = act_qparams(0.0, float(n_cls))
    mult, shift = st.requant_consts(float(e.qparams.scale[0]) / float(sqp.scale[0]), node.name + ".sum")
    sm = st.emit("qcc.reduce_mean", [e, mult, shift],
                 {"x_zp": int(e.qparams.zero_point[0]), "y_zp": int(sqp.zero_point[0]),
                  "axes": [rank - 1], "keepdims": 1, "reduce": "sum"},
                 name=node.name + ".sum", out_name=node.name + ".sum")
    sm.outputs[0].qparams = sqp
    lg = _table(st, "Log", sm.outputs[0], act_qparams(0.0, float(np.log(n_cls))), node.name + ".log")
    y = _binary(st, "qcc.sub", d, lg, st.act_qp(out), node.name, out.name)
    st.set_q(out, y, y.qparams)
    return True


# -- 1-D convolutions as 2-D ones ---------------------------------------------------------
def _as_2d_attrs(attrs: dict, k: int) -> dict:
    out = dict(attrs)
    for key, unit in (("strides", 1), ("dilations", 1), ("output_padding", 0)):
        if key in attrs:
            out[key] = [unit] + [int(v) for v in attrs[key]]
    if "pads" in attrs:
        p = [int(v) for v in attrs["pads"]]
        out["pads"] = [0, p[0], 0, p[1]]
    out["kernel_shape"] = [1, k]
    return out


def _reshape(st: QState, qv: Value, shape: list, name: str) -> Value:
    sv = st.g.add_const(name + ".shape", np.asarray(shape, np.int64))
    n = st.emit("onnx.Reshape", [qv, sv], {}, name=name, out_name=name)
    n.outputs[0].qparams = qv.qparams
    return n.outputs[0]


def conv1d(st: QState, node: Node, rule) -> bool:
    """Lower a rank-3 conv by running ``rule`` (the 2-D conv rule) on a scratch 2-D node."""
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    out = node.outputs[0]
    if not w.is_const or w.type.rank != 3 or x.type.rank != 3 or out.type.rank != 3:
        return False
    if not st.is_q(x) and x.name not in st.ranges:
        return False
    n_, c, length = x.shape
    x4 = _reshape(st, st.q(x), [n_, c, 1, length], node.name + ".in2d")
    tmp = Graph(node.name, st.old.opset)
    xs = tmp.add_input(x.name + ".2d", TensorType(x.dtype, (n_, c, 1, length)))
    ws = tmp.add_const(w.name, w.data.reshape(w.shape[0], w.shape[1], 1, w.shape[2]), w.dtype)
    ins = [xs, ws] + ([tmp.add_const(b.name, b.data, b.dtype)] if b is not None else [])
    os_ = tmp.new_value(out.name, TensorType(out.dtype, (out.shape[0], out.shape[1], 1, out.shape[2])))
    scratch = tmp.add_node(node.op, ins, [os_], _as_2d_attrs(node.attrs, int(w.shape[2])), name=node.name)
    st.qmap[id(xs)] = x4
    # keep the scratch graph alive: the maps are keyed by id(), which a freed
    # object's successor could reuse (a later scratch value would alias this one)
    st.__dict__.setdefault("scratch", []).append(tmp)
    if not rule(st, scratch):
        return False
    y = _reshape(st, st.qmap[id(os_)], list(out.shape), out.name)
    st.set_q(out, y, y.qparams)
    return True


def pool1d(st: QState, node: Node, rule) -> bool:
    """Lower a rank-3 AveragePool (SEW's sequence pooling) by running ``rule`` (the 2-D
    pooling rule) on a scratch 2-D node over ``[N, C, 1, L]``."""
    x, out = node.inputs[0], node.outputs[0]
    if x.type.rank != 3 or out.type.rank != 3 or not (st.is_q(x) or x.name in st.ranges):
        return False
    n_, c, length = x.shape
    x4 = _reshape(st, st.q(x), [n_, c, 1, length], node.name + ".in2d")
    tmp = Graph(node.name, st.old.opset)
    xs = tmp.add_input(x.name + ".2d", TensorType(x.dtype, (n_, c, 1, length)))
    os_ = tmp.new_value(out.name, TensorType(out.dtype, (out.shape[0], out.shape[1], 1, out.shape[2])))
    attrs = _as_2d_attrs(node.attrs, int(node.attrs["kernel_shape"][0]))
    scratch = tmp.add_node(node.op, [xs], [os_], attrs, name=node.name)
    st.qmap[id(xs)] = x4
    st.__dict__.setdefault("scratch", []).append(tmp)  # (see conv1d)
    if not rule(st, scratch):
        return False
    y = _reshape(st, st.qmap[id(os_)], list(out.shape), out.name)
    st.set_q(out, y, y.qparams)
    return True


def avgpool_1d_or_2d(st: QState, node: Node) -> bool:
    """AveragePool: a rank-3 one through :func:`pool1d`, else the 2-D rule."""
    if node.inputs[0].type.rank == 3:
        return pool1d(st, node, rules_nn.avgpool)
    return rules_nn.avgpool(st, node)


def conv_1d_or_2d(st: QState, node: Node) -> bool:
    """Conv: a rank-3 one through :func:`conv1d`, else the 2-D rule."""
    if node.inputs[0].type.rank > 4:
        st.why[node.name] = f"{node.inputs[0].type.rank - 2}-D convolution: only 1-D and 2-D are lowered"
        return False
    if node.inputs[0].type.rank == 3:
        return conv1d(st, node, rules_nn.conv)
    return rules_nn.conv(st, node)


def conv_transpose_1d_or_2d(st: QState, node: Node) -> bool:
    """ConvTranspose: a rank-3 one through :func:`conv1d`, else the 2-D rule."""
    if node.inputs[0].type.rank > 4:
        st.why[node.name] = f"{node.inputs[0].type.rank - 2}-D convolution: only 1-D and 2-D are lowered"
        return False
    if node.inputs[0].type.rank == 3:
        return conv1d(st, node, rules_nn.conv_transpose)
    return rules_nn.conv_transpose(st, node)
