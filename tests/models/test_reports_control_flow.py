"""Issue 12, report 8: an ``If`` whose condition folds once shapes are bound is inlined
(the taken branch only); data-dependent ``If`` and ``Loop`` are refused in one line
naming the node and why."""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.frontend.onnx_import import import_model
from qcc.interp import run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_error, assert_ok, ort_run, qcc, qcc_inproc  # noqa: E402

F = TensorProto.FLOAT


def _branch(name, op, w):
    """A branch: Conv(x, its own weight) -> op; reads x from the outer scope."""
    return helper.make_graph(
        [helper.make_node("Conv", ["x", f"{name}_w"], [f"{name}_c"], pads=[1, 1, 1, 1]),
         helper.make_node(op, [f"{name}_c"], [f"{name}_y"])], name, [],
        [helper.make_tensor_value_info(f"{name}_y", F, None)], [numpy_helper.from_array(w, f"{name}_w")])


def switch_model(width_threshold: int, data_dependent: bool = False) -> onnx.ModelProto:
    """The input's width (static once bound) picks the branch, as sample-rate switches
    of audio front ends do; ``data_dependent`` compares a value of x instead."""
    rng = np.random.default_rng(0)
    w1, w2 = (rng.standard_normal((4, 3, 3, 3)).astype(np.float32) for _ in range(2))
    if data_dependent:
        pre = [helper.make_node("ReduceMax", ["x"], ["m"], keepdims=0),
               helper.make_node("Greater", ["m", "thr"], ["cond"])]
        thr = np.array(0.0, np.float32)
    else:
        pre = [helper.make_node("Shape", ["x"], ["s"]),
               helper.make_node("Gather", ["s", "three"], ["wd"], axis=0),
               helper.make_node("Greater", ["wd", "thr"], ["cond"])]
        thr = np.array(width_threshold, np.int64)
    nodes = pre + [helper.make_node("If", ["cond"], ["y"], name="rate_switch",
                                    then_branch=_branch("then", "Relu", w1),
                                    else_branch=_branch("else", "Sigmoid", w2))]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 3, 8, "W"])],
                          [helper.make_tensor_value_info("y", F, None)],
                          [numpy_helper.from_array(thr, "thr"), numpy_helper.from_array(np.array(3, np.int64), "three")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("width,taken", [(16, "Relu"), (6, "Sigmoid")])
def test_if_with_a_foldable_condition_is_inlined(width, taken):
    m = switch_model(10)
    g = import_model(m, {"x": (1, 3, 8, width)})
    ops = {n.op for n in g.nodes}
    assert "onnx.If" not in ops and f"onnx.{taken}" in ops and len([o for o in ops if o == "onnx.Conv"]) == 1
    x = np.random.default_rng(1).standard_normal((1, 3, 8, width)).astype(np.float32)
    want = ort_run(m, {"x": x})["y"]
    np.testing.assert_allclose(run(g, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


def test_inlined_if_compiles_to_c_bit_exact(tmp_path, capsys):
    path = tmp_path / "switch.onnx"
    onnx.save(switch_model(10), path)
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(2).standard_normal((8, 3, 8, 16)).astype(np.float32))
    assert_ok(qcc("compile", path, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", tmp_path / "c"))
    for eng in ("target", "reference"):
        assert_ok(qcc_inproc(capsys, "run", tmp_path / "c", "--engine", eng, "--inputs", tmp_path / "calib.npz",
                             "-o", tmp_path / f"{eng}.npz"))
    assert np.array_equal(np.load(tmp_path / "target.npz")["y"], np.load(tmp_path / "reference.npz")["y"])


def test_data_dependent_if_is_one_clear_line(tmp_path, capsys):
    path = tmp_path / "dyn_if.onnx"
    onnx.save(switch_model(0, data_dependent=True), path)
    p = qcc_inproc(capsys, "compile", path, "--input-shape", "x=1x3x8x8", "--target", "onnx", "-o", tmp_path / "o")
    assert_error(p, "If node 'rate_switch'", "not known at compile time", "'x'")
    assert not (tmp_path / "o").exists()


def test_loop_is_one_clear_line(tmp_path, capsys):
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Relu", ["acc_in"], ["acc_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", F, [1, 4])])
    g = helper.make_graph([helper.make_node("Loop", ["n", "", "x"], ["y"], body=body, name="decode_loop")], "g",
                          [helper.make_tensor_value_info("x", F, [1, 4]),
                           helper.make_tensor_value_info("n", TensorProto.INT64, [])],
                          [helper.make_tensor_value_info("y", F, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / "loop.onnx"
    onnx.save(m, path)
    assert_error(qcc_inproc(capsys, "compile", path, "--target", "onnx", "-o", tmp_path / "o"),
                 "Loop node 'decode_loop'", "static graphs")
