"""A tensor whose calibrated range is tiny but real (1e-12: the vanishing residual branches
of a random-init EfficientNet-B0, issue 12's zoo) keeps its own int8 scale.  An absolute
floor on the range (once 1e-12 -> 1e-6) quantized every value of such a tensor to one
code: efficientnet_b0 scored 0.0 dB against onnxruntime's 21.2 (now 20.7)."""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import qcc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import ort_run  # noqa: E402


def tiny_branch_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((4, 3, 3, 3)) * 1e-14).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Mul", ["r", "k"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(1e14, np.float32), "k")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_tiny_real_range_keeps_its_scale_c_bit_exact(tmp_path):
    m = tiny_branch_model()
    rng = np.random.default_rng(1)
    calib = {"x": rng.standard_normal((16, 3, 8, 8)).astype(np.float32)}
    test = {"x": rng.standard_normal((4, 3, 8, 8)).astype(np.float32)}
    art = qcc.compile(m, calib=calib, target="c", out_dir=tmp_path / "c", quiet=True)
    conv = next(n for n in art.graph.nodes if n.op == "qcc.conv2d")
    assert float(conv.outputs[0].qparams.scale[0]) < 1e-14  # its own scale, not a 1e-6 floor
    got, ref = art.run(test, "target")["y"], art.run(test, "reference")["y"]
    assert np.array_equal(got, ref)
    want = np.concatenate([ort_run(m, {"x": test["x"][i:i + 1]})["y"] for i in range(4)])
    err = ((got.astype(np.float64) - want) ** 2).sum()
    assert 10 * np.log10((want.astype(np.float64) ** 2).sum() / err) > 30
