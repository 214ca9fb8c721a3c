"""Issue 12's user reports about importing exported models, each rebuilt from a small
model made here: negative ``dim_value`` (1), every op at the lowest opset that
defines it (2).  Run through the real ``qcc`` console script."""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.metrics import sqnr_db
from tests.models.opset_sweep import OPS_LATER, sweep_model

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_error, assert_ok, ort_run, qcc, qcc_inproc  # noqa: E402


# ------------------------------------------------------------ 1: dim_value -1 (PaddlePaddle)
def _paddle_style(tmp_path):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 1])
    for d, v in zip(x.type.tensor_type.shape.dim, (-1, 3, -1, -1)):
        d.dim_value = v  # PaddlePaddle writes its dynamic dims as dim_value -1
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 4, -1, -1])
    m = helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1] * 4),
                                             helper.make_node("Relu", ["c"], ["y"])], "g", [x], [y], [w]),
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    path = tmp_path / "paddle.onnx"
    onnx.save(m, path)
    np.savez(tmp_path / "calib.npz", x=rng.standard_normal((4, 3, 6, 10)).astype(np.float32))
    return path


def test_negative_dim_value_is_dynamic_like_onnxruntime(tmp_path, capsys):
    path = _paddle_style(tmp_path)
    run = lambda *a: qcc_inproc(capsys, *a)  # noqa: E731
    assert_ok(qcc("compile", path, "--calib", tmp_path / "calib.npz", "--input-shape", "x=1x3x6x10",
                  "--target", "onnx", "-o", tmp_path / "a"))
    # without --input-shape the dynamic dims come from one calibration sample
    assert_ok(run("compile", path, "--calib", tmp_path / "calib.npz", "--target", "onnx", "-o", tmp_path / "b"))
    # a fixed dim still refuses a different size
    p = run("compile", path, "--input-shape", "x=1x4x6x10", "--target", "onnx", "-o", tmp_path / "c")
    assert_error(p, "dimension 1 is fixed to 3")
    # without data or --input-shape, the first -1 is the batch (1), the next are named
    assert_error(run("compile", path, "--target", "onnx", "-o", tmp_path / "d"), "dynamic dimension 2")
    ins = run("inspect", path)
    assert_ok(ins)
    assert "float32[?,3,?,?]" in ins.stdout


# ------------------------------------------------- 2: every op at its lowest opset
def test_int8_types_are_inferred_for_ops_that_admit_them_only_later():
    """MaxPool takes int8 from opset 12: an opset-11 node of the quantized graph still
    gets its shape (the next version's schema has the same shape rule)."""
    from qcc.ir import DType, Graph, TensorType
    from qcc.ops import infer_types

    g = Graph("t", opset=11)
    x = g.add_input("x", TensorType(DType.int8, (1, 4, 8, 8)))
    y = g.new_value("y", TensorType(DType.int8, ()))
    node = g.add_node("onnx.MaxPool", [x], [y], {"kernel_shape": [2, 2], "strides": [2, 2]})
    node.opset = 11
    assert infer_types(node) == [TensorType(DType.int8, (1, 4, 4, 4))]


def _calib(tmp_path, n=16):
    x = np.random.default_rng(3).standard_normal((n, 3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    return x


@pytest.mark.parametrize("opset,unsigned", [(11, False), (11, True)]
                         + [pytest.param(o, False, marks=pytest.mark.slow) for o in sorted(OPS_LATER)])
def test_every_op_compiles_at_the_lowest_opset_that_defines_it(opset, unsigned, tmp_path, capsys):
    """Conv -> each op (its own output); C bit-exact with the reference, the reference
    close to onnxruntime float for every op, the QDQ export loads in onnxruntime.

    ``unsigned`` (report 5): every op reads Softmax / Sigmoid outputs, the quantizer's
    uint8 tensors, so each integer op meets each activation dtype it can get; the C
    must still build and match the reference bit for bit (accuracy is not asserted
    there: Sigmoid of a probability and the like have little range to resolve)."""
    model, names = sweep_model(opset, unsigned=unsigned)
    path = tmp_path / f"sweep{opset}.onnx"
    onnx.save(model, path)
    x = _calib(tmp_path)
    assert_ok(qcc("compile", path, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", tmp_path / "c"))
    assert_ok(qcc_inproc(capsys, "compile", path, "--calib", tmp_path / "calib.npz", "--target", "onnx",
                         "-o", tmp_path / "q"))
    for eng, out in (("target", "c.npz"), ("reference", "r.npz")):
        assert_ok(qcc_inproc(capsys, "run", tmp_path / "c", "--engine", eng, "--inputs", tmp_path / "calib.npz",
                      "-o", tmp_path / out))
    got, ref = np.load(tmp_path / "c.npz"), np.load(tmp_path / "r.npz")
    outs = [o.name for o in model.graph.output]
    assert sorted(got.files) == sorted(outs)
    for k in outs:
        assert np.array_equal(got[k], ref[k]), k
    if unsigned:
        return
    fl = {k: np.concatenate([ort_run(str(path), {"x": x[i:i + 1]})[k] for i in range(len(x))]) for k in outs}
    low = {nm: round(sqnr_db(fl[k], ref[k]), 1) for nm, k in zip(names, outs) if sqnr_db(fl[k], ref[k]) < 25}
    assert not low, f"ops far from float at opset {opset}: {low}"
    qdq = ort_run(str(tmp_path / "q" / "model.onnx"), {"x": x[:1]})
    assert sorted(qdq) == sorted(outs)
