"""Whole models through ``qcc compile --target triton`` and ``qcc run`` (console script),
on the CPU under the Triton interpreter: outputs equal ``--engine reference`` bit for
bit.  digits_cnn is the fast smoke test; the other examples are slow."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EX = os.path.join(ROOT, "examples")
QCC = [sys.executable, "-m", "qcc.cli"]


def _qcc(*args, env=None, check=True):
    r = subprocess.run(QCC + [str(a) for a in args], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def _rows(src: str, dst, n: int, **extra) -> str:
    with np.load(src) as z:
        np.savez(dst, **{k: z[k][:n] for k in z.files}, **extra)
    return str(dst)


def _compile_and_compare(tmp_path, model, calib, inputs, *extra, name="model"):
    out = tmp_path / "tt"
    _qcc("compile", model, "--calib", calib, "--target", "triton", "-o", out, "--name", name,
         "--quiet", *extra)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    _qcc("run", out, "--inputs", inputs, "-o", a, "--device", "cpu")
    _qcc("run", out, "--inputs", inputs, "-o", b, "--engine", "reference")
    with np.load(a) as za, np.load(b) as zb:
        assert sorted(za.files) == sorted(zb.files)
        for k in za.files:
            assert za[k].dtype == zb[k].dtype and np.array_equal(za[k], zb[k]), k
    return out


def test_digits_cnn_files_api_and_bit_exact(tmp_path):
    d = os.path.join(EX, "digits_cnn")
    inputs = _rows(os.path.join(d, "test.npz"), tmp_path / "in.npz", 2)
    out = _compile_and_compare(tmp_path, os.path.join(d, "digits_cnn.onnx"),
                               os.path.join(d, "calib.npz"), inputs, name="digits")
    files = set(os.listdir(out))
    assert {"digits.py", "digits_kernels.py", "digits_weights.npz", "manifest.json",
            "model.qcc"} <= files
    for f in ("digits.py", "digits_kernels.py"):  # a user can copy the folder: no qcc import
        mods = set(re.findall(r"^(?:import|from)\s+(\w+)", (out / f).read_text(), re.M))
        assert mods <= {"torch", "triton", "numpy", "os", "sys", "importlib"}, (f, mods)
    with np.load(out / "digits_weights.npz", allow_pickle=False) as z:  # no object arrays
        assert all(z[k].dtype != object for k in z.files)
    m = json.loads((out / "manifest.json").read_text())
    mem = m["memory"]
    assert mem["workspace_bytes"] >= mem["lower_bound"] > 0
    convs = [r for r in m["layers"] if r["op"] == "qcc.conv2d"]
    assert {r["family"] for r in convs} == {"conv2d"}  # the kernel program's family
    assert {r["template"] for r in convs} == {"gemm", "taps"}  # the depthwise conv: direct taps
    assert all(len(r["grid"]) == (3 if r["template"] == "gemm" else 1) for r in convs)
    assert all(r["tiles"]["BK"] >= 32 and min(r["tiles"]["BM"], r["tiles"]["BN"]) >= 16
               for r in m["layers"] if r["template"] == "gemm")
    assert m["triton"]["inputs"][0]["scale"] > 0  # I/O quantization recorded
    # the copied folder runs on its own (fresh interpreter, only the folder on sys.path)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    code = ("import sys, numpy as np, torch; sys.path.insert(0, sys.argv[1]); import digits; "
            "x = np.load(sys.argv[2])['input'][:1]; "
            "y = digits.Model('cpu')({'input': torch.from_numpy(x)})['logits']; "
            "np.save(sys.argv[3], y.numpy())")
    r = subprocess.run([sys.executable, "-c", code, str(copy), inputs, str(tmp_path / "y.npy")],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    with np.load(tmp_path / "b.npz") as zb:
        assert np.array_equal(np.load(tmp_path / "y.npy"), zb["logits"][:1])
    import torch

    if not torch.cuda.is_available():  # --device cuda without a GPU: one line, exit 2
        r = _qcc("run", out, "--inputs", inputs, "-o", tmp_path / "y.npz", "--device", "cuda",
                 check=False)
        assert r.returncode == 2 and "no CUDA device" in r.stderr and "Traceback" not in r.stderr


def test_device_flag_on_another_target_is_one_line(tmp_path):
    d = os.path.join(EX, "digits_cnn")
    inputs = _rows(os.path.join(d, "test.npz"), tmp_path / "in.npz", 1)
    out = tmp_path / "o"
    _qcc("compile", os.path.join(d, "digits_cnn.onnx"), "-o", out, "--quiet")  # target onnx
    r = _qcc("run", out, "--inputs", inputs, "-o", tmp_path / "y.npz", "--device", "cpu",
             check=False)
    assert r.returncode == 2 and "--device applies to target triton" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "y.npz").exists()


SLOW = [("mobilenet_small", "mobilenet_small.onnx", ()),
        ("tiny_bert", "tiny_bert_opset14.onnx", ()),
        ("tiny_bert", "tiny_bert_opset17.onnx", ()),
        ("digits_cnn", "digits_cnn.onnx", ("--weight-bits", "4", "--group-size", "16")),
        ("mobilenet_small", "mobilenet_small.onnx", ("--weight-bits", "4", "--group-size", "32")),
        ("digits_cnn", "digits_cnn.onnx", ("--weight-bits", "2", "--group-size", "16"))]


@pytest.mark.slow
@pytest.mark.parametrize("ex,model,extra", SLOW, ids=lambda v: "-".join(v) if isinstance(v, tuple) else v)
def test_examples_bit_exact(tmp_path, ex, model, extra):
    d = os.path.join(EX, ex)
    inputs = _rows(os.path.join(d, "test.npz"), tmp_path / "in.npz", 2)
    _compile_and_compare(tmp_path, os.path.join(d, model), os.path.join(d, "calib.npz"), inputs,
                         *extra)


@pytest.mark.slow
@pytest.mark.parametrize("masked", [False, True])
def test_text_recog_bit_exact(tmp_path, masked):
    from qcc.bench.transformer_models import text_recog_data

    calib, test, _ = text_recog_data(160 if masked else 128, masked)
    np.savez(tmp_path / "calib.npz", **{k: v[:16] for k, v in calib.items()})
    np.savez(tmp_path / "in.npz", **{k: v[:1] for k, v in test.items()})
    name = "text_recog_masked_opset17" if masked else "text_recog_opset17"
    _compile_and_compare(tmp_path, os.path.join(EX, "text_recog", f"{name}.onnx"),
                         tmp_path / "calib.npz", tmp_path / "in.npz")


def test_interpreter_chosen_too_late_is_one_clear_error(tmp_path):
    """A process that imported triton before TRITON_INTERPRET=1 (torch's dynamo exporter does)
    cannot run the interpreter: the public API says so in one line instead of failing inside
    Triton; with the variable set before the import the same call runs."""
    import onnx
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4), "w")
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="dense")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [1, 8])],
                          [helper.make_tensor_value_info("y", 1, [1, 4])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    np.savez(tmp_path / "c.npz", x=np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32))
    _qcc("compile", tmp_path / "m.onnx", "--calib", tmp_path / "c.npz", "--target", "triton",
         "-o", tmp_path / "tt", "--quiet")
    code = ("import sys, numpy as np, triton.language, qcc\n"
            "from qcc.errors import QccError\n"
            "try:\n"
            "    qcc.load(sys.argv[1]).run({'x': np.ones((1, 8), np.float32)}, device='cpu')\n"
            "except QccError as e:\n"
            "    print('QCCERROR', e)\n"
            "else:\n"
            "    print('RAN')\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "tt")], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "QCCERROR" in r.stdout and "triton was imported before TRITON_INTERPRET=1" in r.stdout
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "tt")], capture_output=True,
                       text=True, env=dict(env, TRITON_INTERPRET="1"))
    assert r.returncode == 0 and r.stdout.strip() == "RAN", r.stdout + r.stderr[-2000:]
