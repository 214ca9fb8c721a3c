"""The corpus speed benchmark (bench/corpus_speed.py, bench/corpus_why.py): a fast smoke run
on a tiny corpus-like folder made here, the graph-based model classes, the per-layer "why",
clear errors; and a slow run over the cached corpus (tests/models/zoo/fetch.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench import corpus_speed, corpus_why


def _save(path, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "m", inputs, outputs, [numpy_helper.from_array(a, n) for n, a in inits])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def tiny_cnn(path):
    """conv 3x3 (1 -> 8) -> relu -> depthwise 3x3 -> relu -> 1x1 conv -> global pool -> gemm."""
    rng = np.random.default_rng(0)
    f = lambda *s: (0.3 * rng.standard_normal(s)).astype(np.float32)  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=8),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"]),
             helper.make_node("GlobalAveragePool", ["c3"], ["p"]),
             helper.make_node("Flatten", ["p"], ["fl"]),
             helper.make_node("Gemm", ["fl", "w4", "b4"], ["y"], transB=1)]
    _save(path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 12, 12])],
          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
          [("w1", f(8, 1, 3, 3)), ("b1", f(8)), ("w2", f(8, 1, 3, 3)), ("b2", f(8)),
           ("w3", f(16, 8, 1, 1)), ("b3", f(16)), ("w4", f(4, 16)), ("b4", f(4))])


def corpus_folder(root, name="tiny_cnn"):
    """A folder as fetch.py writes one: model.onnx, calib.npz, test.npz, meta.json."""
    d = root / name
    d.mkdir(parents=True)
    tiny_cnn(str(d / "model.onnx"))
    rng = np.random.default_rng(1)
    np.savez(d / "calib.npz", x=rng.uniform(-1, 1, (8, 1, 12, 12)).astype(np.float32))
    np.savez(d / "test.npz", x=rng.uniform(-1, 1, (2, 1, 12, 12)).astype(np.float32))
    (d / "meta.json").write_text(json.dumps({"name": name, "kind": "classifier", "input_shapes": []}))
    return d


def _bench(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "qcc.bench.corpus_speed", *args], capture_output=True,
                          text=True, timeout=timeout)


def check_row(r: dict, why: bool = True) -> None:
    """What every timed row must hold: least-of-rounds cells, the empty call subtracted,
    ratios of those cells, a why exactly for each missed host goal (none with ``--no-why``),
    M4 per-MAC figures."""
    host = r["host"]
    for k, v in host["rounds_us"].items():
        assert host["best_us"][k] == min(v)
    best, fair = host["best_us"], r["ort_minus_call_us"]
    for k in ("ort_fp32", "ort_int8"):
        assert fair[k] == pytest.approx(max(best[k] - best["ort_empty"], 0), abs=0.011)
    for key, mine, ref in (("native_vs_int8", "qcc_native", "ort_int8"),
                           ("default_vs_fp32", "qcc_default", "ort_fp32")):
        # the ratio is stored to three decimals: up to 5e-4 off whatever its size
        assert r["ratio"][key] == pytest.approx(best[mine] / fair[ref], rel=2e-3, abs=5e-4)
        assert (key in (r.get("why") or {})) == (why and r["ratio"][key] > 1.0)
    m4 = r["m4"]
    if "instructions" in m4:
        assert m4["insns_per_mac"] == pytest.approx(m4["instructions"] / m4["macs"], abs=1e-3)


def test_smoke_on_a_tiny_corpus_folder(tmp_path):
    """The console entry on a corpus of one tiny CNN made here: one row, timed side by side,
    Cortex-M4 counted under QEMU, table and JSON written (the profiles behind the "why" are
    the next test and the slow one)."""
    corpus_folder(tmp_path / "zoo")
    out, md = tmp_path / "cs.json", tmp_path / "cs.md"
    p = _bench("--zoo", str(tmp_path / "zoo"), "--budget", "0.3", "--rounds", "2", "--no-why",
               "--json", str(out), "--md", str(md))
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(out.read_text())
    r, = res["rows"]
    assert "error" not in r, r
    assert r["class"] == "cnn" and len(r["host"]["rounds_us"]["qcc_native"]) == 2
    from qcc.commands import inspect_model

    assert r["macs"] == inspect_model(str(tmp_path / "zoo" / "tiny_cnn" / "model.onnx"), {})["macs"]
    check_row(r, why=False)
    assert r["m4"]["macs"] == r["macs"] and r["m4"]["instructions"] > r["macs"]
    text = md.read_text()
    assert "| tiny_cnn | cnn |" in text and res["summary"] in text
    assert _bench("--from-json", str(out)).stdout == text + "\n"


def test_why_groups_a_real_profile_by_layer_kind(tmp_path):
    """The why of a row comes from the measured profile: layer kinds read from the IR, their
    shares sum to one, their MACs to the model's, the text leads with the largest share."""
    import qcc
    from qcc.backends.c.profile import profile

    corpus_folder(tmp_path)
    d = tmp_path / "tiny_cnn"
    c_dir = str(tmp_path / "c")
    qcc.compile(str(d / "model.onnx"), calib=str(d / "calib.npz"), target="c", out_dir=c_dir, quiet=True)
    graph = corpus_why.load_graph(c_dir)
    sample = {"x": np.load(d / "test.npz")["x"][:1]}
    prof = profile(c_dir, sample, "host", 5)
    ex = corpus_why.explain(prof, graph, 0.01)
    gs = ex["groups"]
    kinds = {g["kind"] for g in gs}
    assert {"conv 3x3", "depthwise 3x3", "1x1 conv", "linear"} <= kinds
    assert sum(g["share"] for g in gs) == pytest.approx(1.0, abs=1e-3)
    assert sum(g["macs"] for g in gs) == prof["total"]["macs"] > 0
    assert [g["cost"] for g in gs] == sorted((g["cost"] for g in gs), reverse=True)
    dw = next(g for g in gs if g["kind"] == "depthwise 3x3")
    assert dw["macs"] == 8 * 12 * 12 * 9 and dw["planes"] == ["12x12", "12x12"]
    line = corpus_why.why(ex)
    assert line.startswith(f"{gs[0]['kind']} ") and line.endswith("goal 0.01 ns/MAC overall")


def _model_with(path, ops):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = ("w", np.ones((4, 4), np.float32))
    if ops == "attention":
        nodes = [helper.make_node("MatMul", ["x", "x"], ["y"])]
        _save(path, nodes, [x], [y])
    elif ops == "linear":
        _save(path, [helper.make_node("MatMul", ["x", "w"], ["y"])], [x], [y], [w])
    elif ops == "gru":
        nodes = [helper.make_node("GRU", ["x", "W", "R"], ["y"], hidden_size=2)]
        _save(path, nodes, [x], [y], [("W", np.ones((1, 6, 4), np.float32)), ("R", np.ones((1, 6, 2), np.float32))])


@pytest.mark.parametrize("ops,cls", [("attention", "transformer"), ("linear", "mlp"), ("gru", "recurrent")])
def test_model_class_from_the_graph(tmp_path, ops, cls):
    p = str(tmp_path / "m.onnx")
    _model_with(p, ops)
    assert corpus_speed.model_class(p) == cls


def test_model_class_of_a_cnn(tmp_path):
    tiny_cnn(str(tmp_path / "m.onnx"))
    assert corpus_speed.model_class(str(tmp_path / "m.onnx")) == "cnn"


@pytest.mark.parametrize("args,culprit", [(["--zoo", "/nonexistent/zoo"], "/nonexistent/zoo"),
                                          (["--models", "no_such_model"], "no_such_model")])
def test_bad_corpus_or_name_is_one_clear_line(tmp_path, args, culprit):
    corpus_folder(tmp_path / "zoo")
    p = _bench("--zoo", str(tmp_path / "zoo"), *args)
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and culprit in p.stderr


ZOO = corpus_speed.DEFAULT_ZOO


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(ZOO), reason=f"no corpus in {ZOO}: run tests/models/zoo/fetch.py")
def test_smallest_cached_cnn_and_transformer(tmp_path):
    """The bench over the cache: the smallest corpus CNN and transformer, every column."""
    picked = corpus_speed.corpus(ZOO, classes={"cnn", "transformer"})
    names = [next(os.path.basename(d) for d, c in picked if c == k) for k in ("cnn", "transformer")]
    out = tmp_path / "cs.json"
    p = _bench("--models", ",".join(names), "--budget", "2", "--rounds", "2", "--json", str(out),
               timeout=1800)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["model"] for r in rows] == names
    for r in rows:
        assert "error" not in r, r
        check_row(r)


def test_update_replaces_rows_of_the_same_models(tmp_path):
    """--update: the new rows take the place of the old ones of the same models, other rows
    stay, new models are appended, and the runs merged are listed in the rendered table."""
    def res(date, rows):
        return {"date": date, "command": "c", "qcc": date, "load_average_end": [1.0, 1.0, 1.0],
                "machine": {"cpu": "cpu", "cores_available": 2, "versions": {"gcc": "gcc", "onnxruntime": "1"}},
                "method": "m", "rows": rows}
    old = tmp_path / "old.json"
    old.write_text(json.dumps(res("d1", [{"model": "a", "class": "cnn", "error": "x"},
                                         {"model": "b", "class": "cnn", "error": "y"}])))
    got = corpus_speed.merge(str(old), res("d2", [{"model": "b", "class": "cnn", "error": "z"},
                                                  {"model": "c", "class": "mlp", "error": "w"}]))
    assert [(r["model"], r["error"]) for r in got["rows"]] == [("a", "x"), ("b", "z"), ("c", "w")]
    assert json.loads(old.read_text())["rows"] == got["rows"]
    assert [r["date"] for r in got["runs"]] == ["d1", "d2"]
    assert "runs d1 (qcc d1); d2 (qcc d2)" in corpus_speed.render(got)


def test_time_outside_the_steps_is_its_own_kind():
    """A median run longer than the sum of the steps' medians (a stall hitting a different
    step each run) shows as 'unattributed' with that difference, not spread over the layers."""
    prof = {"unit": "ns", "total": {"ns": 1000.0, "macs": 50},
            "layers": [{"node": "a", "op": "qcc.linear", "macs": 50, "ns": 150.0},
                       {"node": "b", "op": "qcc.softmax", "macs": 0, "ns": 50.0}]}
    gs = corpus_why.groups(prof, None)
    assert [(g["kind"], g["cost"], g["share"]) for g in gs] == [
        ("unattributed", 800.0, 0.8), ("linear", 150.0, 0.15), ("softmax", 50.0, 0.05)]
    assert corpus_why.why(corpus_why.explain(prof, None)).startswith("unattributed 80 % (median run")
    prof["total"]["ns"] = 204.0  # within 5 %: medians do not add up exactly, no such kind
    assert [g["kind"] for g in corpus_why.groups(prof, None)] == ["linear", "softmax"]


def test_update_with_arm_only_rows_keeps_the_host_columns(tmp_path):
    """An --arm-only row replaces only the Arm columns of the saved row; a failed new row
    leaves the saved one as it was, with the error beside it."""
    old = tmp_path / "old.json"
    base = {"date": "d1", "machine": {}, "rows": [
        {"model": "a", "class": "cnn", "host": {"best_us": {"qcc_native": 1.0}}, "ratio": {"x": 2.0},
         "why": {"x": {}}, "m4": {"insns_per_mac": 3.0}, "measured": "d1"},
        {"model": "b", "class": "cnn", "host": {}, "m4": {"insns_per_mac": 4.0}}]}
    old.write_text(json.dumps(base))
    got = corpus_speed.merge(str(old), {"date": "d2", "rows": [
        {"model": "a", "class": "cnn", "macs": 5, "m4": {"insns_per_mac": 2.0}, "arm_measured": "d2"},
        {"model": "b", "class": "cnn", "error": "compile: boom"}]})
    a, b = got["rows"]
    assert a == dict(base["rows"][0], m4={"insns_per_mac": 2.0}, arm_measured="d2")
    assert b == dict(base["rows"][1], update_error="compile: boom")


@pytest.mark.slow  # the Cortex-M4 columns of the same folder: test_smoke_on_a_tiny_corpus_folder
def test_arm_only_smoke_on_a_tiny_corpus_folder(tmp_path):
    """--arm-only: no host timing, the Cortex-M4 columns alone."""
    corpus_folder(tmp_path / "zoo")
    out = tmp_path / "cs.json"
    p = _bench("--zoo", str(tmp_path / "zoo"), "--arm-only", "--no-why", "--json", str(out))
    assert p.returncode == 0, p.stderr[-2000:]
    r, = json.loads(out.read_text())["rows"]
    assert "host" not in r and "ratio" not in r and "arm_measured" in r
    assert r["m4"]["insns_per_mac"] == pytest.approx(r["m4"]["instructions"] / r["macs"], abs=1e-3)
