"""constant-fold: nodes whose inputs are all constants become constants."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from pass_testlib import (LIGHT_MODELS, apply, check_pass, check_pass_on_light, const, model_graph,
                          ops, vi)
from qcc.ir import rewrite


def _graph():
    """y = x * ((a + b)^T cast to f32) ; plus Shape(x) -> Cast -> Add into y2, and a QDQ pair."""
    nodes = [
        helper.make_node("Add", ["a", "b"], ["ab"], name="add_c"),
        helper.make_node("Transpose", ["ab"], ["abt"], perm=[1, 0], name="tr_c"),
        helper.make_node("Cast", ["abt"], ["abf"], to=TensorProto.FLOAT, name="cast_c"),
        helper.make_node("Mul", ["x", "abf"], ["y"], name="mul"),
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT, name="cast_s"),
        helper.make_node("Add", ["y", "sf"], ["y2"], name="add_s"),
        helper.make_node("QuantizeLinear", ["wq", "scale"], ["q"], name="quant_w"),
        helper.make_node("DequantizeLinear", ["q", "scale"], ["dq"], name="dequant_w"),
        helper.make_node("Add", ["y2", "dq"], ["out"], name="add_q"),
    ]
    inits = [const("a", np.arange(4, dtype=np.int32).reshape(2, 2)),
             const("b", np.full((2, 2), 3, np.int32)),
             const("wq", np.array([0.5, -1.0], np.float32)),
             const("scale", np.array(0.1, np.float32))]
    return model_graph(nodes, [vi("x", [2, 2])], [vi("out", [2, 2])], inits)


def test_folds_constant_chains_in_one_sweep():
    g = _graph()
    assert ops(g)["onnx.Add"] == 3
    changed, report = check_pass(g, "constant-fold")
    assert changed and report["folded"] == 5  # add_c, tr_c, cast_c, shape (static), cast_s
    names = {n.name for n in g.nodes}
    assert not names & {"add_c", "tr_c", "cast_c", "shape", "cast_s"}
    assert {"mul", "add_s", "add_q"} <= names
    np.testing.assert_array_equal(g.node_by_name("mul").inputs[1].data, [[3, 5], [4, 6]])


def test_keeps_quantize_dequantize_and_unused_constants_go():
    g = _graph()
    apply(g, "constant-fold")
    assert {"quant_w", "dequant_w"} <= {n.name for n in g.nodes}  # quantization stays visible
    assert "a" not in g.constants and "b" not in g.constants  # only the folded result is kept


def test_idempotent():
    g = _graph()
    apply(g, "constant-fold")
    changed, report = apply(g, "constant-fold")
    assert not changed and report["folded"] == 0


def test_respects_size_limit(monkeypatch):
    nodes = [helper.make_node("Expand", ["c", "shape"], ["big"], name="expand"),
             helper.make_node("Add", ["x", "big"], ["y"], name="add")]
    g = model_graph(nodes, [vi("x", [10, 10])], [vi("y", [10, 10])],
                    [const("c", np.ones(1, np.float32)), const("shape", np.array([10, 10], np.int64))])
    monkeypatch.setattr(rewrite, "FOLD_LIMIT", 50)
    check_pass(g, "constant-fold")
    assert "expand" in {n.name for n in g.nodes}  # 100 elements > limit: left to run time
    monkeypatch.setattr(rewrite, "FOLD_LIMIT", 1000)
    check_pass(g, "constant-fold")
    assert ops(g) == {"onnx.Add": 1}


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name):
    check_pass_on_light(name, "constant-fold")
