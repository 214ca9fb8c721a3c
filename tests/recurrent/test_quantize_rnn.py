"""LSTM/GRU through the quantizing pipeline: integer-only graphs (qcc.lstm /
qcc.gru) whose reference outputs stay close to onnxruntime's float outputs."""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest

from qcc.errors import QccError

from rnn_testlib import data, helper_gru, quantize, sqnr_db, torch_rnn


def _ort(path, feeds_list, name):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return np.concatenate([s.run([name], f)[0] for f in feeds_list])


def _check(path, shape, out="y", min_db=25.0, n=6):
    from qcc.interp import run

    g = quantize(path, {"x": data(shape, 32, seed=1)})
    ops = {n.op for n in g.nodes}
    assert not ops & {"onnx.LSTM", "onnx.GRU"}
    xs = data(shape, n, seed=2)
    feeds = [{"x": xs[i:i + 1]} for i in range(n)]
    ref = _ort(path, feeds, out)
    got = np.concatenate([run(g, f)[out] for f in feeds])
    db = sqnr_db(ref, got)
    assert db >= min_db, f"SQNR {db:.1f} dB"
    return g, db


@pytest.mark.parametrize("kind,bi", [("lstm", False), ("lstm", True), ("gru", False), ("gru", True)])
def test_torch_rnn_quantizes_integer_only(tmp_path, kind, bi):
    path = torch_rnn(str(tmp_path / f"{kind}.onnx"), kind, bi)
    g, _ = _check(path, (10, 8))
    assert f"qcc.{kind}" in {n.op for n in g.nodes}


def test_gru_linear_before_reset_0(tmp_path):
    path = helper_gru(str(tmp_path / "gru0.onnx"), lbr=0)
    g, _ = _check(path, (6, 5), out="Y")
    node = next(n for n in g.nodes if n.op == "qcc.gru")
    assert node.attrs["linear_before_reset"] == 0


def test_unsupported_form_is_refused_with_the_reason(tmp_path):
    path = helper_gru(str(tmp_path / "clip.onnx"), clip=2.0)
    with pytest.raises(QccError, match=r"GRU node .*clip.*--allow-float GRU"):
        quantize(path, {"x": data((6, 5), 8)})


def test_allow_float_keeps_the_unsupported_form(tmp_path):
    path = helper_gru(str(tmp_path / "clip.onnx"), clip=2.0)
    g = quantize(path, {"x": data((6, 5), 8)}, allow_float=["GRU"])
    assert "onnx.GRU" in {n.op for n in g.nodes}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_qdq_export_runs_in_onnxruntime_close_to_float(tmp_path, kind):
    import subprocess
    import sys

    path = torch_rnn(str(tmp_path / f"{kind}.onnx"), kind, bidirectional=kind == "gru")
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=data((10, 8), 16))
    out = tmp_path / "out"
    exe = os.path.join(os.path.dirname(sys.executable), "qcc")
    p = subprocess.run([exe, "compile", path, "--calib", str(calib), "--target", "onnx", "-o", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    xs = data((10, 8), 4, seed=3)
    feeds = [{"x": xs[i:i + 1]} for i in range(4)]
    assert sqnr_db(_ort(path, feeds, "y"), _ort(str(out / "model.onnx"), feeds, "y")) >= 25.0


def test_lstm_with_state_inputs_exports_qdq_and_c_bit_exact(tmp_path):
    """A streaming LSTM takes h0 and c0 as inputs (Silero VAD v6): the int16 cell state's
    quantize carries its scale, so the QDQ export runs in onnxruntime close to float,
    and the C equals the reference."""
    import subprocess
    import sys

    from qcc.commands import run_artifact

    from rnn_testlib import helper_lstm

    path = helper_lstm(str(tmp_path / "lstm.onnx"), state_inputs=True)
    rng = np.random.default_rng(4)

    def feeds(n):
        return {"x": data((5, 4), n, seed=int(rng.integers(1 << 30))),
                "h0": np.tanh(rng.standard_normal((n, 1, 6))).astype(np.float32) * 0.5,
                "c0": rng.standard_normal((n, 1, 6)).astype(np.float32)}
    np.savez(tmp_path / "calib.npz", **feeds(16))
    test = feeds(4)
    exe = os.path.join(os.path.dirname(sys.executable), "qcc")
    for target in ("onnx", "c"):
        p = subprocess.run([exe, "compile", path, "--calib", str(tmp_path / "calib.npz"),
                            "--target", target, "-o", str(tmp_path / target)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    rows = [{k: v[i:i + 1] for k, v in test.items()} for i in range(4)]
    for out in ("Y", "Y_h", "Y_c"):
        db = sqnr_db(_ort(path, rows, out), _ort(str(tmp_path / "onnx" / "model.onnx"), rows, out))
        assert db >= 25.0, (out, db)
    got = run_artifact(str(tmp_path / "c"), test, "target")
    want = run_artifact(str(tmp_path / "c"), test, "reference")
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert sqnr_db(_ort(path, rows, "Y"), want["Y"]) >= 25.0


def test_onnxruntime_dynamic_quantized_lstm_imports_and_compiles(tmp_path):
    """``quantize_dynamic(op_types_to_quantize=["LSTM"])`` writes com.microsoft
    DynamicQuantizeLSTM (int8 weights [D, I, 4H] with scales and zero points): qcc
    imports it as a float LSTM on the dequantized weights (float interpreter within
    onnxruntime's own rounding of it) and compiles it to C bit-exact."""
    import subprocess
    import sys

    from onnxruntime.quantization import quantize_dynamic

    from qcc.commands import run_artifact
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import Interpreter

    from rnn_testlib import helper_lstm

    src = helper_lstm(str(tmp_path / "lstm.onnx"), direction="bidirectional")
    dyn = str(tmp_path / "dyn.onnx")
    quantize_dynamic(src, dyn, op_types_to_quantize=["LSTM"])
    import onnx
    assert "DynamicQuantizeLSTM" in {n.op_type for n in onnx.load(dyn).graph.node}
    xs = data((5, 4), 4, seed=5)
    rows = [{"x": xs[i:i + 1]} for i in range(4)]
    g = import_model(dyn)
    it = Interpreter(g)
    got = np.concatenate([it.run(r)["Y"] for r in rows])
    assert sqnr_db(_ort(dyn, rows, "Y"), got) >= 40.0      # the same dequantized weights
    np.savez(tmp_path / "calib.npz", x=data((5, 4), 16))
    exe = os.path.join(os.path.dirname(sys.executable), "qcc")
    p = subprocess.run([exe, "compile", dyn, "--calib", str(tmp_path / "calib.npz"), "--target", "c",
                        "-o", str(tmp_path / "c")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    test = {"x": xs}
    want = run_artifact(str(tmp_path / "c"), test, "reference")
    np.testing.assert_array_equal(run_artifact(str(tmp_path / "c"), test, "target")["Y"], want["Y"])
    assert sqnr_db(_ort(src, rows, "Y"), want["Y"]) >= 25.0
