"""Exact zeros (ReLU outputs, zero padding) and the histogram estimators.

Zeros are stored exactly by the int8 zero point whatever the range, so the KL
(entropy) and MSE searches must not let them pull the threshold down: with or
without a spike of zeros the threshold is the same."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.calibration import Observer, estimate
from qcc.calibration.api import DEFAULT_METHOD


def _obs(*chunks) -> Observer:
    ob = Observer()
    for c in chunks:
        ob.update(np.asarray(c, np.float32))
    return ob


@pytest.mark.parametrize("method", ["entropy", "mse"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), zero_frac=st.sampled_from([0.5, 0.8, 0.95]))
def test_zero_spike_does_not_move_the_threshold(method, seed, zero_frac):
    rng = np.random.default_rng(seed)
    pos = rng.exponential(1.0, 20000).astype(np.float32)  # post-ReLU tail
    zeros = np.zeros(int(len(pos) * zero_frac / (1 - zero_frac)), np.float32)
    with_zeros = estimate(_obs(pos, zeros), method)
    without = estimate(_obs(pos), method)
    assert with_zeros == pytest.approx(without, rel=1e-6)
    # not collapsed toward 0: the estimators may clip the exponential tail (its maximum over
    # 20000 samples ranges from about 8 to 18), but keep the bulk of the distribution
    assert with_zeros[1] >= float(np.quantile(pos, 0.99))


def test_entropy_keeps_most_of_a_relu_range():
    """Before zeros were left out, a half-zero ReLU output lost 2/3 of its range
    (digits_cnn's last ReLU: 5.1 of 16.2)."""
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal(200000), 0).astype(np.float32)
    lo, hi = estimate(_obs(x), "entropy")
    assert lo == 0.0 and hi >= 0.6 * float(x.max())


def test_zero_count_and_all_zero_tensor():
    ob = _obs([0.0, -0.0, 1.0, -2.0], [0.0])
    assert ob.zeros == 3 and ob.count == 5
    z = _obs(np.zeros(100))
    for m in ("minmax", "percentile", "entropy", "mse"):
        assert estimate(z, m) == (0.0, 0.0)


def test_default_method_is_minmax():
    """docs/calibration.md explains the choice (measured on the examples)."""
    assert DEFAULT_METHOD == "minmax"
