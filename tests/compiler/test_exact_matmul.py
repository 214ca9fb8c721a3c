"""The reference interpreter's exact integer matmul: the float32 / float64 BLAS paths
give the int64 product exactly, right up to and past the bounds that select them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.ops._integer_common import EXACT_F32, exact_matmul


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 1100), amax=st.sampled_from([1, 127, 128, 255, 256, 32767, 65535, 1 << 20]),
       bmax=st.sampled_from([1, 7, 127, 128, 32767]), seed=st.integers(0, 2 ** 31 - 1),
       dt=st.sampled_from([np.int8, np.int16, np.int32, np.int64]))
def test_exact_matmul_equals_int64_at_the_edges(k, amax, bmax, seed, dt):
    rng = np.random.default_rng(seed)
    # extremes only: every product at its largest magnitude, the worst case for exactness
    a = rng.choice([-amax, amax, -(amax - 1), 0], size=(3, k)).astype(np.int64)
    b = rng.choice([-bmax, bmax], size=(k, 4)).astype(np.int64)
    a[0] = amax  # one row whose partial sums all grow: K * amax * bmax
    b[:, 0] = bmax
    if np.iinfo(dt).max >= amax and np.iinfo(dt).min <= -amax:
        a = a.astype(dt)
    got = exact_matmul(a, b)
    assert got.dtype == np.int64
    assert np.array_equal(got, a.astype(np.int64) @ b)


def test_int8_minimum_is_not_wrapped_by_abs():
    """|-128| in int8 wraps to -128: a bound taken from np.abs would see 127 and pick
    float32 for a sum float32 cannot hold (odd, past 2^24)."""
    k, m = 1039, 152  # k * 127 * 127 < 2^24 <= k * 128 * 127
    assert k * 127 * 127 < EXACT_F32 <= k * 128 * 127
    a = np.array([[-128] * m + [-127] * (k - m)], np.int8)
    b = np.full((k, 1), 127, np.int8)
    want = -127 * (127 * k + m)
    assert want % 2 and abs(want) > EXACT_F32 and float(np.float32(want)) != want
    assert exact_matmul(a, b)[0, 0] == want
