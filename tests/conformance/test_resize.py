"""Resize (qcc.ops.onnx_resize) against onnxruntime and against ONNX's own tests.

Every mode x coordinate transform x nearest rounding x (upscale, downscale,
sizes) at opsets 11, 13, 18 and 19 must agree with onnxruntime, except where
onnxruntime departs from ONNX's node tests (``_ort_differs``): with a
fractional scale, ``align_corners`` and ``tf_crop_and_resize`` divide by the
output length before flooring (ONNX's ``test_resize_downsample_scales_linear_
align_corners`` expects 3.142857 where onnxruntime answers 4), and
``half_pixel_symmetric`` takes the centre of an odd input as ``L / 2`` where
onnxruntime takes ``L // 2``.  There qcc must equal ONNX's formula, checked
against ``onnx.reference`` (for nearest, whose index can flip at a tie with the
float precision of the coordinate, either engine's answer is accepted).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir.verifier import verify

X = np.random.default_rng(0).standard_normal((1, 2, 5, 7)).astype(np.float32)
EMPTY = np.array([], np.float32)
ROI = np.array([0, 0, 0.1, 0.2, 1, 1, 0.8, 0.9], np.float32)
HOW = {"up": np.array([1, 1, 1.7, 2.5], np.float32),
       "down": np.array([1, 1, 0.6, 0.45], np.float32),
       "sizes": np.array([1, 2, 9, 4], np.int64)}


def _model(x, attrs, opset, roi=EMPTY, scales=None, sizes=None, order=None):
    inits = [numpy_helper.from_array(roi, "roi")]
    ins = ["x", "roi"]
    if scales is not None:
        inits.append(numpy_helper.from_array(scales, "scales"))
        ins.append("scales")
    if sizes is not None:
        if scales is None:
            inits.append(numpy_helper.from_array(EMPTY, "scales"))
            ins.append("scales")
        inits.append(numpy_helper.from_array(sizes, "sizes"))
        ins.append("sizes")
    node = helper.make_node("Resize", order or ins, ["y"], **attrs)
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem, x.shape)],
                          [helper.make_tensor_value_info("y", elem, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _ort(m, x):
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def _qcc(m, x):
    g = import_model(m)
    verify(g)
    return run(g, {"x": x})["y"]


def _cases():
    for opset in (11, 13, 18, 19):
        ctms = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel",
                "tf_crop_and_resize"] + (["half_pixel_symmetric"] if opset >= 19 else []) \
            + (["tf_half_pixel_for_nn"] if opset == 11 else [])
        for mode in ("nearest", "linear", "cubic"):
            rounding = (["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
                        if mode == "nearest" else ["round_prefer_floor"])
            for ctm in ctms:
                for nm in rounding:
                    for how in HOW:
                        yield opset, mode, ctm, nm, how


def _ort_differs(ctm, nm, how):
    return (ctm in ("align_corners", "tf_crop_and_resize") and how != "sizes") or \
        (ctm == "half_pixel_symmetric" and nm == "floor" and how == "down")


@pytest.mark.parametrize("opset,mode,ctm,nm,how", list(_cases()))
def test_resize_matches_onnxruntime(opset, mode, ctm, nm, how):
    attrs = dict(mode=mode, coordinate_transformation_mode=ctm, nearest_mode=nm)
    roi = ROI if ctm == "tf_crop_and_resize" else EMPTY
    if ctm == "tf_crop_and_resize":
        attrs["extrapolation_value"] = 0.5
    arr = HOW[how]
    m = _model(X, attrs, opset, roi, *((None, arr) if how == "sizes" else (arr, None)))
    got = _qcc(m, X)
    wants = [_ort(m, X)]
    if _ort_differs(ctm, nm, how):  # ONNX's formula; float rounding at a nearest tie
        wants.append(ReferenceEvaluator(m).run(None, {"x": X})[0])  # may follow either
    assert any(got.shape == w.shape and np.allclose(got, w, rtol=1e-5, atol=1e-5)
               for w in wants), (got, wants)
    if _ort_differs(ctm, nm, how) and mode != "nearest":
        np.testing.assert_allclose(got, wants[1], rtol=1e-5, atol=1e-5)


def test_align_corners_uses_the_unfloored_output_length():
    """ONNX's node test: 2x4 input, scales 0.6 -> 1x2, the second output is 3.142857."""
    x = np.arange(1, 9, dtype=np.float32).reshape(1, 1, 2, 4)
    m = _model(x, dict(mode="linear", coordinate_transformation_mode="align_corners"), 13,
               scales=np.array([1, 1, 0.6, 0.6], np.float32))
    np.testing.assert_allclose(_qcc(m, x).ravel(), [1.0, 3.142857], rtol=1e-6)


@pytest.mark.parametrize("policy,want", [("not_larger", (1, 2, 3, 4)),
                                         ("not_smaller", (1, 2, 6, 8))])
def test_keep_aspect_ratio_policy_shape_and_values(policy, want):
    """ONNX shape inference leaves this output untyped; qcc computes round(scale * L)."""
    x = X[:, :, :4, :5].copy()
    m = _model(x, dict(mode="nearest", keep_aspect_ratio_policy=policy, axes=[2, 3]), 18,
               sizes=np.array([6, 4], np.int64))
    got = _qcc(m, x)
    assert got.shape == want
    np.testing.assert_array_equal(got, _ort(m, x))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_integer_linear_resize_truncates_like_onnxruntime(dtype):
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    x = np.random.default_rng(3).integers(lo, hi, (1, 1, 4, 5)).astype(dtype)
    m = _model(x, dict(mode="linear"), 13, order=["x", "", "scales"],
               scales=np.array([1, 1, 1.7, 2.3], np.float32))
    np.testing.assert_array_equal(_qcc(m, x), _ort(m, x))


@pytest.mark.parametrize("attrs", [dict(mode="linear", antialias=1),
                                   dict(mode="cubic", antialias=1, cubic_coeff_a=-0.5),
                                   dict(mode="cubic", exclude_outside=1),
                                   dict(mode="linear", axes=[2, 3])])
def test_opset18_attributes(attrs):
    ax = attrs.get("axes")
    scales = np.array([0.6, 0.5] if ax else [1, 1, 0.6, 0.5], np.float32)
    m = _model(X, dict(attrs), 18, scales=scales)
    np.testing.assert_allclose(_qcc(m, X), _ort(m, X), rtol=1e-5, atol=1e-5)


def test_large_upsample_is_vectorised():
    """A 2x bilinear upsample of a 1x32x64x64 map (a segmentation head) agrees and is fast."""
    import time

    x = np.random.default_rng(1).standard_normal((1, 32, 64, 64)).astype(np.float32)
    m = _model(x, dict(mode="linear"), 13, order=["x", "", "scales"],
               scales=np.array([1, 1, 2, 2], np.float32))
    g = import_model(m)
    t0 = time.process_time()
    got = run(g, {"x": x})["y"]
    assert time.process_time() - t0 < 2.0
    np.testing.assert_allclose(got, _ort(m, x), rtol=1e-5, atol=1e-5)
    assert onnx.TensorProto.FLOAT == helper.np_dtype_to_tensor_dtype(got.dtype)


OLD_RESIZE = [(op, opset, mode, scales)
              for op, opset in [("Resize", 10), ("Upsample", 9), ("Upsample", 7)]
              for mode in ("nearest", "linear")
              for scales in ([1, 1, 2, 3], [1, 1, 1.7, 2.5], [1, 1, 0.6, 0.45])
              if op == "Resize" or min(scales) >= 1]  # Upsample only enlarges


@pytest.mark.parametrize("op,opset,mode,scales", OLD_RESIZE)
def test_pre_opset11_resize_keeps_its_semantics(op, opset, mode, scales):
    """Models below opset 11 are upgraded; Resize-10 / Upsample map coordinates as
    x / scale and floor (ceil when shrinking), which the upgraded node must say."""
    attrs = dict(mode=mode)
    inits, ins = [], ["x"]
    if opset == 7:
        attrs["scales"] = [float(s) for s in scales]
    else:
        inits.append(numpy_helper.from_array(np.array(scales, np.float32), "scales"))
        ins.append("scales")
    g = helper.make_graph([helper.make_node(op, ins, ["y"], **attrs)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, X.shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    np.testing.assert_allclose(_qcc(m, X), _ort(m, X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("producer,follows", [("pytorch", "ort"), ("tf2onnx", "ort"),
                                              ("backend-test", "onnx")])
@pytest.mark.parametrize("ctm", ["align_corners", "tf_crop_and_resize"])
def test_framework_exports_mean_the_framework_length(producer, follows, ctm):
    """A fractional align_corners scale from PyTorch/TF exporters becomes the sizes the
    framework computed (qcc.frontend.resize_compat); other producers keep ONNX's formula."""
    roi = ROI if ctm == "tf_crop_and_resize" else EMPTY
    m = _model(X, dict(mode="linear", coordinate_transformation_mode=ctm), 13, roi,
               scales=HOW["up"])
    m.producer_name = producer
    got = _qcc(m, X)
    want = _ort(m, X) if follows == "ort" else ReferenceEvaluator(m).run(None, {"x": X})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(_ort(m, X), ReferenceEvaluator(m).run(None, {"x": X})[0], atol=1e-3)


def test_torch_interpolate_align_corners_fractional_scale():
    torch = pytest.importorskip("torch")
    import io
    import warnings

    class Up(torch.nn.Module):
        def forward(self, x):
            f = torch.nn.functional
            return (f.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=True),
                    f.interpolate(x, scale_factor=0.6, mode="bicubic", align_corners=True))

    x = torch.from_numpy(X)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Up(), (x,), buf, input_names=["x"], output_names=["a", "b"],
                          dynamo=False, opset_version=17)
    m = onnx.load_from_string(buf.getvalue())
    g = import_model(m)
    got = run(g, {"x": X})
    for name, want in zip("ab", Up()(x)):
        np.testing.assert_allclose(got[name], want.numpy(), rtol=1e-5, atol=1e-5)
