"""Per-group weight semantics of qcc.linear / qcc.conv2d (docs/integer_ops.md "Per-group"):
bit-exact against a Python-integer model, within one LSB of the real-valued model."""

from __future__ import annotations

import sys
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.errors import QccError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from integer_helpers import run_op  # noqa: E402

GSH = 16


def _py_linear(x, w, bias, gm, gsz, m, s, x_zp, y_zp):
    """Python-int model: per-group partial sums, integer rescale, one int64 sum."""
    bsz, k = x.shape
    n = w.shape[1]
    out = np.zeros((bsz, n), np.int64)
    for b in range(bsz):
        for j in range(n):
            big = int(bias[j]) << GSH
            for g in range(gm.shape[1]):
                part = sum((int(x[b, i]) - x_zp) * int(w[i, j]) for i in range(g * gsz, min(k, (g + 1) * gsz)))
                assert -2**31 <= part < 2**31
                big += part * int(gm[j, g])
            acc = (big + (1 << (GSH - 1))) >> GSH
            mj, sj = int(m[j % m.size]), int(s[j % s.size])
            out[b, j] = min(127, max(-128, ((acc * mj + (1 << (sj - 1))) >> sj) + y_zp))
    return out


def _case(rng, k, n, gsz, bits):
    ng = -(-k // gsz)
    qmax = (1 << (bits - 1)) - 1
    x = rng.integers(-128, 128, (3, k)).astype(np.int8)
    w = rng.integers(-qmax - 1, qmax + 1, (k, n)).astype(np.int8)
    gm = rng.integers(1, (1 << GSH) + 1, (n, ng)).astype(np.int32)
    gm[:, 0] = 1 << GSH
    bias = rng.integers(-5000, 5000, n).astype(np.int32)
    r = rng.uniform(1e-4, 3e-3, n)
    m, s = arith.quantize_multiplier(r)
    return x, w, gm, bias, np.asarray(m, np.int32), np.asarray(s, np.int32), r


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 80), n=st.integers(1, 6),
       gsz=st.sampled_from([4, 8, 32]), bits=st.sampled_from([4, 2, 8]))
def test_linear_per_group_is_bit_exact_with_the_integer_model(seed, k, n, gsz, bits):
    rng = np.random.default_rng(seed)
    x, w, gm, bias, m, s, r = _case(rng, k, n, gsz, bits)
    x_zp, y_zp = 3, -5
    attrs = {"x_zp": x_zp, "y_zp": y_zp, "group_size": gsz, "group_shift": GSH}
    y = run_op("qcc.linear", [x, w, bias, m, s, gm], attrs, consts=(1, 2, 3, 4, 5))
    assert np.array_equal(y, _py_linear(x, w, bias, gm, gsz, m, s, x_zp, y_zp))
    # the real-valued model: group g of column j has weight scale S_j * gm[j, g] / 2^16
    xc = x.astype(np.float64) - x_zp
    ng = gm.shape[1]
    wr = w.astype(np.float64) * np.repeat(gm.T / 2.0**GSH, gsz, axis=0)[:k]
    real = (xc @ wr + bias) * r + y_zp
    assert np.all(np.abs(y - np.clip(np.round(real), -128, 127)) <= 1), ng


def test_one_group_with_unit_multiplier_equals_per_channel():
    rng = np.random.default_rng(1)
    x, w, gm, bias, m, s, _ = _case(rng, 40, 5, 40, 4)
    gm[:] = 1 << GSH
    base = run_op("qcc.linear", [x, w, bias, m, s], {"x_zp": 1}, consts=(1, 2, 3, 4))
    grouped = run_op("qcc.linear", [x, w, bias, m, s, gm], {"x_zp": 1, "group_size": 64},
                     consts=(1, 2, 3, 4, 5))
    assert np.array_equal(base, grouped)


def test_conv_per_group_matches_linear_on_patches():
    rng = np.random.default_rng(2)
    c, mo, kh = 4, 3, 3
    x = rng.integers(-128, 128, (1, c, 5, 5)).astype(np.int8)
    w = rng.integers(-8, 8, (mo, c, kh, kh)).astype(np.int8)
    kr = c * kh * kh
    gsz = 9
    gm = rng.integers(1, (1 << GSH) + 1, (mo, kr // gsz)).astype(np.int32)
    bias = rng.integers(-500, 500, mo).astype(np.int32)
    attrs = {"x_zp": 2, "group_size": gsz, "group_shift": GSH}
    y = run_op("qcc.conv2d", [x, w, bias, None, None, gm], attrs, consts=(1, 2, 5))  # int32 accumulators
    # im2col by hand (valid conv, no padding): patch order (c, u, v) = the flattened weight order
    patches = np.stack([x[0, :, i:i + kh, j:j + kh].reshape(-1) for i in range(3) for j in range(3)])
    lin = run_op("qcc.linear", [patches.astype(np.int8), w.reshape(mo, -1).T.copy(), bias, None, None, gm],
                 attrs, consts=(1, 2, 5))
    assert y.dtype == np.int32
    assert np.array_equal(y[0].reshape(mo, -1).T, lin)


def test_bad_group_inputs_name_the_node():
    rng = np.random.default_rng(3)
    x, w, gm, bias, m, s, _ = _case(rng, 16, 2, 8, 4)
    with pytest.raises(QccError, match=r"gmult shape \[2, 3\] != \[2, 2\]"):
        run_op("qcc.linear", [x, w, bias, m, s, np.ones((2, 3), np.int32)], {"group_size": 8},
               consts=(1, 2, 3, 4, 5))
    with pytest.raises(QccError, match=r"gmult values outside \[0, 2\^16\]"):
        run_op("qcc.linear", [x, w, bias, m, s, gm * 4], {"group_size": 8}, consts=(1, 2, 3, 4, 5))
    with pytest.raises(QccError, match="group_size >= 1"):
        run_op("qcc.linear", [x, w, bias, m, s, gm], {}, consts=(1, 2, 3, 4, 5))
