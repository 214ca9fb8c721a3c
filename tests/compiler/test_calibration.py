"""Calibration: estimator properties, ORT runner == interpreter, error cases."""

import io
import warnings

import numpy as np
import onnx
import pytest

from qcc.calibration import Observer, calibrate, estimate
from qcc.calibration.observers import BINS
from qcc.errors import CalibrationError, InputDataError
from qcc.frontend.onnx_import import import_model
from qcc.passes.pipelines import FLOAT_CLEANUP
from qcc.passmanager import PassContext, PassManager


def _obs(*chunks):
    ob = Observer()
    for c in chunks:
        ob.update(np.asarray(c, np.float32))
    return ob


def test_minmax_exact_over_chunks():
    rng = np.random.default_rng(0)
    chunks = [rng.standard_normal(1000) * s for s in (0.1, 1.0, 7.0)]
    lo, hi = estimate(_obs(*chunks), "minmax")
    allx = np.concatenate(chunks).astype(np.float32)
    assert (lo, hi) == (float(allx.min()), float(allx.max()))


def test_histogram_regrowth_is_exact():
    """Growing R merges bins exactly: same counts as a histogram on the final range."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(5000), rng.standard_normal(5000) * 5
    ob = _obs(a, b)
    assert ob.hist.sum() == 10000
    r = ob.range
    assert abs(b).max() <= r < 2 * abs(np.concatenate([a, b])).max() * 1.0001
    # all |x| in bins consistent with edges (within one bin for float rounding)
    idx = np.minimum((np.abs(np.concatenate([a, b]).astype(np.float32)) / ob.width).astype(int), BINS - 1)
    want = np.bincount(idx, minlength=BINS)
    assert np.abs(np.cumsum(want) - np.cumsum(ob.hist)).max() <= 0.002 * 10000


@pytest.mark.parametrize("p", [99.0, 99.9, 99.99])
def test_percentile_below_minmax_and_near_quantile(p):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(200000)
    ob = _obs(x)
    lo, hi = estimate(ob, "percentile", p)
    mlo, mhi = estimate(ob, "minmax")
    assert mlo <= lo <= 0 <= hi <= mhi
    q = np.quantile(x, p / 100)
    assert abs(hi - q) <= 2 * ob.width + 1e-3 * q


def test_ranges_include_zero_and_one_signed():
    ob = _obs(np.random.default_rng(3).uniform(2, 5, 1000))
    for m in ("minmax", "percentile", "entropy", "mse"):
        lo, hi = estimate(ob, m)
        assert lo == 0.0 and 2 < hi <= 5


@pytest.mark.parametrize("method,data,frac", [
    ("entropy", "outliers", 0.5),   # KL ignores a handful of far outliers
    ("mse", "laplace", 0.85),       # MSE clips Laplace near the known 8-bit optimum (~9.9 b)
])
def test_clipping_heavy_tails_not_uniform(method, data, frac):
    rng = np.random.default_rng(4)
    if data == "outliers":
        heavy = np.concatenate([rng.standard_normal(200000), rng.choice([-60.0, 60.0], 20)])
    else:
        heavy = rng.laplace(0, 1, 200000)
    _, hi = estimate(_obs(heavy), method)
    assert hi < frac * float(np.max(heavy))
    uni = rng.uniform(-1, 1, 200000)    # uniform: keep (nearly) the whole range
    lo, hi = estimate(_obs(uni), method)
    assert hi > 0.9 and lo < -0.9


def test_zero_tensor():
    ob = _obs(np.zeros(10), np.zeros(5))
    for m in ("minmax", "percentile", "entropy", "mse"):
        assert estimate(ob, m) == (0.0, 0.0)


def _cnn_graph():
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
                      nn.Conv2d(8, 8, 3, groups=8), nn.Hardswish(), nn.Flatten(),
                      nn.Linear(8 * 6 * 6, 10), nn.GELU()).eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, torch.randn(1, 3, 8, 8), buf, opset_version=13, dynamo=False,
                          input_names=["img"])
    g = import_model(onnx.load_from_string(buf.getvalue()), {})
    PassManager(FLOAT_CLEANUP).run(g, PassContext())
    return g


def _data(n=6):
    return {"img": np.random.default_rng(5).standard_normal((n, 3, 8, 8)).astype(np.float32)}


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy", "mse"])
def test_ort_runner_matches_interpreter(method):
    g = _cnn_graph()
    a = calibrate(g, _data(), method, quiet=True)
    b = calibrate(g, _data(), method, quiet=True, engine="interpreter")
    assert a.engine == "onnxruntime" and b.engine == "interpreter"
    assert set(a) == set(b) and "img" in a
    for k in a:
        span = max(b[k][1] - b[k][0], 1e-6)
        assert abs(a[k][0] - b[k][0]) <= 2e-3 * span and abs(a[k][1] - b[k][1]) <= 2e-3 * span, k


def test_fused_graph_falls_back_to_interpreter_and_names_survive():
    from qcc.passes.pipelines import FLOAT_FUSION

    g = _cnn_graph()
    before = calibrate(g, _data(3), "minmax", quiet=True)
    PassManager(FLOAT_FUSION).run(g, PassContext())
    after = calibrate(g, _data(3), "minmax", quiet=True)
    assert after.engine == "interpreter"
    for k, v in after.items():
        assert k in before and np.allclose(v, before[k], rtol=1e-5, atol=1e-6)


def test_max_samples_and_reestimate():
    g = _cnn_graph()
    r = calibrate(g, _data(6), "percentile", max_samples=2, quiet=True)
    assert r.num_samples == 2
    p = r.reestimate("percentile", 99.0)
    m = r.reestimate("minmax")
    assert all(p[k][1] <= m[k][1] + 1e-6 for k in r)


def test_errors():
    g = _cnn_graph()
    with pytest.raises(CalibrationError, match="no calibration data"):
        calibrate(g, {}, quiet=True)
    with pytest.raises(InputDataError, match="zero samples"):
        calibrate(g, {"img": np.zeros((0, 3, 8, 8), np.float32)}, quiet=True)
    with pytest.raises(InputDataError, match="'image'"):
        calibrate(g, {"img": _data()["img"], "image": _data()["img"]}, quiet=True)
    with pytest.raises(InputDataError, match="missing.*img"):
        calibrate(g, {"image": _data()["img"]}, quiet=True)
    with pytest.raises(InputDataError, match="'img' has shape"):
        calibrate(g, {"img": np.zeros((2, 3, 9, 8), np.float32)}, quiet=True)
    bad = _data()["img"]
    bad[1, 0, 0, 0] = np.nan
    with pytest.raises(InputDataError, match="'img' contains NaN"):
        calibrate(g, {"img": bad}, quiet=True)
    with pytest.raises(CalibrationError, match="unknown calibration method"):
        calibrate(g, _data(), "kl", quiet=True)
    with pytest.raises(CalibrationError, match="max-calib-samples"):
        calibrate(g, _data(), max_samples=0, quiet=True)


def test_progress_only_on_tty(capsys):
    g = _cnn_graph()
    calibrate(g, _data(2), "minmax")
    assert capsys.readouterr().err == ""  # captured stderr is not a TTY


def test_calibrate_pass_stores_ranges(tmp_path):
    from qcc.npzio import save_npz

    g = _cnn_graph()
    save_npz(str(tmp_path / "c.npz"), _data(2))
    ctx = PassContext(options={"calib": str(tmp_path / "c.npz"), "calib_method": "mse",
                               "quiet": True})
    PassManager(["calibrate"]).run(g, ctx)
    assert g.meta["ranges"].method == "mse" and ctx.report["calibrate"]["samples"] == 2
