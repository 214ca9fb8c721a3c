"""lower-thresholds: quantized float chains on integer tensors become qcc.threshold, which
the reference interpreter runs bit-exactly like the chain it replaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qcc.passes  # noqa: F401  (registers the passes)
from qcc.errors import LoweringError, QccError
from qcc.interp import Interpreter
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
from qcc.ops import infer_types
from qcc.passmanager import PassContext, get_pass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _op(g: Graph, op, inputs, attrs=None, output=False):
    out = g.new_value("v", TensorType(DType.float32, ()))
    node = g.add_node(op, inputs, [out], attrs or {})
    out.type = infer_types(node)[0]
    if output:
        g.outputs.append(out)
    return out


def _f32(g: Graph, x: float):
    return g.add_const("k", np.array(x, np.float32))


def _mask_graph(dt: DType) -> Graph:
    """x int -> Cast -> Sub(1, .) -> Mul(-10000) -> quantize(i8); Cast -> Div(3) -> Neg ->
    quantize(i16); plus a float input quantized at the boundary (left alone)."""
    g = Graph("m")
    x = g.add_input("x", TensorType(dt, (16,)))
    f = g.add_input("f", TensorType(DType.float32, (4,)))
    c = _op(g, "onnx.Cast", [x], {"to": 1})
    m = _op(g, "onnx.Mul", [_op(g, "onnx.Sub", [_f32(g, 1.0), c]), _f32(g, -10000.0)])
    _op(g, "qcc.quantize", [m], {"scale": 27.7, "zero_point": 0, "dtype": "i8"}, True)
    n = _op(g, "onnx.Neg", [_op(g, "onnx.Div", [c, _f32(g, 3.0)])])
    _op(g, "qcc.quantize", [n], {"scale": 0.5, "zero_point": 3, "dtype": "i16"}, True)
    _op(g, "qcc.quantize", [f], {"scale": 0.1, "zero_point": 0, "dtype": "i8"}, True)
    verify(g)
    return g


def _lower(g: Graph) -> dict:
    ctx = PassContext()
    for name in ("lower-thresholds", "dce"):
        get_pass(name).fn(g, ctx)
    verify(g)
    return ctx.report["lower-thresholds"]


@pytest.mark.parametrize("dt", [DType.int8, DType.int16, DType.int32, DType.int64])
def test_chains_become_thresholds_and_keep_every_value(dt):
    g = _mask_graph(dt)
    info = np.iinfo(dt.np)
    xs = np.array([info.min, info.min + 1, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 100, -100,
                   info.max - 1, info.max], dt.np)
    feeds = {"x": xs, "f": np.array([0.0, 0.26, -13.0, 1e9], np.float32)}
    want = Interpreter(g).run(feeds)
    report = _lower(g)
    assert report["rewritten"] == 2
    assert sorted(n.op for n in g.nodes) == ["qcc.quantize", "qcc.threshold", "qcc.threshold"]
    assert next(n for n in g.nodes if n.op == "qcc.quantize").inputs[0].name == "f"
    got = Interpreter(g).run(feeds)
    for k in want:
        assert got[k].dtype == want[k].dtype
        np.testing.assert_array_equal(got[k], want[k])


@settings(max_examples=30, deadline=None)
@given(vals=st.lists(st.integers(-(1 << 31), (1 << 31) - 1), min_size=16, max_size=16),
       scale=st.floats(0.01, 1000.0), zp=st.integers(-128, 127))
def test_threshold_equals_the_chain_for_any_int32_input(vals, scale, zp):
    g = Graph("h")
    x = g.add_input("x", TensorType(DType.int32, (16,)))
    c = _op(g, "onnx.Cast", [x], {"to": 1})
    a = _op(g, "onnx.Add", [_op(g, "onnx.Mul", [c, _f32(g, -0.37)]), _f32(g, 12.5)])
    _op(g, "qcc.quantize", [a], {"scale": scale, "zero_point": zp, "dtype": "i8"}, True)
    feeds = {"x": np.array(vals, np.int32)}
    want = Interpreter(g).run(feeds)
    _lower(g)
    assert [n.op for n in g.nodes] == ["qcc.threshold"]
    np.testing.assert_array_equal(Interpreter(g).run(feeds)[g.outputs[0].name],
                                  want[g.outputs[0].name])


def test_division_by_the_tensor_is_refused_naming_the_node():
    g = Graph("d")
    x = g.add_input("x", TensorType(DType.int8, (4,)))
    c = _op(g, "onnx.Cast", [x], {"to": 1})
    d = _op(g, "onnx.Div", [_f32(g, 1.0), c])
    _op(g, "qcc.quantize", [d], {"scale": 0.1, "zero_point": 0, "dtype": "i8"}, True)
    with pytest.raises(LoweringError, match=r"Div node '\S+' divides by the tensor"):
        _lower(g)


def test_qcc_threshold_op_checks_its_operands():
    g = Graph("t")
    x = g.add_input("x", TensorType(DType.int8, (4,)))
    t = g.add_const("t", np.array([3, 1], np.int64))
    v = g.add_const("v", np.array([0, 1, 2], np.int32))
    with pytest.raises(QccError, match="strictly ascending"):
        _op(g, "qcc.threshold", [x, t, v], {"dtype": "i8"})
    t2 = g.add_const("t", np.array([1, 3], np.int64))
    with pytest.raises(QccError, match=r"values \[n \+ 1\]"):
        _op(g, "qcc.threshold", [x, t2, g.add_const("v", np.array([0, 1], np.int32))])


def test_pipeline_runs_it_for_integer_targets_only():
    from qcc.passes.pipelines import pipeline_for

    c = pipeline_for("c")
    assert c.index("quantize") < c.index("lower-thresholds") < c.index("check-integer-only")
    assert "lower-thresholds" not in pipeline_for("onnx", quantize=True)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                    reason="gcc and make are needed to build the generated C")
def test_tiny_bert_mask_is_a_threshold_and_c_equals_reference(tmp_path):
    """A real model through the console script: tiny_bert's attention-mask chain is a
    qcc.threshold in model.qcc, and the C code equals `qcc run --engine reference`."""
    d = os.path.join(ROOT, "examples", "tiny_bert")
    shapes = ["--input-shape", "input_ids=1x32", "--input-shape", "attention_mask=1x32"]
    out = tmp_path / "c"
    qcc = ["qcc"]
    subprocess.run(qcc + ["compile", os.path.join(d, "tiny_bert_opset17.onnx"), "--calib",
                          os.path.join(d, "calib.npz"), "--max-calib-samples", "8", "--target",
                          "c", "-o", str(out), "--quiet", *shapes], check=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ops"].get("qcc.threshold", 0) >= 1
    assert "onnx.Cast" not in manifest["ops"]
    assert any(r["kernel"] == "qcc_threshold" for r in manifest["layers"])
    with np.load(os.path.join(d, "test.npz")) as z:
        test = {k: z[k][:6] for k in z.files}
    np.savez(tmp_path / "in.npz", **test)
    res = {}
    for engine in ("target", "reference"):
        subprocess.run(qcc + ["run", str(out), "--inputs", str(tmp_path / "in.npz"), "--engine",
                              engine, "-o", str(tmp_path / f"{engine}.npz")], check=True)
        with np.load(tmp_path / f"{engine}.npz") as z:
            res[engine] = {k: z[k] for k in z.files}
    assert res["target"].keys() == res["reference"].keys()
    for k in res["target"]:
        np.testing.assert_array_equal(res["target"][k], res["reference"][k])
