"""The Python API (docs/python_api.md): compile / run / quantize / load, with the CLI's
validation and errors, and the documented example executed as written."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

import qcc
from qcc.errors import InputDataError, QccError
from qcc.interp import Interpreter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples", "digits_cnn")
MODEL, CALIB = os.path.join(EX, "digits_cnn.onnx"), os.path.join(EX, "calib.npz")


@pytest.fixture(scope="module")
def test_data():
    with np.load(os.path.join(EX, "test.npz")) as z:
        x = z["input"][:40]
    return x, np.load(os.path.join(EX, "test_labels.npy"))[:40]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return qcc.compile(MODEL, calib=CALIB, target="c", out_dir=tmp_path_factory.mktemp("api") / "d",
                       name="digits")


def test_import_qcc_is_cheap_and_exposes_the_api():
    import subprocess
    import sys

    code = ("import sys, qcc; assert 'qcc.driver' not in sys.modules and 'onnx' not in sys.modules;"
            "assert callable(qcc.compile) and issubclass(qcc.QccError, Exception)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


def test_compile_run_matches_reference_and_labels(artifact, test_data):
    x, labels = test_data
    assert artifact.target == "c" and artifact.name == "digits"
    assert {"digits.h", "digits.c", "manifest.json"} <= set(artifact.files)
    got = artifact.run({"input": x})["logits"]
    assert got.shape == (40, 10)
    assert np.mean(got.argmax(1) == labels) >= 0.9
    ref = artifact.run(x, engine="reference")["logits"]  # one array: the single input
    assert np.array_equal(got, ref)


def test_load_and_quantize_agree_with_compile(artifact, test_data):
    x, _ = test_data
    again = qcc.load(artifact.path)
    assert again.manifest == artifact.manifest
    g = qcc.quantize(MODEL, CALIB)
    it = Interpreter(g)
    want = artifact.run(x[:5], engine="reference")["logits"]
    got = np.concatenate([it.run({"input": x[i:i + 1]})["logits"] for i in range(5)])
    assert np.array_equal(got, want)


def test_calib_as_arrays_equals_calib_as_file(tmp_path, test_data):
    x, _ = test_data
    with np.load(CALIB) as z:
        calib = {k: z[k] for k in z.files}
    a = qcc.compile(MODEL, calib=calib, target="onnx", out_dir=tmp_path / "a")
    b = qcc.compile(MODEL, calib=CALIB, target="onnx", out_dir=tmp_path / "b")
    assert a.manifest["quantization"] == b.manifest["quantization"]


@pytest.mark.parametrize("call, match", [
    (lambda t: qcc.compile(MODEL, target="c", out_dir=t, weight_bit="4"), "unknown compile option"),
    (lambda t: qcc.compile(MODEL, target="c", out_dir=t, weight_bits="3"), "--weight-bits"),
    (lambda t: qcc.compile(MODEL, target="c", out_dir=t, softmax="exp"), "softmax"),
    (lambda t: qcc.compile(MODEL, target="nope", out_dir=t), "unknown target 'nope'"),
    (lambda t: qcc.compile(MODEL, target="c"), "out_dir is required"),
    (lambda t: qcc.compile(os.path.join(t, "missing.onnx"), out_dir=t), "missing.onnx"),
    (lambda t: qcc.quantize(MODEL, None), "calibration data"),
    (lambda t: qcc.load(t), "not a qcc output folder"),
])
def test_bad_calls_raise_qcc_errors_that_name_the_culprit(tmp_path, call, match):
    with pytest.raises(QccError, match=match):
        call(tmp_path)
    assert not (tmp_path / "d").exists()


def test_run_errors(artifact):
    with pytest.raises(QccError, match="unknown engine 'gpu'"):
        artifact.run(np.zeros((1, 1, 8, 8), np.float32), engine="gpu")
    with pytest.raises(InputDataError, match="'input' has shape"):
        artifact.run({"input": np.zeros((1, 3, 8, 8), np.float32)})
    with pytest.raises(InputDataError, match="match no model input"):
        artifact.run({"input": np.zeros((1, 1, 8, 8), np.float32), "x": np.zeros(1)})


def test_documented_example_runs_as_written(tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "docs", "python_api.md")).read()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    assert "qcc.compile" in code
    for d in ("examples",):
        os.symlink(os.path.join(ROOT, d), tmp_path / d)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/python_api.md", "exec"), {})
    assert (tmp_path / "qcc_out" / "digits" / "digits.h").is_file()
