"""Quantize rules for Pow by a constant, Div by a tensor and ReduceL2.

* ``Pow(x, e)`` with a constant scalar ``e``: a 256-entry ``qcc.lut`` of ``x**e``
  (spelled as the table ``(bias + alpha*x)**-beta`` with ``alpha = 1``, ``bias = 0``,
  ``beta = -e``, which the QDQ export writes as ONNX ``Pow``).
* ``Div(a, b)`` with ``b`` an activation of one sign over the calibration data
  (F.normalize's clamped norm, a gate plus an offset): ``qcc.lut`` of ``1/b`` then
  ``qcc.mul``.  The reciprocal's range comes from the exact extremes of ``b`` the
  calibration observed (the stored range always includes 0, where ``1/b`` is unbounded).
* ``ReduceL2(x)``: ``qcc.mul(x, x)`` into ``[0, max|x|^2]``, a ``qcc.reduce_mean``
  sum into ``[0, max(y)^2]`` and a ``Sqrt`` table into ``y``'s own range.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc import lut
from qcc.ir import DType, Node, QParams
from qcc.quant_scheme import act_qparams

from .state import QState


def _s(qp: QParams) -> float:
    return float(qp.scale[0])


def _zp(qp: QParams) -> int:
    return int(qp.zero_point[0])


def _quantizable(st: QState, v) -> bool:
    return v is not None and v.dtype.is_float and (st.is_q(v) or v.name in st.ranges
                                                  or (v.is_const and v.data.size > 0))


def _lut(st: QState, qx, fn, yqp: QParams, name: str, out_name: str, attrs: dict):
    table = lut.build_table(fn, _s(qx.qparams), _zp(qx.qparams), _s(yqp), _zp(yqp))
    tv = st.g.add_const(name + ".lut", table, DType.int8)
    n = st.emit("qcc.lut", [qx, tv], attrs, name=name, out_name=out_name)
    n.outputs[0].qparams = yqp
    return n.outputs[0]


def _mul(st: QState, qa, qb, yqp: QParams, name: str, out_name: str):
    mult, shift = st.requant_consts(_s(qa.qparams) * _s(qb.qparams) / _s(yqp), name)
    n = st.emit("qcc.mul", [qa, qb, mult, shift], {"a_zp": _zp(qa.qparams), "b_zp": _zp(qb.qparams),
                "y_zp": _zp(yqp)}, name=name, out_name=out_name)
    n.outputs[0].qparams = yqp
    return n.outputs[0]


def _pow_attrs(e: float) -> dict:
    return {"fn": "LrnScale", "alpha": 1.0, "bias": 0.0, "beta": -float(e)}


def pow_const(st: QState, node: Node) -> bool:
    x, e = node.inputs
    if not e.is_const or e.data.size != 1 or x.is_const or not _quantizable(st, x):
        return False
    ex = float(np.asarray(e.data).reshape(-1)[0])
    out = node.outputs[0]
    qx = st.q(x)
    y = _lut(st, qx, lambda t: np.power(t, ex), st.act_qp(out), node.name, out.name, _pow_attrs(ex))
    st.set_q(out, y, y.qparams)
    return True


def _extremes(st: QState, v) -> Optional[tuple[float, float]]:
    """The exact (min, max) calibration saw for ``v`` (not widened to include 0)."""
    if v.is_const:
        return float(v.data.min()), float(v.data.max())
    ob = getattr(st.ranges, "observers", {}).get(v.name)
    if ob is None or ob.count == 0:
        return None
    return float(ob.min), float(ob.max)


def div(st: QState, node: Node) -> bool:
    a, b = node.inputs
    out = node.outputs[0]
    if b.is_const or not _quantizable(st, a) or not _quantizable(st, b):
        return False
    ext = _extremes(st, b)
    if ext is None or (ext[0] <= 0.0 <= ext[1]):
        return False  # 1/b unbounded over the calibration data: no int8 range for it
    lo, hi = ext
    rqp = act_qparams(min(1.0 / lo, 1.0 / hi), max(1.0 / lo, 1.0 / hi))
    qb = st.q(b)
    sign = 1.0 if lo > 0 else -1.0
    edge = min(abs(lo), abs(hi))  # codes of b beyond what calibration saw saturate at 1/edge

    def recip(t):
        return 1.0 / np.where(sign * t < edge, sign * edge, t)

    r = _lut(st, qb, recip, rqp, node.name + ".recip", b.name + ".recip",
             {"fn": "Reciprocal"})
    y = _mul(st, st.q(a), r, st.act_qp(out), node.name, out.name)
    st.set_q(out, y, y.qparams)
    return True


def _axes(node: Node, rank: int) -> Optional[list[int]]:
    axes = node.attrs.get("axes")
    if axes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
        if not node.inputs[1].is_const:
            return None
        axes = node.inputs[1].data.reshape(-1).tolist()
    if axes is None or len(axes) == 0:
        if node.attrs.get("noop_with_empty_axes", 0):
            return None
        axes = list(range(rank))
    return sorted(int(a) % rank for a in axes)


def reduce_l2(st: QState, node: Node) -> bool:
    x, out = node.inputs[0], node.outputs[0]
    if x.is_const or not _quantizable(st, x) or out.name not in st.ranges:
        return False
    axes = _axes(node, x.type.rank)
    if axes is None:
        return False
    qx = st.q(x)
    s, zp = _s(qx.qparams), _zp(qx.qparams)
    amax = s * max(abs(qx.qparams.qmin - zp), abs(qx.qparams.qmax - zp))
    sq = _mul(st, qx, qx, act_qparams(0.0, amax * amax), node.name + ".sq", x.name + ".sq")
    yqp = st.act_qp(out)
    ymax = max(_s(yqp) * (yqp.qmax - _zp(yqp)), 1e-12)
    sqp = act_qparams(0.0, ymax * ymax)
    mult, shift = st.requant_consts(_s(sq.qparams) / _s(sqp), node.name + ".sum")
    n = st.emit("qcc.reduce_mean", [sq, mult, shift],
                {"x_zp": _zp(sq.qparams), "y_zp": _zp(sqp), "axes": axes,
                 "keepdims": int(node.attrs.get("keepdims", 1)), "reduce": "sum"},
                name=node.name + ".sum", out_name=out.name + ".sumsq")
    n.outputs[0].qparams = sqp
    y = _lut(st, n.outputs[0], "Sqrt", yqp, node.name, out.name, {"fn": "Sqrt"})
    st.set_q(out, y, yqp)
    return True


def _real_range(qp: QParams) -> tuple[float, float]:
    return _s(qp) * (qp.qmin - _zp(qp)), _s(qp) * (qp.qmax - _zp(qp))


def _add2(st: QState, qa, qb, yqp: QParams, name: str, out_name: str):
    """``qcc.add`` of ``a + b`` into ``yqp``."""
    from qcc import arith

    ms, sh = arith.quantize_multipliers_shared(np.array([_s(qa.qparams), _s(qb.qparams)]) / _s(yqp))
    mult = st.g.add_const(name + ".mult", np.asarray(ms, np.int32).reshape(2))
    shift = st.g.add_const(name + ".shift", np.asarray(sh, np.int32).reshape(1))
    n = st.emit("qcc.add", [qa, qb, mult, shift], {"a_zp": _zp(qa.qparams), "b_zp": _zp(qb.qparams),
                "y_zp": _zp(yqp)}, name=name, out_name=out_name)
    n.outputs[0].qparams = yqp
    return n.outputs[0]


def sum_mean(st: QState, node: Node) -> bool:
    """Sum of any number of inputs: a chain of ``qcc.add``.  A partial sum has no
    calibrated range; it gets the sum of its inputs' ranges (no saturation), and the
    last add requantizes into the output's calibrated range.  Mean of ``n`` inputs: the
    sum into ``n`` times the output's range, then ``qcc.mul`` by the constant ``1/n``."""
    from .rules_elementwise import add_sub

    ins = [v for v in node.inputs if v is not None]
    if node.op == "onnx.Sum" and len(ins) == 2:
        return add_sub(st, node)
    if len(ins) < 2 or not any(st.is_q(v) for v in ins) or not all(_quantizable(st, v) for v in ins):
        return False
    out = node.outputs[0]
    yqp = st.act_qp(out)
    mean = node.op == "onnx.Mean"
    qs = [st.q(v) for v in ins]
    acc = qs[0]
    lo, hi = _real_range(acc.qparams)
    for i, qb in enumerate(qs[1:], 1):
        blo, bhi = _real_range(qb.qparams)
        lo, hi = lo + blo, hi + bhi
        last = i == len(qs) - 1
        if not last:
            pqp = act_qparams(lo, hi)
        else:
            ylo, yhi = _real_range(yqp)
            pqp = act_qparams(len(qs) * ylo, len(qs) * yhi) if mean else yqp
        name = node.name if last and not mean else f"{node.name}.part{i}"
        acc = _add2(st, acc, qb, pqp, name, out.name if last and not mean else name)
    if mean:
        c = np.float32(1.0 / len(qs))
        cq = st.g.add_const(node.name + ".inv_n", np.array(127, np.int8),
                            qparams=act_qparams(0.0, float(c)))
        acc = _mul(st, acc, cq, yqp, node.name, out.name)
    st.set_q(out, acc, acc.qparams)
    return True
