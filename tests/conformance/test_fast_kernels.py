"""The vectorised kernels of qcc.ops.onnx_fast against onnxruntime and onnx.reference.

Random shapes and attributes (hypothesis): strides, pads, dilations, groups,
ceil_mode, count_include_pad, auto_pad, output_padding / output_shape.  Each
model is imported by qcc (which infers the output shape) and run by the
interpreter, whose Conv/ConvTranspose/pool/LRN nodes take the fast path.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from qcc.frontend.onnx_import import import_model
from qcc.interp import Interpreter
from qcc.ops import onnx_fast

SETTINGS = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _model(op, x_shape, attrs, w=None, b=None, opset=19):
    inits, ins = [], ["x"]
    if w is not None:
        inits.append(numpy_helper.from_array(w, "w"))
        ins.append("w")
    if b is not None:
        inits.append(numpy_helper.from_array(b, "b"))
        ins.append("b")
    node = helper.make_node(op, ins, ["y"], **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _qcc(model, x, fast=True):
    g = import_model(model)
    onnx_fast.ENABLED = fast
    try:
        return Interpreter(g).run({"x": x})[g.outputs[0].name]
    finally:
        onnx_fast.ENABLED = True


def _ort(model, x):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def _reference(name, model, x):
    if name == "ort":
        return _ort(model, x)
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def _check(model, x, against=("ort", "reference"), tol=1e-4):
    """qcc agrees with the first reference (in ``against`` order) that runs the case.

    onnxruntime refuses negative SAME pads and dilated SAME convolutions, where
    onnx.reference answers; onnx.reference is wrong for grouped ConvTranspose,
    1-D SAME pooling and some SAME output sizes, where onnxruntime answers."""
    got = _qcc(model, x)
    for name in against:
        try:
            ref = _reference(name, model, x)
        except Exception:  # noqa: BLE001 - that reference does not run this case
            continue
        assert got.shape == ref.shape, (name, got.shape, ref.shape)
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, err_msg=name)
        return
    assume(False)


def _spatial(draw, nd, lo=1, hi=3):
    return [draw(st.integers(lo, hi)) for _ in range(nd)]


@st.composite
def conv_case(draw, transpose=False):
    nd = draw(st.integers(1, 3)) if not transpose else draw(st.integers(1, 2))
    g = draw(st.sampled_from([1, 2, 3]))
    c, m = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = _spatial(draw, nd, 1, 3)
    attrs = {"strides": _spatial(draw, nd, 1, 3), "dilations": _spatial(draw, nd, 1, 2),
             "group": g}
    size = [draw(st.integers(max(1, (kk - 1) * d + 1), 7)) for kk, d in zip(k, attrs["dilations"])]
    auto = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto != "NOTSET" and not transpose:
        attrs["auto_pad"] = auto
    elif auto in ("SAME_UPPER", "SAME_LOWER") and transpose:
        attrs["auto_pad"] = auto
    else:
        attrs["pads"] = [draw(st.integers(0, kk - 1)) for kk in k] * 2
    if transpose:
        # (with SAME_*, ONNX shape inference adds output_padding, onnxruntime does not)
        if "pads" in attrs and draw(st.booleans()):
            attrs["output_padding"] = [draw(st.integers(0, min(s, d) - 1))
                                       for s, d in zip(attrs["strides"], attrs["dilations"])]
        w_shape = [c, m // g] + k
    else:
        w_shape = [m, c // g] + k
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal([m]).astype(np.float32) if draw(st.booleans()) else None
    x = rng.standard_normal([draw(st.integers(1, 2)), c] + size).astype(np.float32)
    return attrs, x, w, b


@SETTINGS
@given(conv_case())
def test_conv_matches_onnxruntime_and_reference(case):
    attrs, x, w, b = case
    # onnxruntime rejects dilations with SAME_* auto_pad
    same_dilated = "SAME" in attrs.get("auto_pad", "") and max(attrs["dilations"]) > 1
    _check(_model("Conv", list(x.shape), attrs, w, b), x,
           ("reference",) if same_dilated else ("ort", "reference"))


@SETTINGS
@given(conv_case(transpose=True))
def test_conv_transpose_matches_onnxruntime(case):
    """onnx.reference mishandles group > 1 (it slices the weights by output channel),
    so grouped cases compare with onnxruntime only."""
    attrs, x, w, b = case
    against = ("ort",) if attrs["group"] > 1 else ("ort", "reference")
    _check(_model("ConvTranspose", list(x.shape), attrs, w, b), x, against)


def test_conv_transpose_output_shape_attribute():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 3, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    attrs = {"strides": [3, 2], "output_shape": [10, 8]}
    got = _qcc(_model("ConvTranspose", list(x.shape), attrs, w), x)
    assert got.shape == (1, 3, 10, 8)
    _check(_model("ConvTranspose", list(x.shape), attrs, w), x)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "NOTSET"])
@pytest.mark.parametrize("extra", [-3, -1, 0, 1])
def test_conv_transpose_output_shape_with_auto_pad(auto_pad, extra):
    """output_shape around the natural size (15x17 here): one past it gives a negative
    total padding, where the extra row and column go at the end (onnxruntime)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, 7, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    attrs = {"strides": [2, 2], "output_shape": [15 + extra, 17 + extra], "auto_pad": auto_pad}
    _check(_model("ConvTranspose", list(x.shape), attrs, w), x, ("ort",))


@st.composite
def pool_case(draw):
    nd = draw(st.integers(1, 3))
    k = _spatial(draw, nd, 1, 3)
    attrs = {"kernel_shape": k, "strides": _spatial(draw, nd, 1, 3)}
    dil = _spatial(draw, nd, 1, 2)
    if draw(st.booleans()):
        attrs["dilations"] = dil
    else:
        dil = [1] * nd
    auto = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto == "NOTSET":
        attrs["pads"] = [draw(st.integers(0, kk - 1)) for kk in k] * 2
        attrs["ceil_mode"] = int(draw(st.booleans()))
    else:
        attrs["auto_pad"] = auto
    size = [draw(st.integers((kk - 1) * d + 1, 7)) for kk, d in zip(k, dil)]
    if auto.startswith("SAME"):  # a negative SAME padding has no agreed meaning
        for kk, d, s_, n in zip(k, dil, attrs["strides"], size):
            assume((-(-n // s_) - 1) * s_ + (kk - 1) * d + 1 >= n)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal([draw(st.integers(1, 2)), draw(st.integers(1, 3))] + size)
    return attrs, x.astype(np.float32)


def _pool_refs(attrs):
    """Dilated SAME pooling has no trustworthy reference (onnxruntime sizes it
    differently from ONNX shape inference, onnx.reference drops the leading pad):
    test_dilated_same_average_pool_by_hand covers it."""
    assume(not ("SAME" in attrs.get("auto_pad", "") and max(attrs.get("dilations", [1])) > 1))
    return ("ort", "reference")


def test_dilated_same_average_pool_by_hand():
    # k=2, dilation 2, SAME_UPPER on 3 elements: out 3, pads (1, 1); window o reads
    # positions o-1 and o+1
    x = np.array([[[1.0, 2.0, 4.0]]], dtype=np.float32)
    attrs = {"kernel_shape": [2], "dilations": [2], "auto_pad": "SAME_UPPER"}
    m = _model("AveragePool", [1, 1, 3], dict(attrs, count_include_pad=0))
    np.testing.assert_allclose(_qcc(m, x), [[[2.0, 2.5, 2.0]]])
    m = _model("AveragePool", [1, 1, 3], dict(attrs, count_include_pad=1))
    np.testing.assert_allclose(_qcc(m, x), [[[1.0, 2.5, 1.0]]])
    m = _model("MaxPool", [1, 1, 3], attrs)
    np.testing.assert_allclose(_qcc(m, x), [[[2.0, 4.0, 2.0]]])


@SETTINGS
@given(pool_case())
def test_max_pool_matches_onnxruntime_and_reference(case):
    attrs, x = case
    _check(_model("MaxPool", list(x.shape), attrs), x, _pool_refs(attrs))


@SETTINGS
@given(pool_case(), st.booleans())
def test_average_pool_matches_onnxruntime_and_reference(case, include_pad):
    attrs, x = case
    attrs = dict(attrs, count_include_pad=int(include_pad))
    _check(_model("AveragePool", list(x.shape), attrs), x, _pool_refs(attrs))


@SETTINGS
@given(pool_case(), st.sampled_from([1, 2, 3]))
def test_lp_pool_matches_onnxruntime_and_reference(case, p):
    attrs, x = case
    attrs = dict(attrs, p=p)
    _check(_model("LpPool", list(x.shape), attrs), x, _pool_refs(attrs))


def _lrn_spec(x, size, alpha, beta, bias):
    """LRN as the ONNX operator text defines it: channel window
    [c - floor((size-1)/2), c + ceil((size-1)/2)], clipped to the tensor."""
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)
    x64 = x.astype(np.float64)
    sq = np.zeros_like(x64)
    for c in range(x.shape[1]):
        sq[:, c] = (x64[:, max(0, c - lo):min(x.shape[1], c + hi + 1)] ** 2).sum(axis=1)
    return (x64 / (bias + alpha / size * sq) ** beta).astype(np.float32)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_lrn_matches_spec_and_onnxruntime(size):
    """Odd sizes also agree with onnxruntime (which refuses even sizes);
    onnx.reference's LRN loops over the batch instead of channels, so it is not
    used here."""
    x = np.random.default_rng(size).standard_normal((2, 7, 3, 4)).astype(np.float32)
    attrs = {"size": size, "alpha": 1e-2, "beta": 0.75, "bias": 2.0}
    model = _model("LRN", list(x.shape), attrs, opset=13)
    got = _qcc(model, x)
    np.testing.assert_allclose(got, _lrn_spec(x, **attrs), rtol=1e-5, atol=1e-6)
    if size % 2:
        np.testing.assert_allclose(got, _ort(model, x), rtol=1e-4, atol=1e-5)


def test_fast_path_is_taken_and_agrees_with_reference_path():
    x = np.random.default_rng(3).standard_normal((1, 3, 9, 9)).astype(np.float32)
    m = _model("AveragePool", list(x.shape), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    assert set(onnx_fast.covered_ops()) >= {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LRN",
                                            "LpPool", "BatchNormalization"}
    np.testing.assert_allclose(_qcc(m, x, fast=True), _qcc(m, x, fast=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [9, 11, 13, 14, 15, 21])
@pytest.mark.parametrize("rank", [2, 3, 4])
def test_batchnorm_inference_matches_onnxruntime_at_every_opset(opset, rank):
    """Inference BatchNormalization with non-trivial statistics: onnx.reference's
    version-9 class (opsets 9-13) normalises with the batch statistics instead."""
    rng = np.random.default_rng(opset * 10 + rank)
    c = 5
    x = rng.standard_normal([2, c] + [4] * (rank - 2)).astype(np.float32) * 3 + 1
    params = [rng.uniform(0.5, 2, c), rng.standard_normal(c), rng.standard_normal(c) * 2,
              rng.uniform(0.1, 3, c)]
    inits = [numpy_helper.from_array(p.astype(np.float32), n)
             for p, n in zip(params, ["s", "b", "m", "v"])]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    s, b, m, v = (p.reshape([1, c] + [1] * (rank - 2)) for p in params)
    spec = s * (x - m) / np.sqrt(v + 1e-3) + b
    got = _qcc(model, x)
    np.testing.assert_allclose(got, spec, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, _ort(model, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 5, 7), (2, 3, 4, 6), (1, 2, 3, 4, 5)])
def test_global_max_pool_keeps_channels_on_every_rank(shape):
    """1-D feature maps [N, C, L] (a byte classifier's GlobalMaxPool): onnx.reference
    reduces the channel axis too; qcc follows onnxruntime."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    model = _model("GlobalMaxPool", list(shape), {})
    got = _qcc(model, x)
    np.testing.assert_array_equal(got, _ort(model, x))
    assert got.shape == shape[:2] + (1,) * (len(shape) - 2)
