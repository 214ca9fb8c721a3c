"""examples/text_recog: CNN backbone + 2 pre-LN transformer layers + per-column
CTC classifier, dynamic width axis.  Fast: width binding (and its error),
an int8 smoke on 10 images; slow: the CLI path on all 200 test images,
another width, opset 13, the masked (padded-batch) variant, and the C target
bit for bit against the reference."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
from tx_testlib import compile_graph

from qcc.bench.transformer_models import (TEXT_RECOG, ctc_greedy_decode, text_metrics,
                                          text_recog_data)
from qcc.errors import QccError
from qcc.frontend.onnx_import import import_model
from qcc.interp import Interpreter
from qcc.ir.verifier import float_offenders


def _model(opset: int = 17) -> str:
    return os.path.join(TEXT_RECOG, f"text_recog_opset{opset}.onnx")


def _ort(path: str, x: np.ndarray, mask=None) -> np.ndarray:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    feeds = {"image": x} if mask is None else {"image": x, "column_mask": mask}
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _run(g, x: np.ndarray) -> np.ndarray:
    it = Interpreter(g)
    return np.concatenate([it.run({"image": x[i:i + 1]})["logits"] for i in range(len(x))])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _qcc(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["qcc", *map(str, args)], capture_output=True, text=True)


# ------------------------------------------------------------------ fast
def test_ctc_greedy_decode_and_metrics():
    one_hot = np.eye(11)[[0, 2, 2, 0, 2, 3, 3, 1, 0, 0]][None]     # blank 1 1 blank 1 2 2 0 blank blank
    assert ctc_greedy_decode(one_hot) == ["1120"]
    m = text_metrics(["1120", "45", ""], ["1120", "456", "78"])
    assert m["exact"] == pytest.approx(1 / 3) and m["char"] == pytest.approx(1 - 3 / 9)


def test_unbound_width_is_an_error_naming_the_input(tmp_path):
    """No --input-shape and no --calib sample to take the width from."""
    msg = r"graph input 'image' has dynamic dimension 3 \('width'\); bind it with --input-shape image=1x3x32xN"
    with pytest.raises(QccError, match=msg):
        import_model(_model(), {})
    r = _qcc("compile", _model(), "--target", "onnx", "-o", tmp_path / "out")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert re.search(msg, r.stderr) and not (tmp_path / "out").exists()


def test_width_bound_by_input_shape_matches_onnxruntime():
    """A width the example data was not made at: 160 -> 40 columns; the float
    IR matches onnxruntime and still reads the (right-padded) test strings."""
    g = import_model(_model(), {"image": [1, 3, 32, 160]})
    assert list(g.inputs[0].shape) == [1, 3, 32, 160] and list(g.outputs[0].shape) == [1, 40, 11]
    _, test, labels = text_recog_data(160)
    x = test["image"][:3]
    out, ref = _run(g, x), _ort(_model(), x)
    np.testing.assert_allclose(out, ref, atol=2e-3, rtol=1e-3)
    assert ctc_greedy_decode(out) == ctc_greedy_decode(ref)


@pytest.fixture(scope="module")
def smoke():
    """int8 with 16 calibration images, 10 test images."""
    calib, test, labels = text_recog_data()
    g, ctx = compile_graph(_model(), {"image": calib["image"][:16]}, {"image": [1, 3, 32, 128]})
    x = test["image"][:10]
    return g, ctx, _run(g, x), _ort(_model(), x), labels[:10]


def test_int8_smoke_is_integer_only(smoke):
    g, ctx, *_ = smoke
    assert not float_offenders(g)
    ops = collections.Counter(n.op for n in g.nodes)
    assert ops["qcc.conv2d"] == 5 and ops["qcc.isoftmax"] == 2
    # each GELU in the form gelu=auto measured as the more accurate (table or polynomial)
    forms = ctx.report["quantize"]["gelu_forms"]
    assert len(forms) == 2 and all(f["form"] == min(("lut", "ibert"), key=f.get) for f in forms.values())
    tables = sum(n.op == "qcc.lut" and n.attrs["fn"] == "Gelu" for n in g.nodes)
    assert (ops["qcc.igelu"], tables) == tuple(sum(f["form"] == k for f in forms.values()) for k in ("ibert", "lut"))
    assert ops["qcc.ilayernorm"] == 5 and ops["qcc.matmul"] == 4
    assert ctx.report["check-headroom"]["min_bits"] >= 0


def test_int8_smoke_reads_like_float(smoke):
    _, _, out, ref, labels = smoke
    assert _cosines(out, ref).min() >= 0.99
    dq, df = ctc_greedy_decode(out), ctc_greedy_decode(ref)
    assert text_metrics(df, labels)["exact"] >= 0.5
    assert sum(a == b for a, b in zip(dq, df)) >= 9          # same strings as float on 9 of 10
    assert text_metrics(dq, labels)["exact"] >= text_metrics(df, labels)["exact"] - 0.1


# ------------------------------------------------------------------ slow
def _compile_cli(tmp_path, name: str, model: str, calib: dict, *extra) -> str:
    cal, out = tmp_path / f"{name}_calib.npz", tmp_path / name
    np.savez(cal, **calib)
    r = _qcc("compile", model, "--calib", cal, "-o", out, "--quiet", *extra)
    assert r.returncode == 0, r.stderr
    return str(out)


def _run_cli(tmp_path, art: str, test: dict, engine: str = "reference") -> np.ndarray:
    inp, out = tmp_path / "in.npz", tmp_path / "y.npz"
    np.savez(inp, **test)
    r = _qcc("run", art, "--inputs", inp, "-o", out, "--engine", engine)
    assert r.returncode == 0, r.stderr
    return np.load(out)["logits"]


def _check_close_to_float(out: np.ndarray, ref: np.ndarray, labels, points: float = 3.0):
    q, f = text_metrics(ctc_greedy_decode(out), labels), text_metrics(ctc_greedy_decode(ref), labels)
    assert f["exact"] >= 0.6                       # the float model reads most strings
    assert q["exact"] >= f["exact"] - points / 100, (q, f)
    assert _cosines(out, ref).min() >= 0.99


@pytest.mark.slow
def test_cli_int8_all_test_images_close_to_float(tmp_path):
    """The issue's path: width bound from --calib, then qcc run on the reference engine."""
    calib, test, labels = text_recog_data()
    art = _compile_cli(tmp_path, "q17", _model(), calib, "--target", "onnx")
    m = json.loads((tmp_path / "q17" / "manifest.json").read_text())
    assert m["inputs"][0]["shape"] == [1, 3, 32, 128]
    assert m["passes"]["check-integer-only"]["integer_only"]
    _check_close_to_float(_run_cli(tmp_path, art, test), _ort(_model(), test["image"]), labels)


@pytest.mark.slow
@pytest.mark.parametrize("opset,width", [(17, 160), (13, 128)])
def test_other_width_and_opset13_int8(tmp_path, opset, width):
    calib, test, labels = text_recog_data(width)
    test, labels = {"image": test["image"][:60]}, labels[:60]
    art = _compile_cli(tmp_path, "q", _model(opset), calib, "--target", "onnx",
                       "--input-shape", f"image=1x3x32x{width}")
    out = _run_cli(tmp_path, art, test)
    _check_close_to_float(out, _ort(_model(opset), test["image"]), labels, points=5.0)


@pytest.mark.slow
def test_masked_variant_padded_columns_get_probability_zero():
    """Batched-inference form: images right-padded to 160, ``column_mask`` input,
    additive -10000 mask on the scores (the form onnxruntime's static int8 breaks on)."""
    model = _model().replace("text_recog_opset17", "text_recog_masked_opset17")
    calib, test, labels = text_recog_data(160, masked=True)
    g, _ = compile_graph(model, calib, {"image": [1, 3, 32, 160], "column_mask": [1, 40]})
    assert not float_offenders(g)
    sms = [n.outputs[0].name for n in g.nodes if n.op == "qcc.isoftmax"]
    assert len(sms) == 2
    it, outs = Interpreter(g), []
    for i in range(40):
        r = it.run({k: v[i:i + 1] for k, v in test.items()}, capture=set(sms))
        for name in sms:                                   # [1, heads, 40, 40] uint8
            assert np.all(r[name][..., 32:] == 0) and np.all(r[name][..., :32].sum(-1) >= 248)
        outs.append(r["logits"])
    ref = _ort(model, test["image"][:40], test["column_mask"][:40])
    _check_close_to_float(np.concatenate(outs), ref, labels[:40], points=5.0)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                    reason="gcc and make are needed to build the generated C")
@pytest.mark.parametrize("masked", [False, True])
def test_target_c_bit_exact_vs_reference(tmp_path, masked):
    name = "text_recog_masked_opset17" if masked else "text_recog_opset17"
    calib, test, _ = text_recog_data(160 if masked else 128, masked)
    test = {k: v[:4] for k, v in test.items()}
    art = _compile_cli(tmp_path, "c", os.path.join(TEXT_RECOG, f"{name}.onnx"), calib, "--target", "c")
    c_out = _run_cli(tmp_path, art, test, engine="target")
    assert np.array_equal(c_out, _run_cli(tmp_path, art, test, engine="reference"))


@pytest.mark.slow
def test_bench_writes_all_configs_and_renders_in_the_report(tmp_path, capsys):
    """``python -m qcc.bench.transformer_models`` on 8 images: every configuration
    has its rows, qcc's integer IR stays close to float, the qcc bench report renders it."""
    from qcc.bench import transformer_models as tm
    from qcc.bench.report import study_sections

    assert tm.main(["--n-test", "8", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "transformer_models.json").read_text())
    assert len(res) == len(tm.TEXT_RECOG_CONFIGS)
    for row in res.values():
        assert {"float", "qcc int8, integer IR (reference engine)", "ort minmax"} <= set(row)
        assert row["qcc int8, integer IR (reference engine)"]["min_cos"] >= 0.99
    (title, tables), = study_sections({"studies": {"transformer_models": res}})
    assert "text_recog" in title and tables[0].count("\n") == 2 + sum(len(r) for r in res.values()) - 1
    assert "| float |" in capsys.readouterr().out
