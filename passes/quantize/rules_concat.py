"""Quantize rule for Concat, with the int16 output of wide-spread concats.

A Concat's int8 output has one scale.  When its inputs' ranges differ by a large
factor (a detector head that concatenates box coordinates in pixels with class
probabilities in [0, 1]), that one scale is the widest input's and the narrow inputs
lose most of their resolution (a 320-pixel range leaves 1.25 per step, so the
probabilities become 0 or 1.25).  When the Concat's output reaches only graph outputs
(through data movement and further Concats) and the largest input scale is at least
``wide_concat`` times the smallest (option, default 8; 0 turns it off), the output is
int16 at the calibrated output range instead: each int8 part is requantized into the
16-bit grid (256 times finer for the same range), the data movement after it moves int16
and the graph output dequantizes from int16.  Only the output buffer doubles in size;
nothing computes on it.  A Concat whose output feeds arithmetic keeps int8 (its consumer
needs one int8 scale anyway).  Every such Concat is listed in the manifest
(``passes.quantize.wide_concats``) and named in the compile log.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Node, Value
from qcc.quant_scheme import act_qparams

from .rules_elementwise import MOVE_OPS
from .state import QState

WIDE = DType.int16
_THROUGH = MOVE_OPS | {"onnx.Concat"}  # ops an int16 tensor may pass on its way out


def _s(v: Value) -> float:
    return float(v.qparams.scale[0])


def _zp(v: Value) -> int:
    return int(v.qparams.zero_point[0])


def only_to_outputs(st: QState, v: Value) -> bool:
    """Every use of ``v`` reaches a graph output through data movement (as its data
    input) and Concats only, and at least one graph output is reached."""
    todo, seen, reached = [v], set(), False
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        reached = reached or st.old.is_output(x)
        for u in x.users:
            if u.op not in _THROUGH or (u.op != "onnx.Concat" and u.inputs[0] is not x):
                return False
            todo.extend(u.outputs)
    return reached


def _wide_qp(st: QState, node: Node, ins: list):
    """The int16 output qparams when this Concat should be wide, else None."""
    out = node.outputs[0]
    if st.opts.wide_concat == 0 or out.name in st.pinned or out.name not in st.ranges:
        return None
    if not all(v.dtype in (DType.int8, DType.uint8, WIDE) for v in ins):
        return None
    scales = [_s(v) for v in ins]
    ratio = max(scales) / max(min(scales), 1e-30)
    upstream_wide = any(v.dtype is WIDE for v in ins)
    if not upstream_wide and ratio < st.opts.wide_concat:
        return None
    if not only_to_outputs(st, out):
        return None
    lo, hi = st.range_of(out.name)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo <= 0:
        return None
    st.wide_concats.append({"node": node.name, "output": out.name, "bits": 16,
                            "scale_ratio": round(ratio, 2), "inputs": [v.name for v in node.inputs]})
    return act_qparams(lo, hi, bits=16)


def concat(st: QState, node: Node) -> bool:
    if not any(st.is_q(v) for v in node.inputs if v is not None) or not node.outputs[0].dtype.is_float:
        return False
    ins = [st.q(v) for v in node.inputs]
    out = node.outputs[0]
    axis = int(node.attrs.get("axis", 0))
    wide = _wide_qp(st, node, ins)
    same = all(_s(v) == _s(ins[0]) and _zp(v) == _zp(ins[0]) and v.dtype is ins[0].dtype for v in ins)
    if same and wide is None:
        n = st.emit("onnx.Concat", ins, {"axis": axis}, name=node.name, out_name=out.name)
        st.set_q(out, n.outputs[0], ins[0].qparams)
        return True
    yqp = wide or st.act_qp(out)
    mult, shift = st.requant_consts(np.array([_s(v) for v in ins]) / float(yqp.scale[0]), node.name)
    attrs = {"axis": axis, "zps": [_zp(v) for v in ins], "y_zp": int(yqp.zero_point[0])}
    if wide is not None:
        attrs["dtype"] = "i16"
    n = st.emit("qcc.concat", ins + [mult, shift], attrs, name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True
