"""Repeated passes get distinct names (``dce``, ``dce#2``) in ``qcc passes``, the manifest
and the instrumentation flags; ``--stop-after`` writes the IR at that point and does not
run the backend (a float IR stopped before quantization is no C-codegen error)."""

from __future__ import annotations

import json
import os
import re

import numpy as np

from qcc_testlib import assert_error, assert_ok, qcc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples", "digits_cnn")
MODEL, CALIB, TEST = (os.path.join(EX, f) for f in ("digits_cnn.onnx", "calib.npz", "test.npz"))


def _listing() -> list[str]:
    p = qcc("passes", "--target", "c")
    assert_ok(p)
    return re.findall(r"^\s+\d+\. (\S+)", p.stdout, re.M)


def test_pipeline_listing_names_every_run_distinctly():
    names = _listing()
    assert len(names) == len(set(names)), names
    assert names.count("dce") == 1 and "dce#2" in names
    assert names.index("dce") < names.index("dce#2") < names.index("quantize")


def test_stop_after_a_repeated_pass_writes_the_ir_without_the_backend(tmp_path):
    names = _listing()
    p = qcc("compile", MODEL, "--calib", CALIB, "--target", "c", "--stop-after", "dce#2",
            "-o", tmp_path / "s", "--print-ir-after", "dce#2")
    assert_ok(p)
    assert "stopped after pass 'dce#2'" in p.stderr and "model.qcc" in p.stderr
    assert p.stderr.count("// ----- IR after dce#2 -----") == 1
    m = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert m["stopped_after"] == "dce#2" and m["pipeline"] == names
    assert sorted(os.listdir(tmp_path / "s")) == ["manifest.json", "model.qcc", "model.qcc.npz",
                                                  "timings.json"]
    text = (tmp_path / "s" / "model.qcc").read_text()
    assert "fused.conv" in text and "qcc.requant" not in text  # fused, not yet quantized
    # the stopped IR runs on the reference interpreter and is close to the float model
    assert_ok(qcc("run", tmp_path / "s", "--inputs", TEST, "--engine", "reference",
                  "-o", tmp_path / "r.npz"))
    ref = np.load(tmp_path / "r.npz")["logits"]
    assert_ok(qcc("run", MODEL, "--inputs", TEST, "-o", tmp_path / "f.npz"))
    np.testing.assert_allclose(ref, np.load(tmp_path / "f.npz")["logits"], rtol=1e-3, atol=1e-3)
    assert_error(qcc("run", tmp_path / "s", "--inputs", TEST, "-o", tmp_path / "t.npz"),
                 "--stop-after dce#2", "engine 'reference'")


def test_unknown_instance_names_the_runs(tmp_path):
    assert_error(qcc("compile", MODEL, "--calib", CALIB, "--target", "c", "--stop-after", "dce#9",
                     "-o", tmp_path / "x"), "'dce#9' is not in the pipeline", "dce#2")
    assert not (tmp_path / "x").exists()
