"""The quantize pass: small IR built here, the digits CNN, QDQ export and import."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.errors import LoweringError, VerificationError
from qcc.frontend.onnx_import import import_model
from qcc.interp import Interpreter, run
from qcc.ir.verifier import check_integer_only, verify
from qcc.passmanager import PassContext, PassManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits_cnn")
CLEANUP = ["shape-fold", "constant-fold", "canonicalize", "dce"]


def _minmax_ranges(graph, samples):
    it = Interpreter(graph)
    ranges = {}
    for s in samples:
        for k, a in it.run(s, capture=True).items():
            if a.dtype.kind == "f" and a.size:
                lo, hi = float(a.min()), float(a.max())
                o = ranges.get(k, (lo, hi))
                ranges[k] = (min(o[0], lo), max(o[1], hi))
    return ranges


def _small_model(op_tail: str = "Relu"):
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, 8).astype(np.float32)
    fc = rng.normal(0, 0.3, (8, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node(op_tail, ["c"], ["r"], name="act"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "fc"], ["y"], name="fc"),
    ]
    g = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
                           numpy_helper.from_array(fc, "fc")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _quantize(graph, samples, pipeline=("quantize", "dce", "check-integer-only"), **options):
    PassManager(CLEANUP).run(graph, PassContext())
    graph.meta["ranges"] = _minmax_ranges(graph, samples)
    ctx = PassContext(options=dict(options))
    PassManager(list(pipeline)).run(graph, ctx)
    return ctx


def test_small_ir_lowers_to_integer_ops_close_to_float():
    rng = np.random.default_rng(1)
    samples = [{"x": rng.normal(0, 1, (1, 3, 6, 6)).astype(np.float32)} for _ in range(8)]
    g = import_model(_small_model())
    ref = [run(g, s)["y"] for s in samples]
    _quantize(g, samples)
    verify(g)
    check_integer_only(g)
    ops = {n.op for n in g.nodes}
    assert {"qcc.quantize", "qcc.conv2d", "qcc.global_avgpool", "qcc.linear", "qcc.dequantize"} <= ops
    assert not any(n.domain in ("onnx", "fused") and n.op != "onnx.Reshape" for n in g.nodes)
    for s, r in zip(samples, ref):
        y = run(g, s)["y"]
        assert np.max(np.abs(y - r)) < 0.05 * np.max(np.abs(r)) + 0.02


def test_standalone_sigmoid_becomes_lookup_table():
    rng = np.random.default_rng(2)
    samples = [{"x": rng.normal(0, 1, (1, 3, 6, 6)).astype(np.float32)} for _ in range(4)]
    g = import_model(_small_model("Sigmoid"))
    ref = [run(g, s)["y"] for s in samples]
    _quantize(g, samples)
    luts = [n for n in g.nodes if n.op == "qcc.lut"]
    assert len(luts) == 1 and luts[0].attrs["fn"] == "Sigmoid"
    for s, r in zip(samples, ref):
        assert np.max(np.abs(run(g, s)["y"] - r)) < 0.05


def test_unlowerable_node_is_named_and_allow_float_keeps_it():
    rng = np.random.default_rng(3)
    samples = [{"x": rng.normal(0, 1, (1, 3, 6, 6)).astype(np.float32)} for _ in range(2)]
    g2 = import_model(_small_model("Round"))  # Round has no integer lowering
    with pytest.raises(LoweringError, match=r"Round 'act'.*--allow-float Round"):
        _quantize(g2, samples)
    g3 = import_model(_small_model("Round"))
    ctx = _quantize(g3, samples, pipeline=("quantize", "dce"), allow_float=["Round"])
    assert ctx.report["quantize"]["kept_float"] == ["act"]
    with pytest.raises(VerificationError, match="act"):
        check_integer_only(g3)
    check_integer_only(g3, frozenset({"Round"}))


def test_float_island_is_caught_by_integer_only_check():
    rng = np.random.default_rng(4)
    samples = [{"x": rng.normal(0, 1, (1, 3, 6, 6)).astype(np.float32)} for _ in range(2)]
    g = import_model(_small_model())
    _quantize(g, samples)
    # sabotage: replace the integer global average pool by dequantize -> float pool -> quantize
    gap = next(n for n in g.nodes if n.op == "qcc.global_avgpool")
    x, out = gap.inputs[0], gap.outputs[0]
    from qcc.ir import DType, TensorType

    dq = g.make("qcc.dequantize", [x], [TensorType(DType.float32, x.shape)],
                {"scale": float(x.qparams.scale[0]), "zero_point": int(x.qparams.zero_point[0])},
                name="dq_island", before=gap)
    fp = g.make("onnx.GlobalAveragePool", [dq.outputs[0]], [TensorType(DType.float32, out.shape)],
                name="float_island", before=gap)
    g.replace_node(gap, "qcc.quantize", [fp.outputs[0]],
                   {"scale": float(out.qparams.scale[0]), "zero_point": int(out.qparams.zero_point[0]),
                    "dtype": "i8"})
    verify(g)
    with pytest.raises(VerificationError, match="float_island"):
        check_integer_only(g)


def _accuracy(logits, labels):
    return float((logits.argmax(1) == labels).mean() * 100)


@pytest.fixture(scope="module")
def digits_compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "q"
    r = subprocess.run(["qcc", "compile", os.path.join(DIGITS, "digits_cnn.onnx"), "--target", "onnx",
                        "--calib", os.path.join(DIGITS, "calib.npz"), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_digits_int8_top1_within_half_a_point_of_float(digits_compiled, tmp_path):
    test = os.path.join(DIGITS, "test.npz")
    labels = np.load(os.path.join(DIGITS, "test_labels.npy"))
    outs = {}
    for tag, args in (("float", [os.path.join(DIGITS, "digits_cnn.onnx")]),
                      ("int", [str(digits_compiled), "--engine", "reference"]),
                      ("qdq", [str(digits_compiled)])):
        p = tmp_path / f"{tag}.npz"
        r = subprocess.run(["qcc", "run", *args, "--inputs", test, "-o", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs[tag] = np.load(p)["logits"]
    acc_f, acc_i = _accuracy(outs["float"], labels), _accuracy(outs["int"], labels)
    assert acc_i >= acc_f - 0.5, (acc_f, acc_i)
    # the QDQ model onnxruntime runs agrees with qcc's integer reference within one output LSB
    import json

    m = json.load(open(digits_compiled / "manifest.json"))
    s_out = m["outputs"][0]
    q = m["quantization"]
    lsb = max(v["scale"] for v in q.values() if isinstance(v["scale"], float))
    assert np.max(np.abs(outs["qdq"] - outs["int"])) <= lsb * 1.01, s_out
    check_integer_only(__import__("qcc.ir.serialize", fromlist=["load"]).load(str(digits_compiled / "model.qcc")))


def test_prequantized_qdq_model_imports_with_its_own_scales(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    X = np.load(os.path.join(DIGITS, "calib.npz"))["input"][:32]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": X[i:i + 1]} for i in range(len(X))])

        def get_next(self):
            return next(self.it, None)

    qdq = tmp_path / "digits_qdq.onnx"
    quantize_static(os.path.join(DIGITS, "digits_cnn.onnx"), str(qdq), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    out = tmp_path / "q"
    r = subprocess.run(["qcc", "compile", str(qdq), "--target", "onnx", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr  # no --calib needed: the model carries its scales
    from qcc.ir.serialize import load

    g = load(str(out / "model.qcc"))
    check_integer_only(g)
    model = onnx.load(str(qdq))
    ort_scales = {n.input[0]: float(numpy_helper.to_array(next(t for t in model.graph.initializer
                                                                if t.name == n.input[1])))
                  for n in model.graph.node if n.op_type == "QuantizeLinear"}
    quant = next(n for n in g.nodes if n.op == "qcc.quantize")
    assert quant.attrs["scale"] == pytest.approx(ort_scales["input"], rel=1e-6)
    test = np.load(os.path.join(DIGITS, "test.npz"))["input"][:64]
    labels = np.load(os.path.join(DIGITS, "test_labels.npy"))[:64]
    it = Interpreter(g)
    logits = np.concatenate([it.run({"input": test[i:i + 1]})["logits"] for i in range(len(test))])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = ort.InferenceSession(str(qdq), so)
    ref = np.concatenate([sess.run(None, {"input": test[i:i + 1]})[0] for i in range(len(test))])
    assert _accuracy(logits, labels) >= _accuracy(ref, labels) - 2.0
    assert np.corrcoef(logits.ravel(), ref.ravel())[0, 1] > 0.99


def test_prequantized_hardswish_model_uses_the_qdq_pre_activation_scale(tmp_path):
    """Conv -> HardSwish quantized by onnxruntime: the fusion moves HardSwish into the
    conv, whose pre-activation tensor has a QDQ scale in the model (no calibration):
    it lowers integer-only (it used to fail: 'no calibrated pre-activation range')."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from qcc.driver import CompileOptions, compile_model

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal((4, 8, 1, 1)).astype(np.float32) * 0.3, "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("HardSwish", ["c"], ["h"]),
             helper.make_node("Conv", ["h", "w2"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    src = tmp_path / "hs.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    X = rng.standard_normal((16, 1, 3, 8, 8)).astype(np.float32)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"x": x} for x in X])

        def get_next(self):
            return next(self.it, None)

    qdq = tmp_path / "hs_qdq.onnx"
    quantize_static(str(src), str(qdq), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    compile_model(str(qdq), CompileOptions(target="onnx", out_dir=str(tmp_path / "q"),
                                           options={"quiet": True}))
    from qcc.ir.serialize import load

    gq = load(str(tmp_path / "q" / "model.qcc"))
    check_integer_only(gq)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = ort.InferenceSession(str(qdq), so)
    it = Interpreter(gq)
    ref = np.concatenate([sess.run(None, {"x": x})[0] for x in X[:4]])
    got = np.concatenate([it.run({"x": x})["y"] for x in X[:4]])
    assert 10 * np.log10(np.sum(ref ** 2) / np.sum((ref - got) ** 2)) > 30
