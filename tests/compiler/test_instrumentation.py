"""Pass-manager instrumentation flags of ``qcc compile``, through the console script,
on the torch-exported MobileNet example (examples/mobilenet_small)."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import onnx
import pytest

from qcc_testlib import assert_error, assert_ok, ort_run, qcc, qcc_inproc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "mobilenet_small", "mobilenet_small.onnx")


def _pipeline() -> list[str]:
    from qcc.passes.pipelines import pipeline_for

    return pipeline_for("onnx", quantize=False)


def _headers(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^// ----- IR (before|after) (\S+) -----$", text, re.M)


def _section(text: str, when: str, name: str) -> str:
    """The IR printed under one ``// ----- IR when name -----`` header."""
    start = text.index(f"// ----- IR {when} {name} -----\n") + len(f"// ----- IR {when} {name} -----\n")
    end = text.index("}\n", start) + 2
    return text[start:end]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("instr")
    p = qcc("compile", MODEL, "--target", "onnx", "-o", d / "out", "--dump-dir", d / "dump",
            "--print-ir-after-all", "--print-ir-before", "dce", "--verify-each", "--time-passes")
    assert_ok(p)
    return d, p


def test_print_ir_after_all_and_before_one_pass(full_run):
    _, p = full_run
    pipe = _pipeline()
    after = [n for w, n in _headers(p.stderr) if w == "after"]
    assert after == pipe
    assert [n for w, n in _headers(p.stderr) if w == "before"] == ["dce"]
    # what is printed before dce is what canonicalize (the pass before it) left
    i = pipe.index("dce")
    assert _section(p.stderr, "before", "dce") == _section(p.stderr, "after", pipe[i - 1])
    assert "onnx.Conv(" in _section(p.stderr, "after", pipe[-1])


def test_dump_dir_has_one_numbered_text_and_onnx_per_stage(full_run):
    d, p = full_run
    pipe = _pipeline()
    stems = [f"{i:02d}_{n}" for i, n in enumerate(["input"] + pipe)]
    assert sorted(os.listdir(d / "dump")) == sorted(s + ext for s in stems for ext in (".qcc", ".onnx"))
    for s in stems:
        assert (d / "dump" / f"{s}.qcc").read_text().startswith('graph "')
        onnx.checker.check_model(onnx.load(str(d / "dump" / f"{s}.onnx")))
    # the stage after the last pass is the compiled IR, and its ONNX runs like the source
    assert _section(p.stderr, "after", pipe[-1]) == (d / "dump" / f"{stems[-1]}.qcc").read_text()
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    want = ort_run(MODEL, {"input": x})["logits"]
    for s in (stems[0], stems[-1]):
        got = ort_run(str(d / "dump" / f"{s}.onnx"), {"input": x})["logits"]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=s)


def test_time_passes_reports_every_pass(full_run):
    _, p = full_run
    report = p.stderr[p.stderr.index("qcc pass execution timing report"):]
    rows = re.findall(r"^\s+[\d.]+\s+[\d.]+\s+\d+\s+(\S+)$", report, re.M)
    assert rows == _pipeline()
    assert re.search(r"^\s+[\d.]+\s+100\.0\s+total$", report, re.M)


def test_stop_after_and_disable_pass(tmp_path):
    pipe = _pipeline()
    p = qcc("compile", MODEL, "-o", tmp_path / "stop", "--stop-after", "constant-fold",
            "--dump-dir", tmp_path / "dump")
    assert_ok(p)
    m = json.loads((tmp_path / "stop" / "manifest.json").read_text())
    assert m["stopped_after"] == "constant-fold"
    k = pipe.index("constant-fold") + 1
    assert sorted(os.listdir(tmp_path / "dump")) == sorted(
        f"{i:02d}_{n}{e}" for i, n in enumerate(["input"] + pipe[:k]) for e in (".qcc", ".onnx"))
    # canonicalize turns Gemm into MatMul + Add; disabled, the Gemm stays
    assert_ok(qcc("compile", MODEL, "-o", tmp_path / "all"))
    assert_ok(qcc("compile", MODEL, "-o", tmp_path / "nocanon", "--disable-pass", "canonicalize"))
    assert "onnx.Gemm(" not in (tmp_path / "all" / "model.qcc").read_text()
    assert "onnx.Gemm(" in (tmp_path / "nocanon" / "model.qcc").read_text()


@pytest.mark.parametrize("flag,name,needles", [
    ("--stop-after", "fold-constants", ("unknown pass 'fold-constants'", "constant-fold")),
    ("--disable-pass", "nope", ("unknown pass 'nope'",)),
    ("--print-ir-after", "quantize", ("'quantize' is not in the pipeline",)),
])
def test_bad_pass_names_are_errors(tmp_path, capsys, flag, name, needles):
    out = tmp_path / "out"
    assert_error(qcc_inproc(capsys, "compile", MODEL, "-o", out, flag, name), *needles)
    assert os.listdir(tmp_path) == []


def test_verify_each_names_the_pass_that_broke_the_ir(monkeypatch):
    """A pass that leaves a dangling use is caught right after it runs."""
    from qcc import passmanager
    from qcc.errors import PassError
    from qcc.frontend.onnx_import import import_model
    from qcc.passmanager import Instrumentation, PassContext, PassInfo, PassManager

    def breaker(graph, ctx):
        node = graph.nodes[-1]
        graph.nodes.remove(node)  # its output is still a graph output

    passmanager.all_passes()
    monkeypatch.setitem(passmanager._PASSES, "test-breaker",
                        PassInfo("test-breaker", "breaks the IR", breaker))
    g = import_model(MODEL)
    PassManager(["test-breaker"]).run(import_model(MODEL), PassContext())  # unchecked: passes
    with pytest.raises(PassError, match="after pass 'test-breaker'.*dangling"):
        PassManager(["test-breaker"], Instrumentation(verify_each=True)).run(g, PassContext())
