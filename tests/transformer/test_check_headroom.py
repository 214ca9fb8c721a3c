"""check-headroom on small integer IR: reported bits and errors naming the node."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.ir import DType, Graph, TensorType
from qcc.ops import infer_types
from qcc.ops import integer_transformer as itx
from qcc.passes.check_headroom import HeadroomError, analyse, check_headroom
from qcc.passmanager import PassContext


def _node(g, op, ins, attrs, name):
    out = g.new_value(name + ".out", TensorType(DType.int8, ()))
    n = g.add_node(op, ins, [out], attrs, name=name)
    out.type = infer_types(n)[0]
    return n


def _attention(k: int = 8, x_dt=DType.int8):
    g = Graph("t")
    a = g.add_input("a", TensorType(x_dt, (1, 4, k)))
    b = g.add_input("b", TensorType(DType.int8, (1, k, 4)))
    mm = _node(g, "qcc.matmul", [a, b], {"a_zp": 0, "b_zp": 0}, "scores")
    c = itx.isoftmax_consts(1e-3)
    sm = _node(g, "qcc.isoftmax", [mm.outputs[0], g.add_const("m", np.array([c["mult"]], np.int32)),
               g.add_const("s", np.array([c["shift"]], np.int32))], dict(c["attrs"], axis=-1), "softmax")
    g.outputs.append(sm.outputs[0])
    return g


def test_reports_bits_per_op():
    g = _attention(k=8)
    ctx = PassContext(options={})
    assert check_headroom(g, ctx) is False
    rep = ctx.report["check-headroom"]
    # |acc| <= 8 * 128 * 128 = 2^17: 18 bits used of a signed int32 -> 13 bits spare
    assert rep["ops"]["scores"] == {"op": "qcc.matmul", "worst": "acc", "bits": 13}
    assert rep["ops"]["softmax"]["bits"] >= 0 and rep["worst_node"] in ("scores", "softmax")
    full = analyse(g)["softmax"]["bounds"]
    assert full["x - max"] == 64 - 1 - (2 * 8 * 128 * 128).bit_length()   # int32 scores: int64 diff


def test_accumulator_that_cannot_fit_names_the_node():
    g = Graph("t")
    k = 70000                                   # 70000 * 255 * 127 > 2^31
    x = g.add_input("x", TensorType(DType.int8, (1, k)))
    w = g.add_const("w", np.full((k, 2), 127, np.int8), DType.int8)
    n = _node(g, "qcc.linear", [x, w], {"x_zp": -128}, "big_fc")
    g.outputs.append(n.outputs[0])
    with pytest.raises(HeadroomError, match="qcc.linear node 'big_fc'.*'acc'"):
        check_headroom(g, PassContext(options={}))


def test_layernorm_on_int32_input_cannot_center_in_int32():
    g = Graph("t")
    c = 64
    x = g.add_input("x", TensorType(DType.int32, (2, c)))
    k = itx.ilayernorm_consts(np.ones(c), np.zeros(c), 1e-3, 0.05, c)
    ins = [x, g.add_const("g", k["gamma"]), g.add_const("b", k["bias"]),
           g.add_const("m", np.array([k["mult"]], np.int32)), g.add_const("s", np.array([k["shift"]], np.int32))]
    n = _node(g, "qcc.ilayernorm", ins, {"axis": -1}, "ln")
    g.outputs.append(n.outputs[0])
    with pytest.raises(HeadroomError, match="'ln'.*'C\\*x - sum'"):
        check_headroom(g, PassContext(options={}))
    ins[0].type = TensorType(DType.int16, (2, c))         # the int16 residual stream fits
    assert analyse(g)["ln"]["bits"] >= 0
