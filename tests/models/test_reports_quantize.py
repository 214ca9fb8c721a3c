"""Failure classes the corpus found in the quantizer (tests/models/zoo): trained PReLU
slopes that mix signs and sizes (MTCNN), GlobalAveragePool on 1-D feature maps
(TC-ResNet-style keyword spotting).  Each: C bit-exact with the reference, close to
float onnxruntime."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model


def _model(tmp_path, nodes, inits, shape):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", x=rng.standard_normal((16,) + tuple(shape[1:])).astype(np.float32))
    return path, {"x": rng.standard_normal((4,) + tuple(shape[1:])).astype(np.float32)}


def _check(tmp_path, path, test, min_db):
    out = str(tmp_path / "c")
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= min_db


@pytest.mark.parametrize("slopes", [[-0.3, 0.2, 1.5, 0.0], [0.25, -1.0, 2.0, 0.7]])
def test_prelu_with_mixed_trained_slopes(slopes, tmp_path):
    rng = np.random.default_rng(1)
    inits = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "a": np.array(slopes, np.float32).reshape(4, 1, 1)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["c", "a"], ["y"])]
    path, test = _model(tmp_path, nodes, inits, (1, 3, 8, 8))
    _check(tmp_path, path, test, 30.0)


def test_global_average_pool_on_1d_feature_maps(tmp_path):
    rng = np.random.default_rng(2)
    inits = {"w": rng.standard_normal((8, 4, 3)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["y"])]
    path, test = _model(tmp_path, nodes, inits, (1, 4, 20))
    _check(tmp_path, path, test, 30.0)


def test_near_dead_weight_channel_is_compiled_and_reported(tmp_path, capsys):
    """Report 4: a channel with weights around 1e-34 (PaddleOCR detectors) used to be
    refused by the overflow proof; its scale is floored, the compile says so."""
    import json
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
    from qcc_testlib import assert_ok, qcc

    rng = np.random.default_rng(3)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    w[5] = rng.standard_normal((3, 3, 3)).astype(np.float32) * 1e-34
    inits = {"w": w, "b": rng.standard_normal(8).astype(np.float32),
             "w2": rng.standard_normal((4, 8, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Conv", ["r", "w2"], ["y"])]
    path, test = _model(tmp_path, nodes, inits, (1, 3, 8, 8))
    p = qcc("compile", path, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", tmp_path / "c")
    assert_ok(p)
    assert "near-dead weight channel" in p.stderr and "[5]" in p.stderr
    man = json.load(open(tmp_path / "c" / "manifest.json"))
    assert list(man["passes"]["quantize"]["floored_channels"].values()) == [[5]]
    got, want = run_artifact(str(tmp_path / "c"), test, "target"), run_artifact(str(tmp_path / "c"), test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 30.0


def test_channel_scale_floor():
    from qcc.quant_scheme import SCALE_FLOOR, channel_scales, floored_channels

    amax = np.array([1.0, 1e-34, 0.0, 2.0 ** -13, 0.5])
    s = channel_scales(amax, 127)
    assert np.all(s >= s.max() * SCALE_FLOOR) and s[0] == 1.0 / 127 and s[4] == 0.5 / 127
    assert floored_channels(amax, 127) == [1, 2, 3]
    assert np.all(channel_scales(np.zeros(3), 127) == 1.0)


@pytest.mark.parametrize("slopes", [[0.01, 0.25, 0.9, 0.6], [-0.4, 0.003, 1.7, 0.25]])
def test_prelu_rounds_once_like_float_prelu_then_quantize(slopes, tmp_path):
    """Per-channel PReLU slopes (small ones next to large ones, any sign): each output
    is the float PReLU of the dequantized input rounded once into the output's grid,
    as onnxruntime's QDQ model computes it (it used to round twice and quantize the
    slopes to one int8 scale, 0.4-0.8 dB below onnxruntime on MTCNN)."""
    from qcc.ir.serialize import load

    inits = {"a": np.array(slopes, np.float32).reshape(4, 1, 1)}
    path, test = _model(tmp_path, [helper.make_node("PRelu", ["x", "a"], ["y"])], inits, (1, 4, 8, 8))
    test = {"x": np.random.default_rng(4).standard_normal((8, 4, 8, 8)).astype(np.float32)}
    out = str(tmp_path / "c")
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    g = load(os.path.join(out, "model.qcc"))
    qn = next(n for n in g.nodes if n.op == "qcc.quantize")
    dn = next(n for n in g.nodes if n.op == "qcc.dequantize")
    sx, zx = qn.attrs["scale"], qn.attrs["zero_point"]
    sy, zy = dn.attrs["scale"], dn.attrs["zero_point"]
    xq = np.clip(np.rint(test["x"] / np.float32(sx)) + zx, -128, 127)
    xf = (xq - zx) * sx
    ideal = np.clip(np.rint(np.where(xf > 0, xf, xf * inits["a"]) / sy) + zy, -128, 127)
    codes = np.rint(want["y"] / sy).reshape(ideal.shape) + zy
    assert np.max(np.abs(codes - ideal)) <= 1 and np.mean(codes != ideal) < 0.01


@pytest.mark.parametrize("act", ["Relu", "Clip"])
def test_add_then_relu_rounds_once_into_the_relu_range(act, tmp_path):
    """A residual Add read only by a Relu (or Clip at [0, 6]) is quantized straight into
    the activation's range: its saturation at the zero point is the Relu, so each output
    is the float sum of the dequantized inputs rounded once, as onnxruntime's QDQ model
    computes it.  (qcc used to round the Add into a range spanning both signs, then
    requantize into the Relu's: 1.0 dB below onnxruntime on ResNet-18.)"""
    from qcc.ir.serialize import load

    nodes = [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Flatten", ["r"], ["y"])]
    inits = []
    if act == "Relu":
        nodes.insert(1, helper.make_node("Relu", ["s"], ["r"]))
    else:
        nodes.insert(1, helper.make_node("Clip", ["s", "lo", "hi"], ["r"]))
        inits = [numpy_helper.from_array(np.float32(0), "lo"), numpy_helper.from_array(np.float32(6), "hi")]
    shape = [1, 4, 8, 8]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in "ab"],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = str(tmp_path / "m.onnx")
    onnx.save(m, path)
    rng = np.random.default_rng(5)
    data = lambda n, s: (s * rng.standard_normal((n, 4, 8, 8))).astype(np.float32)  # noqa: E731
    np.savez(tmp_path / "calib.npz", a=data(16, 1.0), b=data(16, 0.5))
    test = {"a": data(8, 1.0), "b": data(8, 0.5)}
    out = str(tmp_path / "c")
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    g = load(os.path.join(out, "model.qcc"))
    assert [n.op for n in g.nodes if n.op not in ("qcc.quantize", "qcc.dequantize", "onnx.Reshape")] == ["qcc.add"]
    add = next(n for n in g.nodes if n.op == "qcc.add")
    assert add.attrs["y_zp"] == -128
    q = {n.inputs[0].name: n.attrs for n in g.nodes if n.op == "qcc.quantize"}
    dn = next(n for n in g.nodes if n.op == "qcc.dequantize")
    sy, zy = dn.attrs["scale"], dn.attrs["zero_point"]
    deq = {k: (np.clip(np.rint(test[k] / np.float32(q[k]["scale"])) + q[k]["zero_point"], -128, 127)
               - q[k]["zero_point"]) * np.float64(q[k]["scale"]) for k in "ab"}
    ideal = np.clip(np.rint(np.clip(deq["a"] + deq["b"], 0, 6) / sy) + zy, -128, 127)
    codes = np.rint(want["y"] / sy).reshape(ideal.shape) + zy
    assert np.max(np.abs(codes - ideal)) <= 1 and np.mean(codes != ideal) < 0.01


def test_residual_add_with_a_branch_calibration_never_exercised(tmp_path):
    """A residual Add whose one operand is exactly zero on the calibration data (quantized
    at scale 1) and whose other is tiny: the int16 stream's scale would be 2^36 times
    smaller than the zero branch's, past any dyadic multiplier (found on a random-init
    MobileViT).  The stream's scale is floored instead; C bit-exact, no refusal."""
    rng = np.random.default_rng(3)
    inits = {"zero": np.zeros((1, 8), np.float32), "tiny": np.full((1, 8), 1e-9, np.float32),
             "g": np.ones(8, np.float32), "b": np.zeros(8, np.float32),
             "w": rng.standard_normal((8, 8)).astype(np.float32)}
    nodes = [helper.make_node("Mul", ["x", "zero"], ["a"]),
             helper.make_node("Mul", ["x", "tiny"], ["t"]),
             helper.make_node("Add", ["a", "t"], ["s"]),
             helper.make_node("LayerNormalization", ["s", "g", "b"], ["n"], axis=-1),
             helper.make_node("MatMul", ["n", "w"], ["y"])]
    path, test = _model(tmp_path, nodes, inits, (1, 4, 8))
    out = str(tmp_path / "c")
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])


def test_conv_with_a_tiny_input_scale_next_to_a_normal_bias(tmp_path):
    """A 1x1 conv reading a tensor calibrated to ~1e-7 with biases of ~1 (lraspp's
    high_classifier): at the accumulator scale s_x * s_w every bias code saturated int32
    and the output became a constant.  The channel's weight scale is raised until the
    bias fits; the output follows float (it is the bias plus a negligible term)."""
    rng = np.random.default_rng(5)
    inits = {"k": np.array(1e-7, np.float32), "w": rng.standard_normal((6, 4, 1, 1)).astype(np.float32),
             "b": np.linspace(-2, 2, 6).astype(np.float32)}
    nodes = [helper.make_node("Mul", ["x", "k"], ["t"]),
             helper.make_node("Conv", ["t", "w", "b"], ["y"])]
    path, test = _model(tmp_path, nodes, inits, (1, 4, 5, 5))
    _check(tmp_path, path, test, 30.0)
    import json
    man = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert man["passes"]["quantize"]["bias_fit_channels"] == {"w.q": [0, 1, 2, 3, 4, 5]}


@pytest.mark.parametrize("target", ["c", "triton"])
def test_grouped_linear_with_a_tiny_input_scale_next_to_a_normal_bias(target, tmp_path):
    """The same with int4 weights in groups of 32 on a Gemm (the classifiers of the corpus's
    untrained mobilenet_v1 / efficientnet_lite0): the per-group form had no bias fit, so the
    bias codes saturated at +-2^31 and check-headroom refused the node on every target.  The
    channel scale (the largest group scale) is raised until the bias fits; bit-exact."""
    if target == "triton":
        pytest.importorskip("triton")
    rng = np.random.default_rng(6)
    inits = {"k": np.array(1e-7, np.float32), "w": rng.standard_normal((6, 64)).astype(np.float32),
             "b": np.linspace(-2, 2, 6).astype(np.float32)}
    nodes = [helper.make_node("Mul", ["x", "k"], ["t"]),
             helper.make_node("Gemm", ["t", "w", "b"], ["y"], transB=1)]
    path, test = _model(tmp_path, nodes, inits, (1, 64))
    out = str(tmp_path / target)
    compile_model(path, CompileOptions(target=target, out_dir=out, options={
        "calib": str(tmp_path / "calib.npz"), "quiet": True, "weight_bits": "4", "group_size": 32}))
    got = run_artifact(out, test, "target", "cpu" if target == "triton" else None)
    want = run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 30.0
    import json

    from qcc.ir.serialize import load
    man = json.loads((tmp_path / target / "manifest.json").read_text())
    fit = man["passes"]["quantize"]["bias_fit_channels"]
    assert list(fit) == ["w.kn.q"] and fit["w.kn.q"]  # the largest biases needed the fit
    lin = next(n for n in load(os.path.join(out, "model.qcc")).nodes if n.op == "qcc.linear")
    assert lin.attrs["group_size"] == 32 and np.abs(lin.inputs[2].data).max() <= 2 ** 30  # no saturated bias
