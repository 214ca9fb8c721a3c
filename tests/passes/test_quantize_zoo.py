"""Networks users bring (tests/passes/zoo_models.py): each compiles integer-only with
the default pipeline, its integer reference outputs are within SQNR >= 30 dB of
float onnxruntime, and the QDQ model of ``--target onnx`` runs in onnxruntime and
agrees with the integer reference within a few output steps."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.metrics import sqnr_db
from qcc.driver import CompileOptions, compile_model
from qcc.errors import LoweringError
from qcc.interp import Interpreter
from qcc.ir.serialize import load
from qcc.ir.verifier import check_integer_only

zoo_models = pytest.importorskip("zoo_models")

MIN_SQNR_DB = 30.0
EXPECT = {  # integer ops each network must lower to (its rules under test)
    "resnet_tiny": {"qcc.add", "qcc.conv2d", "qcc.global_avgpool", "qcc.linear"},
    "unet_tiny": {"qcc.resize", "qcc.concat", "qcc.lut"},
    "smooth_acts": {"qcc.lut", "qcc.avgpool", "qcc.reduce_mean"},
    "bn_pad_split": {"onnx.Pad", "onnx.Split", "qcc.concat", "onnx.MaxPool"},
    "selection": {"onnx.Max", "onnx.Min", "onnx.ReduceMax", "qcc.reduce_mean", "qcc.sub", "qcc.mul"},
    "conv1d": {"qcc.conv2d", "onnx.Reshape"},
    "norm_seg": {"qcc.ilayernorm", "qcc.isoftmax", "onnx.Transpose"},
    "squeeze_excite": {"qcc.global_avgpool", "qcc.lut", "qcc.mul", "qcc.reduce_mean"},
    "fpn_decoder": {"qcc.conv_transpose2d", "qcc.resize", "qcc.add"},
    "math_ops": {"qcc.lut", "qcc.mul", "qcc.reduce_mean", "onnx.Expand"},
}


def _compile(model_path: str, shape: tuple, out, n_calib: int = 32, **options):
    rng = np.random.default_rng(1)
    calib = out / "calib.npz"
    np.savez(calib, x=rng.standard_normal((n_calib,) + shape[1:]).astype(np.float32))
    opts = dict({"calib": str(calib), "quantize": True, "quiet": True}, **options)
    manifest = compile_model(model_path, CompileOptions(target="onnx", out_dir=str(out / "q"), options=opts))
    return manifest, rng.standard_normal((6,) + shape[1:]).astype(np.float32)


def _outputs(run, xs):
    return np.concatenate([run(xs[i:i + 1]) for i in range(len(xs))])


def _check(path: str, shape: tuple, tmp_path, expect: set, label: str) -> float:
    manifest, xs = _compile(path, shape, tmp_path)
    assert manifest["passes"]["quantize"]["kept_float"] == []
    g = load(str(tmp_path / "q" / "model.qcc"))
    check_integer_only(g)
    assert expect <= {n.op for n in g.nodes}, (label, sorted({n.op for n in g.nodes}))
    it = Interpreter(g)
    out_name = g.outputs[0].name
    ref_s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref = _outputs(lambda x: ref_s.run(None, {"x": x})[0], xs)
    got = _outputs(lambda x: it.run({"x": x})[out_name], xs)
    assert sqnr_db(ref, got) >= MIN_SQNR_DB, (label, sqnr_db(ref, got))
    # the exported QDQ model runs in onnxruntime and follows the integer reference
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    qdq = ort.InferenceSession(str(tmp_path / "q" / "model.onnx"), so, providers=["CPUExecutionProvider"])
    got_qdq = _outputs(lambda x: qdq.run(None, {"x": x})[0], xs)
    q = json.load(open(tmp_path / "q" / "manifest.json"))["quantization"]
    step = max(v["scale"] for k, v in q.items() if isinstance(v["scale"], float) and k.startswith(out_name))
    assert np.max(np.abs(got_qdq - got)) <= 4 * step + 1e-6, label
    return sqnr_db(ref, got)


@pytest.mark.parametrize("name", sorted(zoo_models.ZOO))
def test_zoo_model_quantizes_integer_only_close_to_float(name, tmp_path):
    path = str(tmp_path / f"{name}.onnx")
    shape = zoo_models.export(name, path)
    _check(path, shape, tmp_path, EXPECT[name], name)


@pytest.mark.parametrize("name", ["resnet_tiny", "math_ops"])
def test_dynamo_export_quantizes_like_torchscript_export(name, tmp_path):
    """torch.onnx.export's default (dynamo) exporter writes opset 20 graphs."""
    path = str(tmp_path / f"{name}_dynamo.onnx")
    shape = zoo_models.export(name, path, dynamo=True)
    expect = EXPECT[name] - {"qcc.global_avgpool"}  # adaptive_avg_pool2d: ReduceMean here
    _check(path, shape, tmp_path, expect, name + "_dynamo")


def _save(tmp_path, nodes, inits, shape, name="m.onnx") -> str:
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    path = tmp_path / name
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return str(path)


def test_lrn_lowers_to_integer_ops(tmp_path):
    """Conv -> Relu -> LRN (AlexNet/GoogLeNet style) -> Conv, integer-only."""
    rng = np.random.default_rng(0)
    inits = {"w1": rng.standard_normal((16, 3, 3, 3)).astype(np.float32),
             "w2": (rng.standard_normal((8, 16, 3, 3)) * 0.2).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("LRN", ["r"], ["l"], size=5, alpha=1e-2, beta=0.75, bias=2.0),
             helper.make_node("Conv", ["l", "w2"], ["y"])]
    path = _save(tmp_path, nodes, inits, (1, 3, 12, 12))
    _check(path, (1, 3, 12, 12), tmp_path, {"qcc.lut", "qcc.mul", "qcc.conv2d"}, "lrn")


def _floor_first(tmp_path):
    nodes = [helper.make_node("Floor", ["x"], ["f"], name="floor_in"),
             helper.make_node("Relu", ["f"], ["y"], name="relu")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "floor.onnx"
    path.write_bytes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return str(path)


def test_first_op_without_rule_is_named_not_left_in_float(tmp_path):
    """The integer region starts at the float inputs: an op with no integer lowering
    right after the input is an error naming it (it used to stay float silently)."""
    path = _floor_first(tmp_path)
    with pytest.raises(LoweringError, match="Floor 'floor_in'.*--allow-float Floor"):
        _compile(path, (1, 4), tmp_path)
    manifest, _ = _compile(path, (1, 4), tmp_path, allow_float=["Floor"])
    assert manifest["passes"]["quantize"]["kept_float"] == ["floor_in"]


def test_div_by_a_sign_changing_tensor_is_named(tmp_path):
    """1/b has no int8 range when b takes both signs over the calibration data: the
    Div is reported (not lowered with a garbage reciprocal); --allow-float keeps it."""
    rng = np.random.default_rng(0)
    inits = {"w": rng.standard_normal((4, 3, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["b"]),
             helper.make_node("Relu", ["b"], ["r"]),
             helper.make_node("Div", ["r", "b"], ["y"], name="div_signed")]
    path = _save(tmp_path, nodes, inits, (1, 3, 4, 4), "div.onnx")
    with pytest.raises(LoweringError, match="Div 'div_signed'.*--allow-float Div"):
        _compile(path, (1, 3, 4, 4), tmp_path)
    manifest, _ = _compile(path, (1, 3, 4, 4), tmp_path, allow_float=["Div"])
    assert manifest["passes"]["quantize"]["kept_float"] == ["div_signed"]


def test_pow_and_reduce_l2_follow_float(tmp_path):
    """Pow by 2, -1 and 0.5 (lookup tables) and ReduceL2 over channels, integer-only
    and close to float."""
    rng = np.random.default_rng(0)
    inits = {"w": rng.standard_normal((8, 3, 1, 1)).astype(np.float32), "one": np.float32(1.0),
             "e2": np.float32(2.0), "eh": np.float32(0.5), "em": np.float32(-1.0)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Tanh", ["c"], ["t"]),
             helper.make_node("Pow", ["t", "e2"], ["p2"]),
             helper.make_node("Add", ["p2", "one"], ["a"]),
             helper.make_node("Pow", ["a", "em"], ["pm"]),
             helper.make_node("Pow", ["a", "eh"], ["ph"]),
             helper.make_node("Mul", ["pm", "ph"], ["m"]),
             helper.make_node("ReduceL2", ["m"], ["y"], axes=[1], keepdims=1)]
    path = _save(tmp_path, nodes, inits, (1, 3, 6, 6), "pow.onnx")
    _check(path, (1, 3, 6, 6), tmp_path, {"qcc.lut", "qcc.mul", "qcc.reduce_mean"}, "pow_l2")


def test_sum_mean_globalmaxpool_and_one_sided_clip(tmp_path):
    """Sum of three inputs and Mean (chains of qcc.add), GlobalMaxPool (ONNX has no int8
    GlobalMaxPool: a ReduceMax) and a Clip with only a min (its max arrives as +inf):
    each used to fail to lower."""
    rng = np.random.default_rng(0)
    inits = {"w": rng.standard_normal((4, 3, 1, 1)).astype(np.float32),
             "w2": rng.standard_normal((4, 3, 1, 1)).astype(np.float32),
             "c4": rng.standard_normal((1, 4, 1, 1)).astype(np.float32), "mn": np.float32(-0.5)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"]),
             helper.make_node("Conv", ["x", "w2"], ["b"]),
             helper.make_node("Clip", ["b", "mn"], ["bc"]),
             helper.make_node("Sum", ["a", "bc", "c4"], ["s"]),
             helper.make_node("Mean", ["a", "bc", "s"], ["m"]),
             helper.make_node("GlobalMaxPool", ["m"], ["y"])]
    path = _save(tmp_path, nodes, inits, (1, 3, 6, 6), "summean.onnx")
    _check(path, (1, 3, 6, 6), tmp_path, {"qcc.add", "onnx.ReduceMax"}, "sum_mean")
