"""qcc.lstm / qcc.gru in C: the host runner's outputs equal the reference interpreter's bit
for bit (recurrent outputs as graph outputs, both directions, both GRU forms, initial
states), and the kernels build for Cortex-M4 with -Werror (slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from rnn_testlib import data, helper_gru, helper_lstm, torch_rnn

QCC = os.path.join(os.path.dirname(sys.executable), "qcc")
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                               reason="gcc/make not installed")


def qcc(*args):
    p = subprocess.run([QCC, *map(str, args)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return p


def c_equals_reference(tmp_path, model, shape, n=3):
    np.savez(tmp_path / "calib.npz", x=data(shape, 16))
    np.savez(tmp_path / "in.npz", x=data(shape, n, seed=4))
    out = tmp_path / "c"
    qcc("compile", model, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", out, "--quiet")
    for eng in ("target", "reference"):
        qcc("run", out, "--inputs", tmp_path / "in.npz", "-o", tmp_path / f"{eng}.npz", "--engine", eng)
    got, want = np.load(tmp_path / "target.npz"), np.load(tmp_path / "reference.npz")
    assert sorted(got) == sorted(want)
    for k in want:
        assert np.array_equal(got[k], want[k]), k
    return out


@needs_gcc
@pytest.mark.parametrize("direction", [pytest.param("forward", marks=pytest.mark.slow),
                                       pytest.param("reverse", marks=pytest.mark.slow),
                                       "bidirectional"])
def test_lstm_with_states_bit_exact(tmp_path, direction):
    c_equals_reference(tmp_path, helper_lstm(str(tmp_path / "m.onnx"), direction=direction), (5, 4))


@needs_gcc
def test_lstm_with_state_inputs_is_integer_only_and_bit_exact(tmp_path):
    """Initial h and c as model inputs (streaming VADs): the int8 c0 is requantized to the
    int16 cell scale in integers (no float dequantize left for target c)."""
    model = helper_lstm(str(tmp_path / "m.onnx"), states_as_inputs=True)
    rng = np.random.default_rng(3)

    def feeds(n, seed):
        return dict(x=data((5, 4), n, seed), state=(rng.standard_normal((2 * n, 1, 6)) * 0.5).astype(np.float32))
    np.savez(tmp_path / "calib.npz", **feeds(16, 1))
    np.savez(tmp_path / "in.npz", **feeds(3, 4))
    out = tmp_path / "c"
    qcc("compile", model, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", out, "--quiet")
    for eng in ("target", "reference"):
        qcc("run", out, "--inputs", tmp_path / "in.npz", "-o", tmp_path / f"{eng}.npz", "--engine", eng)
    got, want = np.load(tmp_path / "target.npz"), np.load(tmp_path / "reference.npz")
    for k in want:
        assert np.array_equal(got[k], want[k]), k
    from rnn_testlib import sqnr_db
    import onnxruntime as ort

    f = dict(np.load(tmp_path / "in.npz"))
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    ref = np.concatenate([s.run(["Y_c"], {"x": f["x"][i:i + 1], "state": f["state"][2 * i:2 * i + 2]})[0]
                          for i in range(3)])
    assert sqnr_db(ref, got["Y_c"].reshape(ref.shape)) > 20
    qcc("compile", model, "--calib", tmp_path / "calib.npz", "--target", "onnx", "-o", tmp_path / "q", "--quiet")
    qcc("run", tmp_path / "q", "--inputs", tmp_path / "in.npz", "-o", tmp_path / "q.npz")  # QDQ in onnxruntime
    assert sqnr_db(ref, np.load(tmp_path / "q.npz")["Y_c"].reshape(ref.shape)) > 20


@needs_gcc
@pytest.mark.parametrize("lbr", [0, pytest.param(1, marks=pytest.mark.slow)])  # torch's GRU: lbr 1
def test_gru_bit_exact(tmp_path, lbr):
    c_equals_reference(tmp_path, helper_gru(str(tmp_path / "m.onnx"), lbr=lbr), (6, 5))


@needs_gcc
def test_torch_bidirectional_gru_bit_exact(tmp_path):
    c_equals_reference(tmp_path, torch_rnn(str(tmp_path / "m.onnx"), "gru", bidirectional=True), (10, 8))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_rnn_kernels_build_for_cortex_m4_with_werror(tmp_path):
    for kind, model, shape in (("lstm", helper_lstm(str(tmp_path / "l.onnx"), direction="bidirectional"), (5, 4)),
                               ("gru", helper_gru(str(tmp_path / "g.onnx")), (6, 5))):
        d = tmp_path / kind
        d.mkdir()
        out = c_equals_reference(d, model, shape)
        p = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O3", "-std=c99",
                            "-Wall", "-Wextra", "-Werror", "-c", str(out / "model.c"), "-I", str(out),
                            "-o", str(d / "m.o")], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
