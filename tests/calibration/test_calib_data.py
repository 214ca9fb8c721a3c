"""The --calib samples: read once per compilation, checked before any pass runs."""

from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "compiler"))
from qcc_testlib import assert_error, conv_model, qcc_inproc  # noqa: E402

from qcc.calibration.data import CalibData  # noqa: E402
from qcc.errors import CalibrationError, InputDataError  # noqa: E402
from qcc.frontend.onnx_import import import_model  # noqa: E402
from qcc.npzio import save_npz  # noqa: E402


def _setup(tmp_path, data=None):
    model = str(tmp_path / "m.onnx")
    onnx.save(conv_model(), model)
    rng = np.random.default_rng(0)
    data = data if data is not None else {"x": rng.standard_normal((6, 3, 6, 6)).astype(np.float32)}
    calib = str(tmp_path / "c.npz")
    save_npz(calib, data)
    return model, calib


def test_calib_file_is_read_once_per_compile(tmp_path, monkeypatch):
    """calibrate, smoothquant and equalize all need samples: one read of the file."""
    import qcc.npzio

    model, calib = _setup(tmp_path)
    reads = []
    real = qcc.npzio.load_npz
    monkeypatch.setattr(qcc.npzio, "load_npz",
                        lambda p, *a, **k: reads.append(p) or real(p, *a, **k))
    from qcc.driver import CompileOptions, compile_model

    compile_model(model, CompileOptions(target="onnx", out_dir=str(tmp_path / "o"), options={
        "calib": calib, "quantize": True, "quiet": True, "equalize": True, "smoothquant": 0.5}))
    assert reads == [calib]


@pytest.mark.parametrize("bad, needles", [
    ({"x": np.full((2, 3, 6, 6), np.inf, np.float32)}, ["calibration data", "'x'", "NaN or Inf"]),
    ({"y": np.zeros((2, 3, 6, 6), np.float32)}, ["calibration data", "'y'", "x"]),
    ({"x": np.zeros((2, 3, 5, 6), np.float32)}, ["calibration data", "'x'", "shape"]),
    ({"x": np.zeros((2, 3, 6, 6), np.complex64)}, ["calibration data", "'x'", "complex64"]),
])
def test_bad_calibration_data_fails_before_any_pass(tmp_path, capsys, monkeypatch, bad, needles):
    import qcc.passmanager

    model, calib = _setup(tmp_path, bad)
    ran = []
    real_run = qcc.passmanager.PassManager.run
    monkeypatch.setattr(qcc.passmanager.PassManager, "run",
                        lambda self, *a, **k: ran.append(1) or real_run(self, *a, **k))
    out = tmp_path / "out"
    assert_error(qcc_inproc(capsys, "compile", model, "--calib", calib, "-o", out), *needles)
    assert not ran and not out.exists()


def test_calib_data_object(tmp_path):
    model, calib = _setup(tmp_path)
    g = import_model(model, {"x": (1, 3, 6, 6)})
    cd = CalibData.of(calib)
    assert CalibData.of(cd) is cd and CalibData.of(None) is None
    assert cd.source == calib and cd.shapes() == {"x": (6, 3, 6, 6)}
    assert cd.validate(g) == 6
    s = cd.samples(g, 4)
    assert len(s) == 4 and s[0]["x"].shape == (1, 3, 6, 6)
    np.testing.assert_array_equal(s[3]["x"][0], cd.arrays["x"][3])
    with pytest.raises(CalibrationError, match="no calibration data"):
        CalibData({}).samples(g)
    with pytest.raises(CalibrationError, match="--max-calib-samples must be at least 1"):
        cd.samples(g, 0)
    with pytest.raises(InputDataError, match="does not exist"):
        CalibData.of(str(tmp_path / "missing.npz"))
    with pytest.raises(InputDataError, match="an .npz path or a dict"):
        CalibData.of(42)
