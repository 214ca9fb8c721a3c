"""Calibration and quantization are deterministic.

The same model and calibration file must give bit-identical weights, graph and
quantization parameters on every compile, and the histogram statistics must not
depend on the order (or chunking) of the calibration samples: the grid is a
power of two set by the overall |max| and re-binning is exact."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.calibration import Observer, estimate
from qcc.calibration.observers import BINS, METHODS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits_cnn")


def _observe(chunks) -> Observer:
    ob = Observer()
    for c in chunks:
        ob.update(c)
    return ob


def _state(ob: Observer):
    return ob.min, ob.max, ob.range, ob.count, ob.zeros, ob.pos.tolist(), ob.neg.tolist()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 6),
       scales=st.lists(st.sampled_from([1e-3, 0.25, 1.0, 3.0, 6.0, 100.0]), min_size=6, max_size=6),
       relu=st.booleans())
def test_histogram_is_independent_of_sample_order(seed, n, scales, relu):
    rng = np.random.default_rng(seed)
    chunks = [(rng.standard_normal(500) * scales[i]).astype(np.float32) for i in range(n)]
    if relu:
        chunks = [np.maximum(c, 0) for c in chunks]
    chunks[0][:3] = [4.0, -2.0, 0.0]  # values on power-of-two grid edges
    a = _observe(chunks)
    order = rng.permutation(n)
    b = _observe([chunks[i] for i in order])
    c = _observe([np.concatenate(chunks)])  # one chunk: binned on the final grid directly
    assert _state(a) == _state(b) == _state(c)
    for m in METHODS:
        assert estimate(a, m) == estimate(b, m)


def test_grid_is_the_smallest_power_of_two_above_the_max():
    for amax, want in [(0.3, 0.5), (1.0, 2.0), (6.0, 8.0), (1e-40, 2.0 ** -132)]:
        x = np.array([amax, -amax / 3], np.float32 if amax > 1e-30 else np.float64)
        ob = _observe([x])
        assert ob.range == want
        assert ob.hist.sum() == 2
        assert np.count_nonzero(ob.hist) == 2  # > BINS/2 bins over the data: distinct bins
        assert int(np.nonzero(ob.pos)[0][-1]) >= BINS // 2


def _digest(folder: str) -> dict:
    out = {}
    for f in ("model.qcc", "model.qcc.npz", "model.onnx"):
        with open(os.path.join(folder, f), "rb") as fh:
            out[f] = hashlib.sha256(fh.read()).hexdigest()
    with open(os.path.join(folder, "manifest.json")) as fh:
        m = json.load(fh)
    out["quantization"] = m["quantization"]
    cal = dict(m["passes"]["calibrate"])
    assert "seconds" not in cal  # wall-clock time lives in timings.json
    out["calibrate"] = cal
    return out


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_two_compiles_of_digits_are_bit_identical(tmp_path, method):
    from qcc.driver import CompileOptions, compile_model

    got = []
    for i in range(2):
        out = str(tmp_path / f"c{i}")
        opts = CompileOptions(target="onnx", out_dir=out, options={
            "calib": os.path.join(DIGITS, "calib.npz"), "quantize": True, "quiet": True,
            "calib_method": method})
        compile_model(os.path.join(DIGITS, "digits_cnn.onnx"), opts)
        got.append(_digest(out))
    assert got[0]["quantization"], "manifest lists no quantization parameters"
    assert got[0] == got[1]
