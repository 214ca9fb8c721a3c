"""shape-fold: Shape/Size of static values and the subgraphs computing shapes fold
away; Flatten/Squeeze/Unsqueeze/Reshape(-1, 0) become one explicit static Reshape;
no-op reshapes and expands disappear."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from pass_testlib import (LIGHT_MODELS, apply, check_pass, check_pass_on_light, const, model_graph,
                          ops, vi)


def _shape_as_data():
    """Shape/Size values used as data (a position table scaled by batch size and element
    count), as
    exporters write them.  (Chains that feed a shape input, e.g. Reshape's target, are
    folded by the importer already: without a constant target the IR has no static
    type; tests/compiler/test_import.py covers those.)"""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["b"], axis=0, name="gather"),
        helper.make_node("Cast", ["b"], ["bf"], to=TensorProto.FLOAT, name="cast_b"),
        helper.make_node("Size", ["x"], ["n"], name="size"),
        helper.make_node("Cast", ["n"], ["nf"], to=TensorProto.FLOAT, name="cast_n"),
        helper.make_node("Range", ["zero", "six", "one"], ["idx"], name="range"),
        helper.make_node("Cast", ["idx"], ["idxf"], to=TensorProto.FLOAT, name="cast_idx"),
        helper.make_node("Mul", ["idxf", "bf"], ["pos0"], name="scale_pos"),
        helper.make_node("Mul", ["pos0", "nf"], ["pos"], name="scale_n"),
        helper.make_node("Flatten", ["x"], ["flat"], axis=0, name="flatten"),
        helper.make_node("Add", ["flat", "pos"], ["y"], name="out"),
    ]
    inits = [const("zero", np.array(0, np.int64)), const("one", np.array(1, np.int64)),
             const("six", np.array(6, np.int64))]
    g = model_graph(nodes, [vi("x", [2, 3])], [vi("y", [1, 6])], inits)
    return g


def test_shape_values_fold_to_constants():
    g = _shape_as_data()
    assert ops(g)["onnx.Shape"] == 1 and ops(g)["onnx.Range"] == 1  # imported unfolded
    changed, report = check_pass(g, "shape-fold")
    assert changed and report["rewrites"] == 10  # 9 folded nodes + Flatten -> Reshape
    assert ops(g) == {"onnx.Reshape": 1, "onnx.Add": 1}
    np.testing.assert_array_equal(g.node_by_name("out").inputs[1].data,
                                  2 * 6 * np.arange(6, dtype=np.float32))
    assert list(g.node_by_name("flatten").inputs[1].data) == [1, 6]


@pytest.mark.parametrize("op,extra,attrs,out_shape", [
    ("Flatten", [], {"axis": 2}, [2, 12]),
    ("Squeeze", ["axes1"], {}, [2, 3, 4]),
    ("Unsqueeze", ["axes1"], {}, [2, 1, 1, 3, 4]),
    ("Reshape", ["shape0"], {}, [2, 12]),
])
def test_reshape_like_ops_become_explicit_reshape(op, extra, attrs, out_shape):
    nodes = [helper.make_node(op, ["x"] + extra, ["r"], name="rs", **attrs),
             helper.make_node("Relu", ["r"], ["y"], name="relu")]
    inits = [const("axes1", np.array([1], np.int64)), const("shape0", np.array([0, -1], np.int64))]
    g = model_graph(nodes, [vi("x", [2, 1, 3, 4])], [vi("y", out_shape)], inits)
    changed, _ = check_pass(g, "shape-fold")
    assert changed and ops(g) == {"onnx.Reshape": 1, "onnx.Relu": 1}
    rs = g.node_by_name("rs")
    assert list(rs.inputs[1].data) == out_shape and not rs.attrs
    assert not apply(g, "shape-fold")[0]  # already canonical: idempotent


def test_noop_reshape_and_expand_disappear():
    nodes = [helper.make_node("Reshape", ["x", "same"], ["a"], name="noop_reshape"),
             helper.make_node("Expand", ["a", "same"], ["b"], name="noop_expand"),
             helper.make_node("Relu", ["b"], ["y"], name="relu")]
    g = model_graph(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])],
                    [const("same", np.array([2, 3], np.int64))])
    check_pass(g, "shape-fold")
    assert ops(g) == {"onnx.Relu": 1} and g.node_by_name("relu").inputs[0] is g.inputs[0]


def test_noop_between_graph_input_and_output_is_kept_and_not_counted():
    nodes = [helper.make_node("Reshape", ["x", "same"], ["y"], name="keep")]
    g = model_graph(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])],
                    [const("same", np.array([2, 3], np.int64))])
    changed, report = check_pass(g, "shape-fold")
    assert [n.name for n in g.nodes] == ["keep"] and g.outputs[0].name == "y"
    assert not changed and report["rewrites"] == 0


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name):
    g, _, _ = check_pass_on_light(name, "shape-fold")
    assert not {"onnx.Flatten", "onnx.Shape"} & set(ops(g))
