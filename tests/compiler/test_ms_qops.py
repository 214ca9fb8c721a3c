"""onnxruntime's quantized contrib ops (com.microsoft QLinearAdd, QGemm ...) import as
DequantizeLinear -> op -> QuantizeLinear and agree with onnxruntime's kernels."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.frontend.onnx_import import find_unsupported, import_model
from qcc.interp import run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
U8 = TensorProto.UINT8


def _c(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype), name)


def _model(node, inputs, out_type, inits):
    g = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", out_type, None)],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def _x(name, shape):
    return helper.make_tensor_value_info(name, U8, shape)


def _qscale(prefix):
    return [_c(prefix + "_s", 0.05), _c(prefix + "_z", 120, np.uint8)]


def _cases():
    ms = "com.microsoft"
    s = ["a_s", "a_z"]
    yield "QLinearAdd", _model(
        helper.make_node("QLinearAdd", ["a", *s, "b", "b_s", "b_z", "y_s", "y_z"], ["y"], domain=ms),
        [_x("a", [1, 3, 4, 4]), _x("b", [1, 3, 4, 4])], U8,
        _qscale("a") + [_c("b_s", 0.03), _c("b_z", 100, np.uint8)] +
        [_c("y_s", 0.07), _c("y_z", 128, np.uint8)])
    yield "QLinearMul", _model(
        helper.make_node("QLinearMul", ["a", *s, "b", "b_s", "b_z", "y_s", "y_z"], ["y"], domain=ms),
        [_x("a", [1, 3, 4, 4]), _x("b", [1, 1, 4, 4])], U8,
        _qscale("a") + [_c("b_s", 0.03), _c("b_z", 100, np.uint8), _c("y_s", 0.3),
                        _c("y_z", 128, np.uint8)])
    for op, attrs in [("QLinearGlobalAveragePool", {}), ("QLinearLeakyRelu", {"alpha": 0.1}),
                      ("QLinearSigmoid", {}),
                      ("QLinearAveragePool", {"kernel_shape": [2, 2], "strides": [2, 2]})]:
        yield op, _model(helper.make_node(op, ["a", *s, "y_s", "y_z"], ["y"], domain=ms, **attrs),
                         [_x("a", [1, 3, 4, 4])], U8,
                         _qscale("a") + [_c("y_s", 0.02), _c("y_z", 60, np.uint8)])
    yield "QLinearConcat", _model(
        helper.make_node("QLinearConcat", ["y_s", "y_z", "a", *s, "b", "b_s", "b_z"], ["y"],
                         domain=ms, axis=1),
        [_x("a", [1, 3, 4, 4]), _x("b", [1, 2, 4, 4])], U8,
        _qscale("a") + [_c("b_s", 0.03), _c("b_z", 100, np.uint8), _c("y_s", 0.05),
                        _c("y_z", 110, np.uint8)])
    rng = np.random.default_rng(0)
    w = rng.integers(-60, 60, (5, 8)).astype(np.int8)
    bias = rng.integers(-500, 500, 5).astype(np.int32)
    for quantized in (True, False):
        ins = ["a", *s, "w", "w_s", "w_z", "bias"] + (["y_s", "y_z"] if quantized else [])
        inits = _qscale("a") + [numpy_helper.from_array(w, "w"),
                                _c("w_s", rng.uniform(0.005, 0.02, 5)),
                                _c("w_z", np.zeros(5), np.int8), numpy_helper.from_array(bias, "bias")]
        if quantized:
            inits += [_c("y_s", 0.1), _c("y_z", 128, np.uint8)]
        yield f"QGemm{'' if quantized else '_float'}", _model(
            helper.make_node("QGemm", ins, ["y"], domain=ms, transB=1, alpha=1.0),
            [_x("a", [2, 8])], U8 if quantized else TensorProto.FLOAT, inits)


CASES = dict(_cases())


@pytest.mark.parametrize("name", sorted(CASES))
def test_contrib_op_matches_onnxruntime(name):
    m = CASES[name]
    assert find_unsupported(m) == []
    rng = np.random.default_rng(1)
    feeds = {vi.name: rng.integers(0, 256, [d.dim_value for d in vi.type.tensor_type.shape.dim])
             .astype(np.uint8) for vi in m.graph.input}
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    g = import_model(m)
    assert not any(n.domain == "onnx" and n.op_type.startswith("QLinear") for n in g.nodes)
    got = run(g, feeds)["y"]
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = 1 if got.dtype == np.uint8 else 1e-4 * float(np.max(np.abs(want)))
    assert np.max(np.abs(got.astype(np.float64) - want)) <= tol, name


def test_channels_last_stays_unsupported():
    m = CASES["QLinearGlobalAveragePool"]
    m.graph.node[0].attribute.append(helper.make_attribute("channels_last", 1))
    assert [b[0] for b in find_unsupported(m)] == ["com.microsoft::QLinearGlobalAveragePool"]


DIGITS = os.path.join(ROOT, "examples", "digits_cnn")


@pytest.fixture(scope="module")
def qop_model(tmp_path_factory):
    """quantize_static(QOperator) of the digits CNN: QLinearConv, QLinearAdd,
    QLinearGlobalAveragePool, a Flatten of integers, QGemm.  reduce_range keeps
    onnxruntime's u8s8 kernels from saturating on CPUs without VNNI, so that both
    sides compute the ONNX semantics."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    x = np.load(os.path.join(DIGITS, "calib.npz"))["input"][:16]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": x[i:i + 1]} for i in range(len(x))])

        def get_next(self):
            return next(self.it, None)

    path = str(tmp_path_factory.mktemp("qop") / "q.onnx")
    quantize_static(os.path.join(DIGITS, "digits_cnn.onnx"), path, Reader(),
                    quant_format=QuantFormat.QOperator, per_channel=True, reduce_range=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert {"QLinearConv", "QLinearAdd", "QGemm", "Flatten"} <= ops
    return path


def _ort_logits(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])


def test_onnxruntime_qoperator_model_runs_like_onnxruntime(qop_model):
    x = np.load(os.path.join(DIGITS, "test.npz"))["input"][:4]
    g = import_model(qop_model)
    got = np.concatenate([run(g, {"input": x[i:i + 1]})["logits"] for i in range(len(x))])
    np.testing.assert_allclose(got, _ort_logits(qop_model, x), atol=1e-5)


def test_onnxruntime_qoperator_model_compiles_to_integers(qop_model, tmp_path):
    """No --calib: the model's own scales are used; the integer-only result classifies
    like onnxruntime's QOperator kernels."""
    import subprocess

    out = tmp_path / "build"
    p = subprocess.run(["qcc", "compile", qop_model, "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    from qcc.ir.serialize import load
    from qcc.ir.verifier import check_integer_only

    g = load(str(out / "model.qcc"))
    check_integer_only(g)
    x = np.load(os.path.join(DIGITS, "test.npz"))["input"][:100]
    labels = np.load(os.path.join(DIGITS, "test_labels.npy"))[:100]
    got = np.concatenate([run(g, {"input": x[i:i + 1]})["logits"] for i in range(len(x))])
    ref = _ort_logits(qop_model, x)
    assert (got.argmax(1) == labels).mean() >= (ref.argmax(1) == labels).mean() - 0.02
    assert np.corrcoef(got.ravel(), ref.ravel())[0, 1] > 0.99
