"""The integer arithmetic contract (compiler/arith.py, docs/arithmetic.md)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.errors import LoweringError, QccError

I32 = st.integers(arith.INT32_MIN, arith.INT32_MAX)
M_EDGE = st.sampled_from([0, 1 << 30, (1 << 30) + 1, (1 << 31) - 2, (1 << 31) - 1])
MULT = st.one_of(M_EDGE, st.integers(1 << 30, (1 << 31) - 1))
SHIFT = st.one_of(st.sampled_from([1, 2, 30, 31, 32, 61, 62]), st.integers(1, 62))
POS_R = st.floats(min_value=2.0**-40, max_value=2.0**29.9, allow_nan=False, allow_infinity=False)


def ref_round(x: Fraction) -> int:
    """Round to nearest, ties toward +inf, on exact rationals."""
    return math.floor(x + Fraction(1, 2))


def ref_requant(acc, m, s, zp, qmin, qmax) -> int:
    return max(qmin, min(qmax, ref_round(Fraction(acc * m, 1 << s)) + zp))


def ref_multiplier(r: float) -> tuple[int, int]:
    """Exact rational construction of (m, s): m in [2^30, 2^31), s = 31 - e."""
    fr = Fraction(r)
    if fr == 0:
        return 0, 1
    e = math.floor(math.log2(r)) + 1  # r = q 2^e with q in [0.5, 1)
    while Fraction(2) ** (e - 1) > fr:
        e -= 1
    while Fraction(2) ** e <= fr:
        e += 1
    s = 31 - e
    m = ref_round(fr * Fraction(2) ** s)
    if m == 1 << 31:
        m, s = 1 << 30, s - 1
    if s > 62:
        return 0, 1
    return m, s


# -- quantize_multiplier ------------------------------------------------------------------
def test_known_tflite_multiplier():
    m, s = arith.quantize_multiplier(0.0014402703931141053)
    assert (int(m), int(s)) == (1583594044, 40)  # TFLite: shift -9 = 31 - 40
    assert 31 - int(s) == -9


def test_known_single_rounding_results():
    m, s = arith.quantize_multiplier(0.0014402703931141053)
    big = (arith.INT32_MIN, arith.INT32_MAX)
    assert int(arith.requantize(7984, m, s, 0, *big)) == 11  # double rounding gives 12
    # (1, 2^30, TFLite shift -1) -> s = 32: single rounding gives 0 (double: 1)
    assert int(arith.requantize(1, 1 << 30, 32, 0, *big)) == 0


@settings(max_examples=400, deadline=None)
@given(POS_R)
def test_multiplier_matches_exact_reference(r):
    m, s = arith.quantize_multiplier(r)
    assert (int(m), int(s)) == ref_multiplier(r)
    if m:
        assert (1 << 30) <= int(m) < (1 << 31)
        assert arith.SHIFT_MIN <= int(s) <= arith.SHIFT_MAX
        # half-ulp accuracy of the dyadic approximation
        assert abs(Fraction(int(m), 1 << int(s)) - Fraction(r)) <= Fraction(1, 1 << (int(s) + 1))


@pytest.mark.parametrize("r,expect", [
    (0.0, (0, 1)),
    (2.0**-33, (0, 1)),                 # too small: exactly the zero point
    (2.0**-32, (1 << 30, 62)),          # smallest representable: s = 62
    (0.5, (1 << 30, 31)),
    (1.0, (1 << 30, 30)),               # r >= 1 is allowed
    (1.0 - 2.0**-40, (1 << 30, 30)),    # rounds up to 2^31 -> carry
    (3.0, (3 << 29, 29)),
    (2.0**29, (1 << 30, 1)),            # largest shift-1 factor
])
def test_multiplier_edges(r, expect):
    m, s = arith.quantize_multiplier(r)
    assert (int(m), int(s)) == expect


@pytest.mark.parametrize("r", [2.0**30, 2.0**30 - 2.0**-20, 1e12, -0.1, float("nan"), float("inf")])
def test_multiplier_rejects(r):
    with pytest.raises(LoweringError):
        arith.quantize_multiplier(r)


@given(st.floats(0, 2.0**-32, exclude_max=True), I32)
def test_tiny_multiplier_gives_zero_point_and_is_exact(r, acc):
    m, s = arith.quantize_multiplier(r)
    # (0, 1), or (2^30, 62) = 2^-32 exactly when r rounds up to it
    assert (int(m), int(s)) in ((0, 1), (1 << 30, 62))
    assert int(arith.requantize(acc, m, s, 5, -128, 127)) == 5
    assert ref_round(Fraction(acc) * Fraction(r)) == 0  # the real rounding agrees


def test_multiplier_vectorised():
    rs = np.array([0.0, 1e-3, 0.25, 0.7, 1.5, 100.0])
    m, s = arith.quantize_multiplier(rs)
    assert m.dtype == np.int32 and s.dtype == np.int32 and m.shape == rs.shape
    for r, mi, si in zip(rs, m, s):
        assert (int(mi), int(si)) == ref_multiplier(float(r))


@settings(max_examples=200, deadline=None)
@given(st.lists(POS_R.filter(lambda r: r < 2.0**20), min_size=1, max_size=4))
def test_shared_multipliers(rs):
    ms, s = arith.quantize_multipliers_shared(rs)
    top = int(np.argmax(rs))
    m_top, s_top = arith.quantize_multiplier(max(rs))
    assert int(s) == int(s_top) and int(ms[top]) == int(m_top)
    for r, m in zip(rs, ms):
        assert 0 <= int(m) < (1 << 31)
        if m_top:
            assert int(m) == min(ref_round(Fraction(r) * (1 << int(s))), (1 << 31) - 1)


# -- requantize ---------------------------------------------------------------------------------
@settings(max_examples=1000, deadline=None)
@given(I32, MULT, SHIFT, st.integers(-128, 127))
def test_requantize_equals_exact_rational(acc, m, s, zp):
    got = int(arith.requantize(acc, m, s, zp, -128, 127))
    assert got == ref_requant(acc, m, s, zp, -128, 127)
    wide = int(arith.requantize(acc, m, s, zp, arith.INT32_MIN, arith.INT32_MAX))
    assert wide == ref_requant(acc, m, s, zp, arith.INT32_MIN, arith.INT32_MAX)


@settings(max_examples=300, deadline=None)
@given(st.lists(I32, min_size=1, max_size=64), MULT, SHIFT)
def test_requantize_vectorised(accs, m, s):
    got = arith.requantize(np.array(accs, np.int32), m, s, -3, -128, 127)
    assert got.dtype == np.int64
    assert got.tolist() == [ref_requant(a, m, s, -3, -128, 127) for a in accs]


@pytest.mark.parametrize("acc", [arith.INT32_MIN, arith.INT32_MAX, -1, 0, 1])
@pytest.mark.parametrize("m", [0, 1 << 30, (1 << 31) - 1])
@pytest.mark.parametrize("s", [1, 31, 62])
def test_requantize_extremes_no_overflow(acc, m, s):
    lim = (arith.INT32_MIN, arith.INT32_MAX)
    assert int(arith.requantize(acc, m, s, 0, *lim)) == ref_requant(acc, m, s, 0, *lim)


@pytest.mark.parametrize("acc,expect", [(5, 3), (-5, -2), (3, 2), (-3, -1), (1, 1), (-1, 0)])
def test_ties_toward_plus_infinity(acc, expect):
    # r = 1/2 exactly: m = 2^30, s = 31
    assert int(arith.requantize(acc, 1 << 30, 31, 0, -128, 127)) == expect


def test_identity_multiplier_is_exact_copy():
    acc = np.arange(-300, 300)
    assert np.array_equal(arith.requantize(acc, 1 << 30, 30, 7, -10**9, 10**9), acc + 7)


def test_per_channel_axis():
    acc = np.arange(24).reshape(2, 3, 4) - 12
    m = np.array([1 << 30, 3 << 29, (1 << 31) - 1], np.int32)
    s = np.array([31, 30, 35], np.int32)
    got = arith.requantize(acc, m, s, 0, -128, 127, axis=1)
    for c in range(3):
        ref = [ref_requant(int(a), int(m[c]), int(s[c]), 0, -128, 127) for a in acc[:, c].ravel()]
        assert got[:, c].ravel().tolist() == ref


def test_requantize_rejects_out_of_contract():
    with pytest.raises(QccError):
        arith.requantize(1 << 31, 1 << 30, 31)  # accumulator beyond int32
    with pytest.raises(QccError):
        arith.requantize(1, 1 << 31, 31)  # multiplier too large
    with pytest.raises(QccError):
        arith.rshift_round(1, 0)
    with pytest.raises(QccError):
        arith.rshift_round(1, 63)


@settings(max_examples=300, deadline=None)
@given(I32, POS_R.filter(lambda r: r < 2.0**10))
def test_requant_close_to_real_product(acc, r):
    """Within 1/2 LSB plus the multiplier error |acc| r 2^-31 of the real value."""
    m, s = arith.quantize_multiplier(r)
    y = int(arith.requantize(acc, m, s, 0, -(1 << 62), 1 << 62))
    assert abs(y - acc * r) <= 0.5 + abs(acc) * r * 2.0**-30 + 1e-9


# -- rounding helpers ----------------------------------------------------------------------------
@given(st.integers(-(1 << 40), 1 << 40), st.integers(1, 1 << 20))
def test_div_round_and_floor(a, b):
    assert int(arith.div_round(a, b)) == ref_round(Fraction(a, b))
    assert int(arith.div_floor(a, b)) == a // b


@given(st.integers(-(1 << 60), 1 << 60), st.integers(1, 62))
def test_rshift_round(x, s):
    assume(abs(x) + (1 << (s - 1)) < (1 << 63))
    assert int(arith.rshift_round(x, s)) == ref_round(Fraction(x, 1 << s))


def test_saturate_and_bounds():
    assert arith.saturate(np.array([-300, 0, 300]), -128, 127).tolist() == [-128, 0, 127]
    assert arith.acc_fits_int32(65793, 8) and not arith.acc_fits_int32(65794, 8)
    assert arith.acc_fits_int32(1052688, 4) and not arith.acc_fits_int32(1052689, 4)
    assert arith.acc_fits_int32(33025, w_absmax=255)  # act x act, both centered
    assert not arith.acc_fits_int32(33026, w_absmax=255)


# -- boundary quantize / dequantize ----------------------------------------------------------------
def _onnx_quantize(x, scale, zp, dtype):
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator
    et = TensorProto.INT8 if dtype == np.int8 else TensorProto.UINT8
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    g = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", et, list(x.shape))],
                          [numpy_helper.from_array(np.array(scale, np.float32), "s"),
                           numpy_helper.from_array(np.array(zp, dtype), "z")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    ref = ReferenceEvaluator(model).run(None, {"x": x})[0]
    import onnxruntime as ort
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return ref, sess.run(None, {"x": x})[0]


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@settings(max_examples=30, deadline=None)
@given(st.floats(float(np.float32(1e-4)), 10.0, width=32), st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_quantize_matches_onnx_quantizelinear(scale, zp, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(256) * 200 * scale).astype(np.float32)
    ties = ((np.arange(-64, 64) + 0.5) * np.float32(scale)).astype(np.float32)  # exact halves
    x = np.concatenate([x, ties, np.array([0, 1e30, -1e30], np.float32)])
    ref, ortv = _onnx_quantize(x, scale, zp, np.int8)
    got = arith.quantize(x, scale, zp, -128, 127)
    # onnx.reference casts rint(x/s) to int32 before clipping (wraps for 1e30): skip those
    assert np.array_equal(got[:-2], ref[:-2].astype(np.int64))
    assert np.array_equal(got, ortv.astype(np.int64))


def test_quantize_half_to_even_and_specials():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, np.nan, np.inf, -np.inf], np.float32)
    assert arith.quantize(x, 1.0, 0, -128, 127).tolist() == [0, 2, 2, 0, -2, 0, 127, -128]
    assert arith.quantize(np.array([3.0], np.float32), 1.0, 0, 0, 255).tolist() == [3]


def test_dequantize_float32():
    y = arith.dequantize(np.array([-128, 0, 127], np.int8), 0.1, -3)
    assert y.dtype == np.float32
    assert np.array_equal(y, np.array([-125, 3, 130], np.float32) * np.float32(0.1))


def test_quantize_bias():
    b = arith.quantize_bias(np.array([1.0, -2.0, 1e9]), 0.5, np.array([0.01, 0.02, 1e-9]))
    assert b.dtype == np.int32 and b.tolist() == [200, -200, arith.INT32_MAX]
