"""Weights built by ConstantOfShape (the light models) become initializers, outputs unchanged."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.materialize import materialize, materialized_path


def _model(old_ir: bool) -> onnx.ModelProto:
    shape = numpy_helper.from_array(np.array([4, 3], np.int64), "w_shape")
    nodes = [helper.make_node("ConstantOfShape", ["w_shape"], ["w"],
                              value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.25])),
             helper.make_node("MatMul", ["x", "w"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])]
    if old_ir:  # IR 3 lists every initializer as a graph input too
        inputs.append(helper.make_tensor_value_info("w_shape", TensorProto.INT64, [2]))
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
                          [shape])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13 if not old_ir else 9)])
    m.ir_version = 3 if old_ir else 8
    return m


def _run(m: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def test_constant_of_shape_becomes_an_initializer():
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    for old_ir in (False, True):
        m = _model(old_ir)
        before = _run(m, x)
        assert materialize(m) == 1
        g = m.graph
        assert [n.op_type for n in g.node] == ["MatMul"]
        assert [t.name for t in g.initializer] == ["w"]  # the unread shape tensor is gone
        # IR 3 needs every initializer among the graph inputs, later versions do not
        assert [i.name for i in g.input] == (["x", "w"] if old_ir else ["x"])
        onnx.checker.check_model(m)
        w = numpy_helper.to_array(g.initializer[0])
        assert w.shape == (4, 3) and w.dtype == np.float32 and np.all(w == 0.25)
        assert np.array_equal(_run(m, x), before)
        assert materialize(m) == 0  # nothing left to do


def test_a_model_without_runtime_weights_is_used_as_is(tmp_path):
    m = _model(False)
    materialize(m)
    p = str(tmp_path / "plain.onnx")
    onnx.save(m, p)
    assert materialized_path(p, "plain_test_model") == p


def test_old_models_are_lifted_to_opset_13(tmp_path, monkeypatch):
    """Per-channel QDQ needs opset 13; initializers stop being graph inputs (foldable)."""
    from qcc.bench import materialize as mat

    monkeypatch.setattr(mat, "FOLDER", str(tmp_path / "cache"))
    m = _model(old_ir=True)
    p = str(tmp_path / "old.onnx")
    onnx.save(m, p)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    out = materialized_path(p, "old_test_model")
    assert out != p and out.startswith(str(tmp_path / "cache"))
    new = onnx.load(out)
    onnx.checker.check_model(new)
    assert new.opset_import[0].version == 13 and new.ir_version >= 7
    assert [i.name for i in new.graph.input] == ["x"]
    assert np.array_equal(_run(new, x), _run(m, x))
    assert materialized_path(p, "old_test_model") == out  # cached while newer than the source


def test_shape_from_a_constant_node_and_non_constant_shapes():
    """A shape given by a Constant node is folded (the node goes); a shape computed at run
    time (Shape of an input) is left alone."""
    shape_t = numpy_helper.from_array(np.array([4, 3], np.int64), "s")
    ones = helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])
    nodes = [helper.make_node("Constant", [], ["w_shape"], value=shape_t),
             helper.make_node("ConstantOfShape", ["w_shape"], ["w"], value=ones),
             helper.make_node("MatMul", ["x", "w"], ["y"]),
             helper.make_node("Shape", ["x"], ["xs"]),
             helper.make_node("ConstantOfShape", ["xs"], ["z"], value=ones),
             helper.make_node("Add", ["x", "z"], ["x2"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
                           helper.make_tensor_value_info("x2", TensorProto.FLOAT, [2, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    before = s.run(None, {"x": x})
    assert materialize(m) == 1
    assert [n.op_type for n in m.graph.node] == ["MatMul", "Shape", "ConstantOfShape", "Add"]
    assert [t.name for t in m.graph.initializer] == ["w"]
    onnx.checker.check_model(m)
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    for a, b in zip(s.run(None, {"x": x}), before):
        assert np.array_equal(a, b)


def test_light_model_keeps_its_outputs(tmp_path, monkeypatch):
    """A real light model: every weight becomes an initializer and onnxruntime's output on
    the materialized copy equals the original's bit for bit."""
    from qcc.bench import materialize as mat
    from qcc.bench.models import LIGHT

    monkeypatch.setattr(mat, "FOLDER", str(tmp_path))
    src = f"{LIGHT}/light_squeezenet.onnx"
    out = materialized_path(src, "light_squeezenet")
    orig, new = onnx.load(src), onnx.load(out)
    assert not any(n.op_type == "ConstantOfShape" for n in new.graph.node)
    n_cos = sum(n.op_type == "ConstantOfShape" for n in orig.graph.node)
    assert n_cos > 30
    weight_bytes = sum(numpy_helper.to_array(t).nbytes for t in new.graph.initializer)
    assert weight_bytes > 4 * 2**20  # squeezenet 1.0 has about 1.2 M float weights
    x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
    name = next(i.name for i in new.graph.input)
    runs = [ort.InferenceSession(p, providers=["CPUExecutionProvider"]).run(None, {name: x})[0]
            for p in (src, out)]
    assert np.array_equal(runs[0], runs[1])
