"""``qcc debug`` through the console script: the planted bad layer is ranked first,
a suggestion measurably fixes it, the outputs have the documented fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from debug_testlib import images, planted_cnn

QCC = os.path.join(os.path.dirname(sys.executable), "qcc")


def qcc(*args, timeout=600):
    return subprocess.run([QCC, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("planted")
    model = planted_cnn(str(d / "planted.onnx"))
    np.savez(d / "calib.npz", x=images(16, 1))
    np.savez(d / "inputs.npz", x=images(6, 2))
    return d, model


def test_planted_layer_ranked_first_and_equalization_fixes_it(planted, tmp_path):
    d, model = planted
    p = qcc("debug", model, "--calib", d / "calib.npz", "--inputs", d / "inputs.npz",
            "-o", tmp_path, "--try")
    assert p.returncode == 0, p.stderr
    rep = json.loads((tmp_path / "debug.json").read_text())
    layers = rep["layers"]
    assert layers[0]["node"] == "conv2"
    assert all(layers[0]["introduced_sqnr_db"] <= x["introduced_sqnr_db"] for x in layers)
    base = rep["end_to_end_sqnr_db"]
    best = max(s["end_to_end_sqnr_db"] for s in rep["suggestions"] if s["end_to_end_sqnr_db"] is not None)
    assert best > base + 20  # the planted damage is measurably repaired
    fix = max(rep["suggestions"], key=lambda s: s["end_to_end_sqnr_db"] or -1e9)
    assert fix["flag"] == "--equalize"
    # the fix is real: compiling with the flag gives that SQNR through the ordinary path
    p2 = qcc("debug", model, "--calib", d / "calib.npz", "--inputs", d / "inputs.npz",
             "-o", tmp_path / "eq", "--equalize")
    rep2 = json.loads((tmp_path / "eq" / "debug.json").read_text())
    assert p2.returncode == 0 and abs(rep2["end_to_end_sqnr_db"] - fix["end_to_end_sqnr_db"]) < 1e-6
    assert "conv2" in p.stdout and "introduced" in p.stdout


def test_json_fields_and_html(planted, tmp_path):
    d, model = planted
    p = qcc("debug", model, "--calib", d / "calib.npz", "--inputs", d / "inputs.npz", "-o", tmp_path)
    assert p.returncode == 0, p.stderr
    rep = json.loads((tmp_path / "debug.json").read_text())
    need = {"node", "op", "tensor", "introduced_sqnr_db", "inherited_sqnr_db", "clip_rate"}
    assert rep["layers"] and all(need <= set(x) for x in rep["layers"])
    assert {x["node"] for x in rep["layers"]} == {"conv1", "conv2", "conv3"}
    assert 0.0 <= min(x["clip_rate"] for x in rep["layers"])
    html = (tmp_path / "debug.html").read_text()
    assert "<svg" in html and "conv2" in html and "introduced" in html


def test_debug_needs_calibration_data(planted, tmp_path):
    d, model = planted
    p = qcc("debug", model, "--inputs", d / "inputs.npz", "-o", tmp_path)
    assert p.returncode == 2 and "--calib" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.skipif(subprocess.run(["which", "gcc"], capture_output=True).returncode != 0,
                    reason="gcc not installed")
# as for Triton below: a fault at the first step is slow (the second step's is located after
# a correct one, the harder case)
@pytest.mark.parametrize("fault,layer", [(None, None), pytest.param(0, "conv1", marks=pytest.mark.slow),
                                         (1, "conv2")])
def test_target_c_names_the_first_layer_that_differs(planted, tmp_path, fault, layer):
    d, model = planted
    env = dict(os.environ)
    env.pop("QCC_DEBUG_FAULT_STEP", None)
    if fault is not None:
        env["QCC_DEBUG_FAULT_STEP"] = str(fault)  # test-only: corrupt that step's output
    p = subprocess.run([QCC, "debug", model, "--calib", str(d / "calib.npz"), "--inputs",
                        str(d / "inputs.npz"), "-o", str(tmp_path), "--target", "c",
                        "--max-samples", "2"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    tc = json.loads((tmp_path / "debug.json").read_text())["target_check"]
    assert tc["target"] == "c" and tc["layers"] == 3
    if fault is None:
        assert tc["first_mismatch"] is None and "bit-exact" in p.stdout
    else:
        m = tc["first_mismatch"]
        assert m["node"] == layer and m["step"] == fault and m["index"] == 0
        assert m["target_value"] != m["reference_value"]
        assert f"'{layer}'" in p.stdout


@pytest.mark.parametrize("fault", [pytest.param(None, marks=pytest.mark.slow),
                                   pytest.param(0, marks=pytest.mark.slow), 1])
def test_target_triton_names_the_first_layer_that_differs(planted, tmp_path, fault):
    """The Triton model traced launch by launch (under the interpreter without a GPU): no
    mismatch on a correct run; a corrupted launch output is reported at that launch."""
    pytest.importorskip("triton")
    d, model = planted
    env = dict(os.environ)
    env.pop("QCC_DEBUG_FAULT_STEP", None)
    if fault is not None:
        env["QCC_DEBUG_FAULT_STEP"] = str(fault)
    p = subprocess.run([QCC, "debug", model, "--calib", str(d / "calib.npz"), "--inputs",
                        str(d / "inputs.npz"), "-o", str(tmp_path), "--target", "triton",
                        "--max-samples", "1"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    tc = json.loads((tmp_path / "debug.json").read_text())["target_check"]
    assert tc["target"] == "triton" and tc["layers"] >= 2
    if fault is None:
        assert tc["first_mismatch"] is None and "bit-exact" in p.stdout
    else:
        m = tc["first_mismatch"]
        assert m["step"] == fault and m["index"] == 0 and m["node"] == ("conv1", "conv2")[fault]
        assert m["target_value"] != m["reference_value"] and m["kernel"].startswith("conv2d_")
