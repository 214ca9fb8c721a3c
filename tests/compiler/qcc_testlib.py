"""Helpers for the core tests: small ONNX models, the real ``qcc`` console script.

The CLI tests run ``qcc`` from PATH through subprocess, exactly as a user
would; the error checks assert the one-line contract (``qcc: error: ...`` on
stderr, exit code 2, no traceback).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Optional

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def light(name: str) -> str:
    return os.path.join(LIGHT, f"light_{name}.onnx")


# ---------------------------------------------------------------- the console script
def qcc(*args: str, cwd: Optional[str] = None, timeout: int = 300) -> subprocess.CompletedProcess:
    exe = shutil.which("qcc")
    assert exe, "the qcc console script is not on PATH (pip install -e .)"
    return subprocess.run([exe, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def qcc_inproc(capsys, *args: str) -> subprocess.CompletedProcess:
    """``qcc.cli.main`` in this process (no interpreter start-up): same exit code and
    streams as the script, for the many error cases beyond the ones run by subprocess."""
    from qcc.cli import main

    capsys.readouterr()
    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return subprocess.CompletedProcess(["qcc", *map(str, args)], rc, cap.out, cap.err)


def assert_ok(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert "Traceback" not in p.stderr


def assert_error(p: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit code 2, exactly one stderr line ``qcc: error: ...`` naming every needle."""
    lines = p.stderr.splitlines()
    assert p.returncode == 2, f"rc={p.returncode}\nstderr:\n{p.stderr}"
    assert len(lines) == 1, f"expected one stderr line, got:\n{p.stderr}"
    assert lines[0].startswith("qcc: error: "), lines[0]
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    for n in needles:
        assert n in lines[0], f"{n!r} not named in: {lines[0]}"
    return lines[0]


# ---------------------------------------------------------------------- small models
def make_model(nodes, inputs, outputs, inits=(), opset: int = 17, name: str = "g") -> onnx.ModelProto:
    m = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, list(inits)),
                          opset_imports=[helper.make_opsetid("", opset)], producer_name="qcc-tests")
    m.ir_version = min(m.ir_version, 8 if opset < 19 else 9 if opset < 21 else 10)
    return m


def f32_input(name: str, dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def conv_model(opset: int = 17, batch="N", hw=(6, 6), seed: int = 0) -> onnx.ModelProto:
    """Conv -> Relu -> Reshape(0,-1) -> Softmax: the small model of the opset tests."""
    rng = np.random.default_rng(seed)
    h, w = hw
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([0, -1], np.int64), "shp")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shp"], ["f"], name="reshape"),
             helper.make_node("Softmax", ["f"], ["y"], axis=1, name="softmax")]
    return make_model(nodes, [f32_input("x", [batch, 3, h, w])],
                      [f32_input("y", [batch, 4 * h * w])], inits, opset=opset)


def dynamic_hw_model() -> onnx.ModelProto:
    """Conv + Relu whose input is x[N, 3, H, W]: H and W must come from --input-shape."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return make_model(nodes, [f32_input("x", ["N", 3, "H", "W"])],
                      [f32_input("y", ["N", 4, "H", "W"])], [w])


def two_unsupported_model() -> onnx.ModelProto:
    """A supported Relu between two different unsupported ops (one in a custom domain)."""
    nodes = [helper.make_node("NonMaxSuppression", ["x"], ["a"], name="nms_1"),
             helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("FancyOp", ["r"], ["y"], name="fancy_2", domain="com.example")]
    m = helper.make_model(helper.make_graph(nodes, "g", [f32_input("x", [1, 4])],
                                            [f32_input("y", [1, 4])]),
                          opset_imports=[helper.make_opsetid("", 17),
                                         helper.make_opsetid("com.example", 3)])
    m.ir_version = 8
    return m


def ort_run(model_or_path, feeds: dict) -> dict:
    src = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    s = ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def rel_err(a: dict, b: dict) -> float:
    """Worst relative error (max |a-b| / max |b|) over the arrays of ``b``."""
    worst = 0.0
    for k in b:
        x, y = np.asarray(a[k], np.float64), np.asarray(b[k], np.float64)
        assert x.shape == y.shape, (k, x.shape, y.shape)
        den = max(float(np.max(np.abs(y))) if y.size else 0.0, 1e-30)
        worst = max(worst, float(np.max(np.abs(x - y))) / den if y.size else 0.0)
    return worst
