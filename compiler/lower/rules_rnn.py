"""Lowering rules for the integer recurrent ops ``qcc.lstm`` and ``qcc.gru``: every
weight, bias, multiplier and table becomes a constant buffer, the state tensors stay
activations; the scratch holds one time step's gate terms."""

from __future__ import annotations

from qcc.ir import Node

from .kernels import Gru, Lstm
from .program import Lowerer

DIRS = {"forward": 1, "reverse": 1, "bidirectional": 2}


def _common(lw: Lowerer, node: Node) -> dict:
    x = node.inputs[0]
    s, b, i = x.shape
    a = node.attrs
    direction = a.get("direction", "forward")
    return dict(node=node, x=lw.read(x), w=lw.const(node.inputs[1]), r=lw.const(node.inputs[2]),
                seq=s, batch=b, inputs=i, hidden=int(a["hidden_size"]), dirs=DIRS[direction],
                reverse=direction == "reverse", x_zp=int(a.get("x_zp", 0)),
                h_zp=int(a.get("h_zp", 0)))


def _scalar(v) -> int:
    return int(v.data.ravel()[0])


def _emit(lw: Lowerer, k, gates: int, step_bytes: int) -> None:
    """Scratch of the target's x-path form (``Target.rnn_xpath``)."""
    if lw.target.rnn_xpath == "sequence":
        k.xpath = "sequence"
        lw.call(k, scratch=4 * k.dirs * k.seq * k.batch * gates * k.hidden, temporaries=False)
    else:
        lw.call(k, scratch=step_bytes)


def lstm(lw: Lowerer, node: Node) -> None:
    ins = node.inputs
    k = Lstm(**_common(lw, node), bias=lw.const(ins[3]), mx=lw.const(ins[4]),
             sx=lw.const(ins[5]), mh=lw.const(ins[6]), sh=lw.const(ins[7]), h0=lw.read(ins[8]),
             c0=lw.read(ins[9]), sigmoid=lw.const(ins[10]), tanh=lw.const(ins[11]),
             y=node.outputs[0], yh=node.outputs[1], yc=node.outputs[2],
             cell_frac=int(node.attrs.get("cell_frac", 11)), mo=_scalar(ins[12]),
             so=_scalar(ins[13]))
    _emit(lw, k, 4, 4 * 4 * k.hidden)


def gru(lw: Lowerer, node: Node) -> None:
    ins = node.inputs
    k = Gru(**_common(lw, node), bx=lw.const(ins[3]), bh=lw.const(ins[4]), mx=lw.const(ins[5]),
            sx=lw.const(ins[6]), mh=lw.const(ins[7]), sh=lw.const(ins[8]), h0=lw.read(ins[9]),
            sigmoid=lw.const(ins[10]), tanh=lw.const(ins[11]), y=node.outputs[0],
            yh=node.outputs[1], linear_before_reset=int(node.attrs.get("linear_before_reset", 0)),
            mo=_scalar(ins[12]), so=_scalar(ins[13]))
    _emit(lw, k, 3, 4 * 7 * k.hidden)


RULES = {"qcc.lstm": lstm, "qcc.gru": gru}
