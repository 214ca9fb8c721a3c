"""Quantize rules for InstanceNormalization (and so GroupNorm) and for Softmax /
LogSoftmax over an axis other than the last.

* ``InstanceNormalization`` on ``[N, C, spatial...]`` normalizes each (n, c) row
  over the spatial axes: ``qcc.ilayernorm`` with ``axis = 2`` and unit gamma
  (the integer mean / variance / integer square root of the transformer
  LayerNorm, docs/transformers.md).  torch exports ``GroupNorm`` as Reshape to
  ``[N, G, -1]``, this op with unit scale and zero bias, Reshape back, then the
  per-channel Mul/Add: the same rule covers it.  A per-channel scale/bias
  (``InstanceNorm2d(affine=True)``) follows as a depthwise 1x1 ``qcc.conv2d``
  (per-channel int8 weight, int32 bias); the normalized tensor between the two
  gets the range ``(y - b_c) / g_c`` implied by the calibrated output range.
* ``LRN`` (AlexNet, GoogLeNet): ``x * f(S)`` with ``S`` the window sum of
  squares and ``f(S) = (bias + alpha/size * S)^-beta``: ``qcc.mul`` (x*x), a
  band-of-ones 1x1 ``qcc.conv2d`` over channels (the window sum), a ``qcc.lut``
  of ``f`` (``fn`` = ``LrnScale``) and ``qcc.mul``.  The intermediate ranges follow
  from x's range (``S <= size * max|x|^2``); ``f`` is smooth and near ``bias^-beta``
  for all but the largest sums, so the coarse int8 grid of ``S`` costs little.
* ``Softmax``/``LogSoftmax`` on axis ``a`` != last: int8 Transpose to move ``a``
  last, the last-axis rule, Transpose back (pure data movement).
"""

from __future__ import annotations

import numpy as np

from qcc import arith, lut
from qcc.ir import DType, Graph, Node, QParams, TensorType, Value
from qcc.ops import integer_transformer as itx
from qcc.quant_scheme import act_qparams, weight_qparams

from . import rules_select, rules_transformer
from .state import QState


def _ilayernorm(st: QState, qx: Value, count_shape: tuple, yqp: QParams, eps: float, name: str,
                out_name: str) -> Value:
    c = itx.ilayernorm_consts(np.ones(int(np.prod(count_shape))), None, float(qx.qparams.scale[0]),
                              float(yqp.scale[0]), int(np.prod(count_shape)), eps)
    gq = st.g.add_const(name + ".gamma", c["gamma"].reshape(count_shape), DType.int32,
                        qparams=QParams(scale=c["s_g"], zero_point=0, bits=c["g_bits"] + 1))
    bq = st.g.add_const(name + ".bias", c["bias"].reshape(count_shape), DType.int32,
                        qparams=QParams(scale=c["s_acc"], zero_point=0, bits=32))
    m = st.g.add_const(name + ".mult", np.asarray([c["mult"]], np.int32))
    s = st.g.add_const(name + ".shift", np.asarray([c["shift"]], np.int32))
    n = st.emit("qcc.ilayernorm", [qx, gq, bq, m, s],
                {"axis": 2, "x_zp": int(qx.qparams.zero_point[0]), "y_zp": int(yqp.zero_point[0]),
                 "eps_q": int(c["eps_q"]), "eps_frac": int(c["eps_frac"]), "epsilon": float(eps)},
                name=name, out_name=out_name)
    n.outputs[0].qparams = yqp
    return n.outputs[0]


def _channel_affine(st: QState, qn: Value, g: np.ndarray, b: np.ndarray, yqp: QParams,
                    name: str, out_name: str) -> Value:
    """``y[:, c] = g[c] * n[:, c] + b[c]`` as a depthwise 1x1 qcc.conv2d."""
    ch = g.size
    wq, wqp = weight_qparams(g.reshape(ch, 1, 1, 1), 0)
    wv = st.g.add_const(name + ".w", wq, DType.int8, qparams=wqp)
    sx = float(qn.qparams.scale[0])
    bv = st.g.add_const(name + ".b", arith.quantize_bias(b, sx, wqp.scale), DType.int32)
    mult, shift = st.requant_consts(sx * np.asarray(wqp.scale, np.float64) / float(yqp.scale[0]), name)
    n = st.emit("qcc.conv2d", [qn, wv, bv, mult, shift],
                {"strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": ch,
                 "x_zp": int(qn.qparams.zero_point[0]), "y_zp": int(yqp.zero_point[0]),
                 "act_min": yqp.qmin, "act_max": yqp.qmax}, name=name, out_name=out_name)
    n.outputs[0].qparams = yqp
    return n.outputs[0]


def instance_norm(st: QState, node: Node) -> bool:
    x, gamma, beta = node.inputs
    out = node.outputs[0]
    if not st.is_q(x) or not gamma.is_const or not beta.is_const or x.type.rank < 3:
        return False
    g = gamma.data.astype(np.float64).reshape(-1)
    b = beta.data.astype(np.float64).reshape(-1)
    eps = float(node.attrs.get("epsilon", 1e-5))
    qx = st.qmap[id(x)]
    yqp = st.act_qp(out)
    unit = bool(np.all(g == 1.0) and np.all(b == 0.0))
    if not unit and (x.type.rank != 4 or np.any(g == 0.0)):
        return False
    if unit:
        y = _ilayernorm(st, qx, tuple(x.shape[2:]), yqp, eps, node.name, out.name)
    else:
        lo, hi = float(yqp.scale[0]) * (yqp.qmin - int(yqp.zero_point[0])), \
            float(yqp.scale[0]) * (yqp.qmax - int(yqp.zero_point[0]))
        ends = np.concatenate([(lo - b) / g, (hi - b) / g])
        bound = float(np.sqrt(np.prod(x.shape[2:])))  # |normalized| <= sqrt(count)
        nqp = act_qparams(max(float(ends.min()), -bound), min(float(ends.max()), bound))
        qn = _ilayernorm(st, qx, tuple(x.shape[2:]), nqp, eps, node.name + ".norm", node.name + ".norm")
        y = _channel_affine(st, qn, g, b, yqp, node.name, out.name)
    st.set_q(out, y, yqp)
    return True


def _mul(st: QState, a: Value, b: Value, qp: QParams, name: str, out_name: str = "") -> Value:
    mult, shift = st.requant_consts(float(a.qparams.scale[0]) * float(b.qparams.scale[0])
                                    / float(qp.scale[0]), name)
    n = st.emit("qcc.mul", [a, b, mult, shift], {"a_zp": int(a.qparams.zero_point[0]),
                "b_zp": int(b.qparams.zero_point[0]), "y_zp": int(qp.zero_point[0])},
                name=name, out_name=out_name or name)
    n.outputs[0].qparams = qp
    return n.outputs[0]


def lrn(st: QState, node: Node) -> bool:
    x, out = node.inputs[0], node.outputs[0]
    if not st.is_q(x) or x.type.rank != 4:
        return False
    size = int(node.attrs["size"])
    alpha, beta = float(node.attrs.get("alpha", 1e-4)), float(node.attrs.get("beta", 0.75))
    bias = float(node.attrs.get("bias", 1.0))
    qx = st.qmap[id(x)]
    q = qx.qparams
    amax = float(q.scale[0]) * max(abs(q.qmin - int(q.zero_point[0])), abs(q.qmax - int(q.zero_point[0])))
    sq = _mul(st, qx, qx, act_qparams(0.0, amax * amax), node.name + ".sq")
    ch = int(x.shape[1])
    c = np.arange(ch)
    lo_off, hi_off = (size - 1) // 2, size - 1 - (size - 1) // 2
    band = ((c[None, :] >= c[:, None] - lo_off) & (c[None, :] <= c[:, None] + hi_off)).astype(np.int8)
    wqp = QParams(scale=np.ones(ch), zero_point=np.zeros(ch, np.int64), bits=8, axis=0)
    wv = st.g.add_const(node.name + ".band", band.reshape(ch, ch, 1, 1), DType.int8, qparams=wqp)
    sqp = act_qparams(0.0, size * amax * amax)  # safe bound: all `size` channels at max|x|
    mult, shift = st.requant_consts(np.full(ch, float(sq.qparams.scale[0]) / float(sqp.scale[0])),
                                    node.name + ".sum")
    n = st.emit("qcc.conv2d", [sq, wv, None, mult, shift],
                {"strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1,
                 "x_zp": int(sq.qparams.zero_point[0]), "y_zp": int(sqp.zero_point[0]),
                 "act_min": sqp.qmin, "act_max": sqp.qmax},
                name=node.name + ".sum", out_name=node.name + ".sum")
    n.outputs[0].qparams = sqp
    a = alpha / size

    def scale_of(s):
        return (bias + a * np.maximum(s, 0.0)) ** -beta

    fqp = act_qparams(0.0, float(max(scale_of(0.0), scale_of(size * amax * amax))))
    table = lut.build_table(scale_of, float(sqp.scale[0]), int(sqp.zero_point[0]), float(fqp.scale[0]),
                            int(fqp.zero_point[0]))
    fn = st.emit("qcc.lut", [n.outputs[0], st.g.add_const(node.name + ".lut", table, DType.int8)],
                 {"fn": "LrnScale", "alpha": a, "beta": beta, "bias": bias},
                 name=node.name + ".scale", out_name=node.name + ".scale")
    fn.outputs[0].qparams = fqp
    y = _mul(st, qx, fn.outputs[0], st.act_qp(out), node.name, out.name)
    st.set_q(out, y, y.qparams)
    return True


# -- softmax over another axis --------------------------------------------------------------
def _transpose(st: QState, qv: Value, perm: list, name: str) -> Value:
    n = st.emit("onnx.Transpose", [qv], {"perm": perm}, name=name, out_name=name)
    n.outputs[0].qparams = qv.qparams
    return n.outputs[0]


def _any_axis(st: QState, node: Node, last_axis_rule) -> bool:
    """(Log)Softmax over a non-last axis: transpose that axis last, run
    ``last_axis_rule`` on a scratch node, transpose back."""
    op = node.op
    x, out = node.inputs[0], node.outputs[0]
    rank = x.type.rank
    axis = int(node.attrs.get("axis", -1)) % max(rank, 1)
    if axis == rank - 1 or rank < 2 or (op == "onnx.Softmax" and node.opset < 13) \
            or (op == "onnx.LogSoftmax" and node.opset < 13):
        return last_axis_rule(st, node)
    if not st.is_q(x) and x.name not in st.ranges:
        return False
    perm = [a for a in range(rank) if a != axis] + [axis]
    inv = [perm.index(a) for a in range(rank)]
    xt = _transpose(st, st.q(x), perm, node.name + ".to_last")
    tmp = Graph(node.name, st.old.opset)
    xs = tmp.add_input(x.name + ".last", TensorType(x.dtype, tuple(x.shape[a] for a in perm)))
    os_ = tmp.new_value(out.name, TensorType(out.dtype, tuple(out.shape[a] for a in perm)))
    scratch = tmp.add_node(node.op, [xs], [os_], dict(node.attrs, axis=-1), name=node.name)
    scratch.opset = node.opset
    st.qmap[id(xs)] = xt
    # keep the scratch graph alive: the maps are keyed by id(), which a freed
    # object's successor could reuse (a later scratch value would alias this one)
    st.__dict__.setdefault("scratch", []).append(tmp)
    if not last_axis_rule(st, scratch):
        return False
    y = _transpose(st, st.qmap[id(os_)], inv, out.name)
    st.set_q(out, y, y.qparams)
    return True


def softmax_any_axis(st: QState, node: Node) -> bool:
    return _any_axis(st, node, rules_transformer.softmax)


def log_softmax_any_axis(st: QState, node: Node) -> bool:
    return _any_axis(st, node, rules_select.log_softmax)
