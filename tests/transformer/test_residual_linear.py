"""A linear layer whose only reader is the 16-bit residual-stream Add writes its
output at 16 bits (rules_transformer.linear_residual, docs/transformers.md): a
block's output projection with a few outlier features (trained encoders have them)
would otherwise lose every other feature to the int8 step the outliers set."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import qcc
from qcc.interp import Interpreter

D, S = 32, 8


def _block(outlier: float) -> onnx.ModelProto:
    """x -> LayerNorm -> MatMul+Add (features 3 and 17 scaled by ``outlier``) -> Add(LN out)
    -> LayerNorm -> y: a post-LN residual block."""
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.2, (D, D))
    w[:, [3, 17]] *= outlier
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in (
        ("g1", rng.uniform(0.5, 1.5, D)), ("b1", rng.normal(0, 0.1, D)), ("w", w),
        ("bw", rng.normal(0, 0.1, D)), ("g2", rng.uniform(0.5, 1.5, D)), ("b2", rng.normal(0, 0.1, D)))]
    nodes = [helper.make_node("LayerNormalization", ["x", "g1", "b1"], ["h"], axis=-1),
             helper.make_node("MatMul", ["h", "w"], ["m"]), helper.make_node("Add", ["m", "bw"], ["p"]),
             helper.make_node("Add", ["p", "h"], ["r"]),
             helper.make_node("LayerNormalization", ["r", "g2", "b2"], ["y"], axis=-1)]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, D])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, S, D])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _data(n: int, seed: int) -> dict:
    return {"x": np.random.default_rng(seed).normal(0, 1, (n, S, D)).astype(np.float32)}


def _sqnr(model, g, test) -> float:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    it = Interpreter(g)
    ref = np.concatenate([sess.run(None, {"x": x[None]})[0] for x in test["x"]]).astype(np.float64)
    out = np.concatenate([it.run({"x": x[None]})["y"] for x in test["x"]]).astype(np.float64)
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - out) ** 2)))


def _projection(g):
    return next(n for n in g.nodes if n.op == "qcc.linear")


@pytest.mark.parametrize("outlier", [1.0, 40.0])
def test_projection_into_the_16bit_stream_is_16bit(outlier):
    model, calib = _block(outlier), _data(32, 1)
    g16, g8 = qcc.quantize(model, calib), qcc.quantize(model, calib, residual_bits=8)
    assert _projection(g16).outputs[0].dtype.name == "int16"
    assert _projection(g8).outputs[0].dtype.name == "int8"
    add = _projection(g16).outputs[0].users[0]
    assert add.op == "qcc.add" and add.outputs[0].dtype.name == "int16"
    if outlier > 1:  # the outliers no longer set the step of the other features
        test = _data(8, 5)
        s16, s8 = _sqnr(model, g16, test), _sqnr(model, g8, test)
        assert s16 > s8 + 6.0, (s16, s8)


def test_c_bit_exact_with_the_interpreter(tmp_path):
    art = qcc.compile(_block(40.0), _data(32, 1), target="c", out_dir=tmp_path / "c", quiet=True)
    assert _projection(art.graph).outputs[0].dtype.name == "int16"
    test = _data(4, 2)
    got, want = art.run(test, engine="target"), art.run(test, engine="reference")
    np.testing.assert_array_equal(got["y"], want["y"])


def test_a_projection_read_elsewhere_stays_int8():
    """The projection's output is also a graph output: not only the stream reads it."""
    model = _block(40.0)
    model.graph.output.append(helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, S, D]))
    g = qcc.quantize(model, _data(32, 1))
    assert _projection(g).outputs[0].dtype.name == "int8"
