"""Lowering rules of the integer recurrent ops ``qcc.lstm`` and ``qcc.gru``: one GEMM
call per direction for the x-path gate terms (requantized to Q3.12, int32-saturated,
exactly the reference's ``_rq32``) into a workspace buffer, then one recurrence kernel
(``templates/rnn.j2``) over the time steps."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node, TensorType, Value

from .calls import Call, linear_call, pow2_tile
from .program import TORCH_DTYPES, Lowerer, rule

DIRS = {"forward": 1, "reverse": 1, "bidirectional": 2}


def _opt(lw: Lowerer, node: Node, i: int):
    v = node.inputs[i] if i < len(node.inputs) else None
    return v


def _gx(lw: Lowerer, node: Node, gates: int, i_m: int) -> Value:
    """x-path gate terms of every direction: int32 [D, S, B, G*H]."""
    x = node.inputs[0]
    s, b, _ = x.shape
    hsz, nd = int(node.attr("hidden_size")), DIRS[node.attr("direction", "forward")]
    w = lw.const_data(node.inputs[1])
    mx, sx = lw.const_data(node.inputs[i_m]).reshape(nd, -1), lw.const_data(node.inputs[i_m + 1]).reshape(nd, -1)
    gx = Value(f"{node.name}.gx", TensorType(DType.int32, (nd, s, b, gates * hsz)))
    for d in range(nd):
        call = linear_call(lw.kname("rnnx"), (s * b, x.shape[2]), TORCH_DTYPES[x.dtype],
                           np.ascontiguousarray(w[d].T), 8, None, mx[d], sx[d], "int32",
                           x_zp=int(node.attr("x_zp", 0)))
        lw.step(node, call, {"a": x}, gx, d * s * b * gates * hsz)
    return gx


def _rnn(lw: Lowerer, node: Node, op: str) -> None:
    gates = 4 if op == "lstm" else 3
    x = node.inputs[0]
    if x.dtype not in (DType.int8, DType.uint8):
        raise LoweringError(f"target triton: {node.op} node '{node.name}' input is {x.dtype.name}")
    s, b, _ = x.shape
    hsz, nd = int(node.attr("hidden_size")), DIRS[node.attr("direction", "forward")]
    gx = _gx(lw, node, gates, 4 if op == "lstm" else 5)
    i_mh = 6 if op == "lstm" else 7
    h0 = _opt(lw, node, 8 if op == "lstm" else 9)
    c0 = _opt(lw, node, 9) if op == "lstm" else None
    cfg = dict(name=lw.kname(op), op=op, gates=gates, HB=pow2_tile(hsz, 16, 1 << 12),
               has_h0=h0 is not None, has_c0=c0 is not None,
               cell_frac=int(node.attr("cell_frac", 11)), lbr=int(node.attr("linear_before_reset", 0)))
    consts = {"r": lw.const_data(node.inputs[2]).astype(np.int8),
              "bias": lw.const_data(node.inputs[3]).astype(np.int32),
              "mh": lw.const_data(node.inputs[i_mh]).astype(np.int32),
              "sh": lw.const_data(node.inputs[i_mh + 1]).astype(np.int32),
              "sig": lw.const_data(node.inputs[10]).astype(np.int16),
              "tanh": lw.const_data(node.inputs[11]).astype(np.int16)}
    if op == "gru":
        consts["bias_h"] = lw.const_data(node.inputs[4]).astype(np.int32)
    params = dict(S=s, B=b, H=hsz, D=nd, hz=int(node.attr("h_zp", 0)),
                  mo=int(lw.const_data(node.inputs[12]).ravel()[0]),
                  so=int(lw.const_data(node.inputs[13]).ravel()[0]),
                  REVERSE=int(node.attr("direction", "forward") == "reverse"))
    reads = {"gx": gx}
    if h0 is not None:
        reads["h0"] = h0
    if c0 is not None:
        reads["c0"] = c0
    outs = node.outputs
    extra = {"hn": outs[1]}
    if op == "lstm":
        extra["cn"] = outs[2]
    lw.step(node, Call("rnn", cfg, consts, params), reads, outs[0], extra_outs=extra)


@rule("qcc.lstm")
def lstm(lw: Lowerer, node: Node) -> None:
    _rnn(lw, node, "lstm")


@rule("qcc.gru")
def gru(lw: Lowerer, node: Node) -> None:
    _rnn(lw, node, "gru")
