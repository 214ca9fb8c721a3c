"""Range estimators on data far from zero (constant-weight nets, offset activations)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.calibration import Observer, estimate


@pytest.mark.parametrize("method", ["entropy", "mse", "percentile"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lo=st.sampled_from([0.3, 30.0, 68.0]),
       width=st.sampled_from([0.5, 1.0, 2.0]))
def test_positive_offset_data_is_not_clipped_below_its_minimum(method, seed, lo, width):
    """Values in [lo, lo*(1+width)]: the entropy search used to reach KL = 0 with the
    threshold at the data's minimum (every value in its last bin), clamping the whole
    tensor to one value (light_squeezenet: 3.3 dB instead of 54 dB)."""
    x = np.random.default_rng(seed).uniform(lo, lo * (1 + width), 50000).astype(np.float32)
    ob = Observer()
    ob.update(x)
    _, hi = estimate(ob, method)
    assert hi >= lo + 0.5 * (x.max() - lo), (method, hi, lo, x.max())


def test_entropy_keeps_the_range_of_a_spiky_offset_tensor():
    """A real histogram (light_squeezenet's 'r25': constant weights, so a few hundred
    distinct values, all in [67.9, 150.7]): the KL search reached KL = 0 with the
    threshold at the first occupied bin and clamped the tensor to [0, 68]."""
    d = np.load(os.path.join(os.path.dirname(__file__), "data", "light_squeezenet_r25_hist.npz"))
    ob = Observer()
    ob.range, ob.min, ob.max = float(d["range"]), float(d["min"]), float(d["max"])
    ob.pos[d["bins"].astype(np.int64)] = d["counts"]
    ob.count, ob.zeros = int(d["counts"].sum()), int(d["zeros"])
    for method in ("entropy", "mse", "percentile"):
        lo, hi = estimate(ob, method)
        assert lo == 0.0 and hi > 140.0, (method, hi)
