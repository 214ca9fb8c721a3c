"""Integer pooling, reductions, resize and lookup tables vs slow references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from integer_helpers import float_requant_ref, onnx_run, ref_requant, ref_requant_array, run_op
from onnx import TensorProto

from qcc import arith, lut
from qcc.ir import DType
from qcc.ops.integer_pool import linear_table, source_coords

SEED = st.integers(0, 2**32 - 1)
ZP = st.sampled_from([-128, -3, 0, 127])


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = [draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)),
            draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))]
    h = draw(st.integers(max(1, kh - pads[0] - pads[2]), 6))
    w = draw(st.integers(max(1, kw - pads[1] - pads[3]), 6))
    return dict(k=[kh, kw], pads=pads, h=h, w=w, strides=[draw(st.integers(1, 3)),
                draw(st.integers(1, 3))], incl=draw(st.integers(0, 1)), x_zp=draw(ZP),
                y_zp=draw(ZP), seed=draw(SEED))


@settings(max_examples=60, deadline=None)
@given(pool_cases())
def test_avgpool_exact_and_close_to_float(c):
    rng = np.random.default_rng(c["seed"])
    x = rng.integers(-128, 128, (2, 3, c["h"], c["w"])).astype(np.int8)
    s_x, s_y = 0.05, float(rng.uniform(0.02, 0.2))
    kk = c["k"][0] * c["k"][1]
    m, s = arith.quantize_multiplier(s_x / (s_y * np.arange(1, kk + 1)))
    attrs = dict(kernel_shape=c["k"], strides=c["strides"], pads=c["pads"],
                 count_include_pad=c["incl"], x_zp=c["x_zp"], y_zp=c["y_zp"])
    y = run_op("qcc.avgpool", [x, m, s], attrs, consts={1, 2})
    (kh, kw), (sh, sw), (pt, pl, _, _) = c["k"], c["strides"], c["pads"]
    xc = x.astype(np.int64) - c["x_zp"]
    ref = np.empty(y.shape, np.int64)
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            rows = [r for r in range(i * sh - pt, i * sh - pt + kh) if 0 <= r < c["h"]]
            cols = [q for q in range(j * sw - pl, j * sw - pl + kw) if 0 <= q < c["w"]]
            cnt = kk if c["incl"] else len(rows) * len(cols)
            tot = xc[:, :, rows][:, :, :, cols].sum(axis=(2, 3))
            for idx in np.ndindex(2, 3):
                ref[idx + (i, j)] = ref_requant(int(tot[idx]), int(m[cnt - 1]), int(s[cnt - 1]),
                                                c["y_zp"], -128, 127)
    assert np.array_equal(y, ref)
    real = onnx_run("AveragePool", {"x": xc * s_x},
                    dict(kernel_shape=c["k"], strides=c["strides"], pads=c["pads"],
                         count_include_pad=c["incl"]))
    assert np.abs(y - float_requant_ref(real, s_y, c["y_zp"], -128, 127)).max() <= 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), ZP, ZP, SEED)
def test_global_avgpool(h, w, x_zp, y_zp, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (2, 4, h, w)).astype(np.int8)
    s_x, s_y = 0.1, float(rng.uniform(0.01, 0.3))
    m, s = arith.quantize_multiplier(s_x / (s_y * h * w))
    y = run_op("qcc.global_avgpool", [x, np.array([m]), np.array([s])],
               dict(x_zp=x_zp, y_zp=y_zp), consts={1, 2})
    tot = (x.astype(np.int64) - x_zp).sum(axis=(2, 3), keepdims=True)
    assert y.shape == (2, 4, 1, 1)
    assert np.array_equal(y, ref_requant_array(tot, m, s, y_zp, -128, 127))
    real = (x.astype(np.float64) - x_zp).mean(axis=(2, 3), keepdims=True) * s_x
    assert np.abs(y - float_requant_ref(real, s_y, y_zp, -128, 127)).max() <= 1


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([[1], [2], [1, 2], [-1], [0, 2]]), st.integers(0, 1), ZP, ZP, SEED)
def test_reduce_mean(axes, keep, x_zp, y_zp, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (2, 5, 7)).astype(np.int8)
    cnt = int(np.prod([x.shape[a] for a in axes]))
    m, s = arith.quantize_multiplier(1.0 / cnt)
    y = run_op("qcc.reduce_mean", [x, np.array([m]), np.array([s])],
               dict(axes=axes, keepdims=keep, x_zp=x_zp, y_zp=y_zp), consts={1, 2})
    tot = (x.astype(np.int64) - x_zp).sum(axis=tuple(axes), keepdims=bool(keep))
    assert np.array_equal(y, ref_requant_array(tot, m, s, y_zp, -128, 127))
    real = (x.astype(np.float64) - x_zp).mean(axis=tuple(axes), keepdims=bool(keep))
    assert np.abs(y - float_requant_ref(real, 1.0, y_zp, -128, 127)).max() <= 1


def test_maxpool_int8_is_legal_onnx_op():
    from qcc.ops import lookup
    assert not lookup("onnx.MaxPool").float_arith
    x = np.random.default_rng(0).integers(-128, 128, (1, 2, 5, 5)).astype(np.int8)
    y = run_op("onnx.MaxPool", [x], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]))
    assert y.dtype == np.int8
    ref = onnx_run("MaxPool", {"x": x.astype(np.float64)},
                   dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]))
    assert np.array_equal(y, ref.astype(np.int8))


# -- resize -------------------------------------------------------------------------------------
CTM = st.sampled_from(["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 13), st.integers(1, 13), CTM,
       st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]), SEED)
def test_resize_nearest_vs_onnx(h, w, oh, ow, ctm, nm, seed):
    x = np.random.default_rng(seed).integers(-128, 128, (1, 2, h, w)).astype(np.int8)
    attrs = dict(mode="nearest", coordinate_transformation_mode=ctm, nearest_mode=nm)
    y = run_op("qcc.resize", [x], dict(attrs, sizes=[oh, ow]))
    ref = onnx_run("Resize", {"x": x}, attrs, TensorProto.INT8, ort=True,
                   init=[("", None), ("", None), ("sizes", np.array([1, 2, oh, ow], np.int64))])
    # onnxruntime evaluates coordinates in float32: at exact rounding boundaries (x = 1 with
    # scale 1/3) it may land on either side; qcc's coordinates are exact rationals.
    rows, cols = _not_on_boundary(oh, h, ctm, nm), _not_on_boundary(ow, w, ctm, nm)
    assert np.array_equal(y[:, :, rows][:, :, :, cols], ref[:, :, rows][:, :, :, cols])
    if ctm == "asymmetric" and oh % h == 0 and ow % w == 0:  # integer upsampling: all exact
        assert np.array_equal(y, ref)


def _not_on_boundary(out, inp, ctm, nm):
    num, den = source_coords(out, inp, ctm)
    if nm in ("floor", "ceil"):
        return num % den != 0
    return (2 * num) % (2 * den) != den


@pytest.mark.parametrize("ctm", ["half_pixel", "asymmetric", "align_corners"])
@pytest.mark.parametrize("hw,out", [((4, 4), (8, 8)), ((5, 3), (10, 6)), ((3, 4), (7, 9)),
                                    ((8, 8), (4, 4))])
def test_resize_linear_close_to_float_and_exact_formula(ctm, hw, out):
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 3) + hw).astype(np.int8)
    zp = -11
    y = run_op("qcc.resize", [x], dict(mode="linear", coordinate_transformation_mode=ctm,
                                       sizes=list(out), x_zp=zp))
    xc = x.astype(np.int64) - zp
    ref = onnx_run("Resize", {"x": xc.astype(np.float64)},
                   dict(mode="linear", coordinate_transformation_mode=ctm),
                   init=[("", None), ("", None), ("sizes", np.array((1, 3) + out, np.int64))])
    assert np.abs(y - np.clip(np.rint(ref) + zp, -128, 127)).max() <= 1
    # exact: the documented Q10 formula evaluated per element with python ints
    y0, y1, wy0, wy1 = linear_table(out[0], hw[0], ctm)
    x0, x1, wx0, wx1 = linear_table(out[1], hw[1], ctm)
    for i in range(out[0]):
        for j in range(out[1]):
            acc = (int(wy0[i]) * (int(wx0[j]) * xc[0, :, y0[i], x0[j]] + int(wx1[j]) * xc[0, :, y0[i], x1[j]])
                   + int(wy1[i]) * (int(wx0[j]) * xc[0, :, y1[i], x0[j]] + int(wx1[j]) * xc[0, :, y1[i], x1[j]]))
            want = [max(-128, min(127, math.floor(int(a) / 2**20 + 0.5) + zp)) for a in acc]
            assert y[0, :, i, j].tolist() == want


def test_linear_table_weights():
    i0, i1, w0, w1 = linear_table(8, 4, "half_pixel")
    assert (w0 + w1 == 1024).all() and (i1 >= i0).all() and i1.max() == 3
    assert i0.tolist() == [0, 0, 0, 1, 1, 2, 2, 3] and w1.tolist()[1:3] == [256, 768]


# -- lut --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,params", [("Sigmoid", {}), ("Tanh", {}), ("SiLU", {}), ("Exp", {}),
                                         ("Erf", {}), ("Gelu", {}), ("Gelu", {"approximate": "tanh"}),
                                         ("HardSwish", {}), ("HardSigmoid", {"alpha": 0.2, "beta": 0.5}),
                                         ("Sqrt", {}), ("Reciprocal", {}), ("LeakyRelu", {"alpha": 0.1}),
                                         ("Elu", {}), ("Mish", {}), ("Softplus", {}), ("Log", {})])
def test_lut_tables_are_correctly_rounded(name, params):
    s_in, zp_in, s_out, zp_out = 0.05, 3, 0.02, -20
    t = lut.build_table(name, s_in, zp_in, s_out, zp_out, params=params)
    assert t.dtype == np.int8 and t.shape == (256,)
    fn = lut.function(name, **params)
    q = np.arange(-128, 128)
    with np.errstate(all="ignore"):
        real = fn(s_in * (q - zp_in).astype(np.float64))
    ok = np.isfinite(real)
    want = np.clip(np.rint(real[ok] / s_out) + zp_out, -128, 127)
    assert np.array_equal(t[ok], want)
    assert (t[np.isnan(real)] == zp_out).all()
    # lookup through the op
    x = np.random.default_rng(0).integers(-128, 128, (4, 9)).astype(np.int8)
    y = run_op("qcc.lut", [x, t], {}, consts={1})
    assert np.array_equal(y, t[x.astype(np.int64) + 128])


def test_lut_known_values_and_uint8():
    t = lut.build_table("Sigmoid", 0.1, 0, 1 / 256, -128)
    assert t[128] == 0 and t[0] == -128 + round(256 / (1 + math.exp(12.8)))
    tu = lut.build_table("Relu", 0.1, 128, 0.1, 0, DType.uint8, DType.uint8)
    assert tu.dtype == np.uint8 and tu[:129].max() == 0 and tu[255] == 127
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(run_op("qcc.lut", [x, tu], {}, consts={1}), tu[x])
    with pytest.raises(Exception, match="known"):
        lut.function("NoSuchFn")
