"""Kernels that replace onnx.reference where it is wrong or missing, against onnxruntime:
MaxPool's Indices with padding and storage_order, LayerNormalization in float16
(statistics in float32, rounded once) with its Mean/InvStdDev outputs, Pad with
negative (cropping) pads and with ``axes``."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir.verifier import verify

RNG = np.random.default_rng(7)


def _both(op, x, attrs, consts=(), opset=17, nout=1, order=None):
    inits = [numpy_helper.from_array(v, k) for k, v in consts]
    node = helper.make_node(op, order or ["x"] + [k for k, _ in consts],
                            [f"y{i}" for i in range(nout)], **attrs)
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, x.shape)],
                          [onnx.ValueInfoProto(name=f"y{i}") for i in range(nout)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    typed = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    for o in m.graph.output:
        o.CopyFrom(typed[o.name])
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]) \
        .run(None, {"x": x})
    gr = import_model(m)
    verify(gr)
    got = run(gr, {"x": x})
    return [got[f"y{i}"] for i in range(nout)], want


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 2], pads=[1, 0, 2, 1], strides=[2, 2]),
    dict(kernel_shape=[2, 2], strides=[2, 2], storage_order=1),
    dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], storage_order=1, strides=[2, 1]),
    dict(kernel_shape=[2, 2], dilations=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
])
def test_max_pool_indices(attrs):
    x = RNG.standard_normal((2, 3, 7, 6)).astype(np.float32)
    (y, idx), (wy, widx) = _both("MaxPool", x, attrs, nout=2, opset=12)
    np.testing.assert_array_equal(y, wy)
    np.testing.assert_array_equal(idx, widx)
    assert idx.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("axis,stash", [(-1, 1), (1, 1), (-2, 1)])
def test_layer_norm_outputs(dtype, axis, stash):
    x = RNG.standard_normal((2, 3, 4, 5)).astype(dtype)
    shp = x.shape[axis:]
    consts = [("s", RNG.standard_normal(shp).astype(dtype)),
              ("b", RNG.standard_normal(shp).astype(dtype))]
    got, want = _both("LayerNormalization", x, dict(axis=axis, stash_type=stash), consts,
                      nout=3)
    tol = 1e-3 if dtype == np.float16 else 1e-5
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), rtol=tol, atol=tol)


@pytest.mark.parametrize("pads", [[0, 0, -1, 1, 0, 0, 1, -2], [0, -1, 0, 2, 0, 0, -2, 0]])
@pytest.mark.parametrize("opset", [11, 19])
def test_pad_negative_pads_crop(pads, opset):
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    consts = [("p", np.array(pads, np.int64)), ("v", np.array(0.5, np.float32))]
    (got,), (want,) = _both("Pad", x, dict(mode="constant"), consts, opset=opset)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_axes(mode):
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    consts = [("p", np.array([1, 2, 2, 1], np.int64)), ("a", np.array([-1, 2], np.int64))]
    (got,), (want,) = _both("Pad", x, dict(mode=mode), consts, opset=19,
                            order=["x", "p", "", "a"])
    np.testing.assert_array_equal(got, want)

