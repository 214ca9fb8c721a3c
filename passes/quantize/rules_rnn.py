"""Quantize rules for the recurrent ops: ONNX ``LSTM`` and ``GRU`` -> ``qcc.lstm`` /
``qcc.gru`` (arithmetic in compiler/ops/integer_rnn.py, docs/integer_ops.md "Recurrent").

x and the hidden state are int8 per tensor (the hidden state takes the calibrated
range of Y, which Y_h shares); weights int8 symmetric per gate row; biases at the
gate scale 2^-12; the LSTM cell state int16 at 2^-cell_frac from the calibrated
range of Y_c.  Forms outside the integer kernel (peepholes, ``clip``,
``input_forget``, other activations, ``layout = 1``, per-batch sequence lengths)
are refused with the reason (``--allow-float LSTM`` keeps such a node in float).
"""

from __future__ import annotations

import numpy as np

from qcc import arith
from qcc.errors import LoweringError
from qcc.ir import DType, Node, QParams
from qcc.ops.integer_rnn import ACT_FRAC, GATE_FRAC, cell_frac, gate_tables

from qcc.quant_scheme import weight_qparams

from .state import QState

DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}
DEFAULT_CELL_ABSMAX = 8.0  # when Y_c has no calibrated range (docs/integer_ops.md)


def _unsupported(node: Node) -> str:
    """Why the integer kernel cannot run this node ('' when it can)."""
    a = node.attrs
    acts = a.get("activations")
    nd = 2 if a.get("direction", "forward") == "bidirectional" else 1
    if acts and [str(x) for x in acts] != DEFAULT_ACTS[node.op_type] * nd:
        return f"activations {list(acts)}"
    if a.get("clip") is not None:
        return "clip"
    if int(a.get("input_forget", 0) or 0):
        return "input_forget=1"
    if int(a.get("layout", 0) or 0):
        return "layout=1"
    if node.op_type == "LSTM" and len(node.inputs) > 7 and node.inputs[7] is not None:
        return "peephole weights"
    seq = node.inputs[4] if len(node.inputs) > 4 else None
    if seq is not None:
        s = node.inputs[0].shape[0]
        if not seq.is_const or np.any(np.asarray(seq.data) != s):
            return "per-batch sequence_lens"
    return ""


def _weights(st: QState, v, name: str):
    """int8 [D, R, K] symmetric per row, with the row scales [D*R] (kept as the constant's
    qparams: ``axis = 1``, one scale per (direction, row), directions outermost)."""
    w = np.asarray(v.data, np.float64)
    q, qp = weight_qparams(w.reshape(-1, w.shape[-1]), 0)
    qp.axis = 1
    return st.g.add_const(name, q.reshape(w.shape), DType.int8, qparams=qp), \
        np.asarray(qp.scale, np.float64)


def _mults(st: QState, r: np.ndarray, name: str):
    m, s = arith.quantize_multiplier(r)
    return (st.g.add_const(name + ".mult", np.asarray(m, np.int32).reshape(-1)),
            st.g.add_const(name + ".shift", np.asarray(s, np.int32).reshape(-1)))


def _gate_bias(b, gates: int, nd: int, hsz: int) -> tuple[np.ndarray, np.ndarray]:
    """(Wb, Rb) float [D, G*H] each (zeros when B is absent)."""
    if b is None:
        z = np.zeros((nd, gates * hsz))
        return z, z
    if not b.is_const:
        raise LoweringError(f"recurrent bias '{b.name}' is not a constant")
    d = np.asarray(b.data, np.float64).reshape(nd, 2, gates * hsz)
    return d[:, 0], d[:, 1]


def _q12(b: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(b * (1 << GATE_FRAC)), arith.INT32_MIN, arith.INT32_MAX).astype(np.int32)


def _common(st: QState, node: Node, gates: int):
    """Shared part: x, weights, requant constants, hidden-state qparams, tables."""
    x, w, r = node.inputs[0], node.inputs[1], node.inputs[2]
    if not (w.is_const and r.is_const):
        raise LoweringError(f"{node.op_type} node '{node.name}': weights must be constants")
    nd, hsz = w.shape[0], int(node.attrs["hidden_size"])
    xq = st.q(x)
    hv = next((v for v in node.outputs[:2] if st.range_of(v.name)), node.outputs[0])
    hqp = st.act_qp(hv)
    sx, sh = float(xq.qparams.scale[0]), float(hqp.scale[0])
    wq, sw = _weights(st, w, node.name + ".w")
    rq, sr = _weights(st, r, node.name + ".r")
    mx = _mults(st, sx * sw * (1 << GATE_FRAC), node.name + ".x")
    mh = _mults(st, sh * sr * (1 << GATE_FRAC), node.name + ".h")
    sig, tanh = gate_tables()
    tables = [st.g.add_const(node.name + ".sigmoid", sig, DType.int16),
              st.g.add_const(node.name + ".tanh", tanh, DType.int16)]
    mo = _mults(st, np.array([2.0 ** (-2 * ACT_FRAC) / sh]), node.name + ".out")
    attrs = {"hidden_size": hsz, "direction": node.attrs.get("direction", "forward"),
             "x_zp": int(xq.qparams.zero_point[0]), "h_zp": int(hqp.zero_point[0])}
    return xq, wq, rq, mx, mh, tables, mo, hqp, attrs, nd, hsz


def _h0(st: QState, node: Node, i: int, hqp: QParams):
    v = node.inputs[i] if len(node.inputs) > i else None
    if v is None:
        return None
    # the initial hidden state is read at the output's scale: an input already quantized
    # at its own (a graph input, a state computed upstream) is requantized to it
    return st.to_qparams(st.q(v, hqp), hqp, f"{node.name}.h0")


def _out_names(node: Node, k: int) -> list[str]:
    """Names of the k outputs of the integer op: the ONNX node's where it has them."""
    have = [v.name for v in node.outputs]
    return [have[j] if j < len(have) else f"{node.name}.out{j}" for j in range(k)]


def _finish(st: QState, node: Node, n: Node, qps: list) -> None:
    for old, new, qp in zip(node.outputs, n.outputs, qps):
        st.set_q(old, new, qp)
    st.layers.append({"node": node.name, "op": node.op_type.lower(), "weight": n.inputs[1].name,
                      "bits": 8, "params": int(n.inputs[1].type.numel + n.inputs[2].type.numel)})


def _check(node: Node) -> None:
    """Refuse, naming the node and the reason, what the integer kernel cannot run."""
    why = _unsupported(node)
    if why:
        raise LoweringError(f"{node.op_type} node '{node.name}': {why} is not supported by the "
                            f"integer {node.op_type} kernel; keep it in float on purpose with "
                            f"--allow-float {node.op_type}")
    k = max(node.inputs[0].shape[-1], int(node.attrs["hidden_size"]))
    if not arith.acc_fits_int32(k):
        raise LoweringError(f"{node.op_type} node '{node.name}': a gate accumulator over {k} "
                            f"int8 products can overflow int32")


def _cell_absmax(st: QState, node: Node, c0v) -> float:
    """The cell state's calibrated magnitude: the final state Y_c's and, when the initial
    state is an input (a streaming model carries it between calls) or a constant, its own
    (a carried state can exceed one call's final state)."""
    found = []
    for r in (st.range_of(node.outputs[2].name) if len(node.outputs) > 2 else None,
              None if c0v is None or c0v.is_const else st.range_of(c0v.name)):
        if r is not None:
            found.append(max(abs(r[0]), abs(r[1])))
    if c0v is not None and c0v.is_const and c0v.data is not None and np.size(c0v.data):
        found.append(float(np.max(np.abs(c0v.data))))
    return max(found) if found else DEFAULT_CELL_ABSMAX


def lstm(st: QState, node: Node) -> bool:
    _check(node)
    xq, wq, rq, mx, mh, tables, mo, hqp, attrs, nd, hsz = _common(st, node, 4)
    wb, rb = _gate_bias(node.inputs[3] if len(node.inputs) > 3 else None, 4, nd, hsz)
    bias = st.g.add_const(node.name + ".bias", _q12(wb + rb), DType.int32)
    c0v = node.inputs[6] if len(node.inputs) > 6 else None
    cf = cell_frac(_cell_absmax(st, node, c0v))
    cqp = QParams(scale=2.0 ** -cf, zero_point=0, bits=16)
    c0 = None
    if c0v is not None:
        if c0v.is_const:
            c0 = st.g.add_const(node.name + ".c0", np.clip(np.rint(c0v.data * 2.0 ** cf), -32768,
                                                           32767).astype(np.int16), DType.int16)
        else:  # int8 (its own range) -> int16 at 2^-cf: integer only, no float round trip
            qc = st.q(c0v)
            q = qc.qparams
            mult, shift = st.requant_consts(np.asarray([float(q.scale[0]) * 2.0 ** cf]), c0v.name + ".c0")
            c0 = st.emit("qcc.requant", [qc, mult, shift], {"x_zp": int(q.zero_point[0]), "y_zp": 0,
                         "dtype": "i16"}, name=c0v.name + ".c0").outputs[0]
            c0.qparams = cqp
    ins = [xq, wq, rq, bias, *mx, *mh, _h0(st, node, 5, hqp), c0, *tables, *mo]
    n = st.emit("qcc.lstm", ins, dict(attrs, cell_frac=cf), name=node.name, n_out=3,
                out_names=_out_names(node, 3))
    _finish(st, node, n, [hqp, hqp, cqp])
    return True


def gru(st: QState, node: Node) -> bool:
    _check(node)
    xq, wq, rq, mx, mh, tables, mo, hqp, attrs, nd, hsz = _common(st, node, 3)
    wb, rb = _gate_bias(node.inputs[3] if len(node.inputs) > 3 else None, 3, nd, hsz)
    bx = st.g.add_const(node.name + ".bias_x", _q12(wb), DType.int32)
    bh = st.g.add_const(node.name + ".bias_h", _q12(rb), DType.int32)
    ins = [xq, wq, rq, bx, bh, *mx, *mh, _h0(st, node, 5, hqp), *tables, *mo]
    lbr = int(node.attrs.get("linear_before_reset", 0) or 0)
    n = st.emit("qcc.gru", ins, dict(attrs, linear_before_reset=lbr), name=node.name, n_out=2,
                out_names=_out_names(node, 2))
    _finish(st, node, n, [hqp, hqp])
    return True
