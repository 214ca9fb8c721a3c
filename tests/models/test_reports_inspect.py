"""Issue 12, report 9: ``qcc inspect`` says per target whether the model compiles and
which nodes stop it (it used to answer ``unsupported ops: none`` for models that
cannot be lowered to integers)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_ok, qcc, qcc_inproc, two_unsupported_model  # noqa: E402


def _floor_mid(tmp_path):
    """Conv -> Floor -> Relu: imports and compiles in float; Floor has no integer lowering."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Floor", ["c"], ["f"], name="floor_mid"),
             helper.make_node("Relu", ["f"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / "floor.onnx"
    onnx.save(m, path)
    return path


def test_inspect_names_the_node_that_stops_integer_targets(tmp_path):
    p = qcc("inspect", _floor_mid(tmp_path))
    assert_ok(p)
    lines = {ln.split()[0] + (" --calib" if "--calib" in ln.split()[:2] else ""): ln
             for ln in p.stdout.splitlines() if ln.startswith("  ")}
    assert "compiles" in lines["onnx"] and "NOT" not in lines["onnx"]
    for t in ("onnx --calib", "c", "triton", "accel"):
        assert "does NOT compile" in lines[t] and "floor_mid" in lines[t], p.stdout


def test_inspect_json_and_unsupported_ops(tmp_path, capsys):
    path = tmp_path / "two.onnx"
    onnx.save(two_unsupported_model(), path)
    p = qcc_inproc(capsys, "inspect", path, "--json")
    assert_ok(p)
    t = json.loads(p.stdout)["targets"]
    assert set(t) == {"onnx", "onnx --calib", "c", "triton", "accel"}
    assert all(not v["ok"] and {"nms_1", "fancy_2"} <= set(v["nodes"]) for v in t.values())
    good = tmp_path / "floor.onnx"
    t = json.loads(qcc_inproc(capsys, "inspect", _floor_mid(tmp_path), "--json").stdout)["targets"]
    assert t["onnx"]["ok"] and t["c"]["nodes"] == ["floor_mid"] and not good.is_dir()


def test_inspect_names_the_accelerator_host_fallbacks(tmp_path, capsys):
    """The accelerator compiles what its ISA cannot express as host segments: inspect
    names them (a softmax over 4,096 elements: its rows do not fit the accumulator of the
    default configuration, so it runs on the host; the MatMul before it does not)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([1, -1], np.int64), "shape")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Reshape", ["h", "shape"], ["hr"], name="flat"),
             helper.make_node("Softmax", ["hr"], ["y"], axis=-1, name="long_softmax")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "long_softmax.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    p = qcc_inproc(capsys, "inspect", path, "--json")
    assert_ok(p)
    t = json.loads(p.stdout)["targets"]
    assert t["c"]["ok"] and "host_fallbacks" not in t["c"]
    assert t["accel"]["ok"] and t["accel"]["host_fallbacks"] == ["long_softmax"], t["accel"]
