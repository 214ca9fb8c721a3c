"""Every ``qcc`` command through the real console script (subprocess)."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest

from qcc import __version__
from qcc_testlib import assert_ok, conv_model, dynamic_hw_model, ort_run, qcc, rel_err


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    onnx.save(conv_model(17), str(d / "conv.onnx"))
    onnx.save(dynamic_hw_model(), str(d / "dyn.onnx"))
    rng = np.random.default_rng(0)
    np.savez(d / "in.npz", x=rng.standard_normal((3, 3, 6, 6)).astype(np.float32))
    np.savez(d / "in_dyn.npz", x=rng.standard_normal((2, 3, 5, 7)).astype(np.float32))
    return d


def _expected(work, model="conv.onnx", inputs="in.npz"):
    x = np.load(work / inputs)["x"]
    return {"y": np.concatenate([ort_run(str(work / model), {"x": x[i:i + 1]})["y"]
                                 for i in range(len(x))])}


def test_version():
    p = qcc("--version")
    assert_ok(p)
    assert p.stdout.strip() == f"qcc {__version__}"


def test_help_lists_every_command():
    p = qcc("--help")
    assert_ok(p)
    for cmd in ("inspect", "run", "compile", "passes"):
        assert cmd in p.stdout
    assert qcc().returncode == 0  # no command: help, not an error


def test_inspect_text(work):
    p = qcc("inspect", work / "conv.onnx")
    assert_ok(p)
    out = p.stdout
    assert "opset 17" in out
    assert "input:    x: float32[N,3,6,6]" in out
    assert "output:   y: float32[N,144]" in out
    assert "Conv" in out and "Softmax" in out
    assert f"MACs:     {4 * 6 * 6 * 27:,}" in out  # batch bound to 1
    assert "unsupported ops: none" in out


def test_inspect_json(work):
    p = qcc("inspect", work / "conv.onnx", "--json")
    assert_ok(p)
    info = json.loads(p.stdout)
    assert info["opset"] == 17
    assert info["inputs"] == [{"name": "x", "type": "float32[N,3,6,6]"}]
    assert info["ops"] == {"Conv": 1, "Relu": 1, "Reshape": 1, "Softmax": 1}
    assert info["params"] == 4 * 27 + 4 + 2
    assert info["macs"] == 4 * 36 * 27
    assert info["unsupported"] == []
    assert info["bound_inputs"] == [{"name": "x", "type": "f32[1,3,6,6]"}]


def test_inspect_counts_weights_built_by_constant_subgraphs():
    """onnx's light SqueezeNet builds every weight with ConstantOfShape: the stored
    initializers are a few shape vectors, the real parameter count appears after folding."""
    from qcc.frontend.onnx_import import import_model
    from qcc_testlib import light

    folded = sum(v.type.numel for v in import_model(light("squeezenet")).constants.values())
    assert folded > 1_000_000  # SqueezeNet 1.0 has 1.25M parameters
    p = qcc("inspect", light("squeezenet"))
    assert_ok(p)
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("params:"))
    assert f"({folded:,} after folding constant subgraphs)" in line, line


def test_run_model_matches_onnxruntime(work, tmp_path):
    out = tmp_path / "out.npz"
    p = qcc("run", work / "conv.onnx", "--inputs", work / "in.npz", "-o", out)
    assert_ok(p)
    with np.load(out, allow_pickle=False) as z:
        got = {k: z[k] for k in z.files}
    assert list(got) == ["y"] and got["y"].shape == (3, 144)
    assert rel_err(got, _expected(work)) <= 1e-5
    assert os.listdir(tmp_path) == ["out.npz"]  # written atomically, no temp file left


def test_compile_then_run_both_engines(work, tmp_path):
    d = tmp_path / "build"
    p = qcc("compile", work / "conv.onnx", "--target", "onnx", "-o", d)
    assert_ok(p)
    assert {"model.onnx", "model.qcc", "manifest.json"} <= set(os.listdir(d))
    assert os.listdir(tmp_path) == ["build"]  # no temporary sibling left behind
    onnx.checker.check_model(onnx.load(str(d / "model.onnx")))
    m = json.loads((d / "manifest.json").read_text())
    assert m["target"] == "onnx" and m["source"] == "conv.onnx"
    assert m["inputs"] == [{"name": "x", "shape": [1, 3, 6, 6], "dtype": "float32"}]
    assert [o["name"] for o in m["outputs"]] == ["y"]
    assert m["pipeline"] and all(isinstance(s, str) for s in m["pipeline"])
    want = _expected(work)
    for engine in ("target", "reference"):
        out = tmp_path / f"{engine}.npz"
        p = qcc("run", d, "--inputs", work / "in.npz", "-o", out, "--engine", engine)
        assert_ok(p)
        with np.load(out, allow_pickle=False) as z:
            assert rel_err({"y": z["y"]}, want) <= 1e-5, engine
    # compiling again into a folder of earlier qcc output replaces it
    assert_ok(qcc("compile", work / "conv.onnx", "-o", d))


def test_compile_binds_input_shape(work, tmp_path):
    d = tmp_path / "dyn"
    p = qcc("compile", work / "dyn.onnx", "-o", d, "--input-shape", "x=1x3x5x7")
    assert_ok(p)
    m = json.loads((d / "manifest.json").read_text())
    assert m["inputs"][0]["shape"] == [1, 3, 5, 7]
    assert m["outputs"][0]["shape"] == [1, 4, 5, 7]
    out = tmp_path / "o.npz"
    assert_ok(qcc("run", d, "--inputs", work / "in_dyn.npz", "-o", out))
    with np.load(out) as z:
        assert rel_err({"y": z["y"]}, _expected(work, "dyn.onnx", "in_dyn.npz")) <= 1e-5


def test_passes_lists_registry_and_pipeline():
    p = qcc("passes")
    assert_ok(p)
    for name in ("constant-fold", "dce", "shape-fold", "canonicalize"):
        assert name in p.stdout
    assert "onnx" in p.stdout.splitlines()[-1]  # "targets: ..."
    p = qcc("passes", "--target", "onnx")
    assert_ok(p)
    from qcc.passes.pipelines import pipeline_for
    from qcc.passmanager import instance_labels

    listed = [ln.split()[1] for ln in p.stdout.splitlines()[1:]]
    assert [x.split("#")[0] for x in listed] == pipeline_for("onnx", quantize=True)
    assert listed == instance_labels(pipeline_for("onnx", quantize=True))


def test_run_model_binds_dynamic_dims_from_the_data(work, tmp_path):
    """``qcc run MODEL`` takes open dimensions from one sample of --inputs (H=5, W=7)."""
    out = tmp_path / "o.npz"
    assert_ok(qcc("run", work / "dyn.onnx", "--inputs", work / "in_dyn.npz", "-o", out))
    with np.load(out) as z:
        assert z["y"].shape == (2, 4, 5, 7)
        assert rel_err({"y": z["y"]}, _expected(work, "dyn.onnx", "in_dyn.npz")) <= 1e-5
