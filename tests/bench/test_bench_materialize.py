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
