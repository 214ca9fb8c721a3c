"""``qcc bench``: the report files, their keys and the sanity of the numbers; CLI errors.

The end-to-end run uses the smallest model (digits_cnn) with --quick; it takes
a few seconds.  Timing *values* are never asserted against targets here (that
is what the benchmark itself is for), only their internal consistency.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.bench import plots, report, speed

ENGINES = ("ort_fp32", "ort_int8", "qcc_onnx", "qcc_c")


def _qcc(*args, timeout=120):
    exe = shutil.which("qcc")
    assert exe, "the qcc console script is not on PATH (pip install -e .)"
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "out"
    p = _qcc("bench", "digits_cnn", "--quick", "--runs", "5", "--out", out)
    assert p.returncode == 0, f"rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    assert "Traceback" not in p.stderr
    with open(out / "report.json") as f:
        return out, p, json.load(f)


def test_quick_run_writes_three_reports(quick):
    out, p, _ = quick
    for name in ("report.md", "report.json", "report.html"):
        assert (out / name).stat().st_size > 500, name
    md = (out / "report.md").read_text()
    assert md.strip() == p.stdout.strip()  # stdout is the Markdown report
    for section in ("## Accuracy", "## Latency", "## Compile time", "## Memory"):
        assert section in md
    assert "| digits_cnn |" in md
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3 and "<script" not in html  # latency, Pareto, per-layer
    assert "digits_cnn" in html and "<table>" in html


def test_machine_and_versions_recorded(quick):
    r = quick[2]
    assert r["date"].endswith("UTC")
    mc = r["machine"]
    assert mc["cpu"] and mc["cores"] >= 1
    for k in ("python", "numpy", "onnx", "onnxruntime"):
        assert mc["versions"][k], k
    assert r["settings"]["threads"] == 1 and r["settings"]["quick"] is True
    assert r["settings"]["runs"] == 5


def test_latencies_positive_and_ordered(quick):
    m = quick[2]["models"][0]
    lat = m["latency"]
    for k in ("ort_fp32", "ort_int8", "qcc_onnx"):
        d = lat[k]
        assert 0 < d["min_us"] <= d["q1_us"] <= d["median_us"] <= d["q3_us"] <= d["max_us"], k
        assert speed.MIN_RUNS <= d["runs"] <= 5 or k == "qcc_c"
    c = lat["qcc_c"]
    assert "median_us" in c or c["error"].startswith("not available")


def test_ratios_consistent_with_latencies(quick):
    m = quick[2]["models"][0]
    lat, sp = m["latency"], m["speedup"]
    assert sp, "at least the qcc ONNX ratios are there"
    for key, v in sp.items():
        base, mine = key.split("/")
        assert v == pytest.approx(lat[base]["median_us"] / lat[mine]["median_us"], rel=1e-2)


def test_accuracy_in_range(quick):
    acc = quick[2]["models"][0]["accuracy"]
    for key in ("qcc", "ort_minmax", "ort_best"):
        a = acc[key]
        assert 0 <= a["top1_pct"] <= 100 and 0 <= a["top1_agree_pct"] <= 100
        assert 10 < a["sqnr_db"] < 100  # int8 of a small CNN: tens of dB, not perfect
    assert acc["qcc"]["top1_pct"] >= 95  # float top-1 is 98.9 %


def test_compile_memory_and_layers(quick):
    m = quick[2]["models"][0]
    c = m["compile_s"]
    parts = [c[k] for k in ("import", "calibration", "passes", "codegen")]
    assert all(x >= 0 for x in parts) and c["import"] > 0
    assert c["total"] == pytest.approx(sum(v for k, v in c.items()
                                           if k not in ("target", "total")), abs=2e-3)
    mem = m["memory"]
    assert 0 < mem["weight_bytes"] < 0.5 * mem["float_weight_bytes"]  # int8 + int32 bias
    if "arena_bytes" in mem:
        assert mem["arena_bytes"] >= mem["arena_lower_bound"] > 0
        assert mem["c_bit_exact"] is True
    layers = m["layers"]
    assert len(layers) >= 5 and all(L["act_bits"] == 8 for L in layers)
    assert sum(L["weight_bits"] == 8 for L in layers) == 5  # 4 conv + 1 linear
    assert all(L["sqnr_db"] > 15 for L in layers)


def test_mixed_precision_point_is_smaller(quick):
    m = quick[2]["models"][0]
    pts = {p["label"]: p for p in m["mixed"]}
    p = pts["mixed 60%"]
    assert "error" not in p, p
    assert p["weight_bytes"] < m["memory"]["weight_bytes"]
    assert sum(p["bits"].values()) == 5 and p["bits"].get("8", 0) >= 2  # first/last pinned
    assert 0 <= p["top1_pct"] <= 100 and p["sqnr_db"] < m["accuracy"]["qcc"]["sqnr_db"]
    low = [L for L in m["layers_mixed"] if L["weight_bits"] in (2, 4)]
    assert low, "the 60 % budget puts some layers below 8 bits"
    assert quick[2]["mixed"]["digits_cnn"] == m["mixed"]


def test_bad_model_name_is_a_clear_error(tmp_path):
    out = tmp_path / "o"
    p = _qcc("bench", "no_such_model", "--quick", "--out", out, timeout=60)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qcc: error: ")
    assert "'no_such_model'" in lines[0] and "digits_cnn" in lines[0]
    assert not out.exists()


def test_module_entry_point_same_errors(tmp_path):
    p = subprocess.run([sys.executable, "-m", "qcc.bench", "digits_cnn", "--targets", "gpu",
                        "--out", tmp_path / "o"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "--targets 'gpu'" in p.stderr and "c, onnx" in p.stderr
    assert "Traceback" not in p.stderr


def _fake_report(lat: dict) -> dict:
    return {"date": "2026-01-01 00:00 UTC", "settings": {"warmup": 1, "runs": 3, "quick": True},
            "machine": {"cpu": "cpu", "cores": 2, "cores_available": 2, "machine": "x86_64",
                        "platform": "Linux", "versions": {"python": "3", "numpy": "2", "onnx": "1",
                                                          "onnxruntime": "1", "gcc": None}},
            "models": [{"model": "m", "latency": lat, "speedup": speed.ratios(lat),
                        "accuracy": {"model": "m", "qcc": {"error": "boom"}},
                        "compile_s": {"error": "not available: qcc did not compile"},
                        "memory": {"c": "not available: C compile failed: X"}, "layers": []}]}


def test_report_survives_missing_pieces(tmp_path):
    lat = {"ort_fp32": speed.summarize([10.0, 12.0, 11.0]),
           "qcc_c": {"error": "not available: no C backend"}}
    md = report.write_all(_fake_report(lat), str(tmp_path))
    assert "n/a" in md and "no C backend" in md and "C compile failed" in md
    row = next(line for line in md.splitlines() if line.startswith("| m | 11"))
    assert row.count("n/a") >= 4  # ORT int8, qcc C, qcc ONNX and both ratios
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["models"][0]["latency"]["ort_fp32"]["median_us"] == 11.0
    assert "<svg" in (tmp_path / "report.html").read_text()


def test_report_json_round_trips_through_the_writers(quick, tmp_path):
    """report.json holds everything: re-rendering it gives the same Markdown."""
    out, _, doc = quick
    md = report.write_all(doc, str(tmp_path))
    assert md == (out / "report.md").read_text()
    assert (tmp_path / "report.html").read_text() == (out / "report.html").read_text()


def test_mixed_precision_study_is_included(tmp_path):
    study = {"what": "weight-only study", "results": [{"model": "m", "budgets": [
        {"budget_pct": 50.0, "budget_bytes": 500,
         "ilp": {"bits": [8, 4, 2, 8], "bytes": 480, "sqnr_db": 20.0, "kl": 0.01, "top1_pct": 90.0},
         "uniform": {"bits": [8, 4, 4, 8], "bytes": 500, "sqnr_db": 15.0, "kl": 0.02, "top1_pct": 85.0},
         "random_median": {"bytes": 490.0, "sqnr_db": 5.0, "kl": 0.5, "top1_pct": 40.0}}]}]}
    doc = _fake_report({"ort_fp32": speed.summarize([5.0])})
    doc["studies"] = {"mixed_precision": study}
    md = report.write_all(doc, str(tmp_path))
    assert "## Mixed-precision study" in md and "| m | 50.0% | 20.0 |" in md
    html = (tmp_path / "report.html").read_text()
    assert "ILP weight bits per layer" in html and html.count('class="s-bits2"') == 1


def test_missing_mixed_json_is_an_error(tmp_path):
    p = _qcc("bench", "digits_cnn", "--mixed-json", tmp_path / "nope.json", "--out", tmp_path / "o",
             timeout=60)
    assert p.returncode == 2 and "nope.json" in p.stderr and "does not exist" in p.stderr


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.1, 1e7), min_size=1, max_size=40))
def test_summarize_orders_statistics(xs):
    s = speed.summarize(xs)
    assert s["runs"] == len(xs)
    tol = 0.01  # two-decimal rounding
    assert s["min_us"] - tol <= s["q1_us"] <= s["median_us"] + tol
    assert s["median_us"] <= s["q3_us"] + tol <= s["max_us"] + 2 * tol
    assert s["min_us"] == pytest.approx(min(xs), abs=tol) and s["max_us"] == pytest.approx(max(xs), abs=tol)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 1000), st.integers(0, 60)), min_size=1, max_size=12))
def test_pareto_front_is_exactly_the_undominated_points(pairs):
    pts = [{"size": float(s), "db": float(d)} for s, d in pairs]
    fr = plots.front(pts)

    def dominated(p):
        return any((q["size"] <= p["size"] and q["db"] >= p["db"])
                   and (q["size"] < p["size"] or q["db"] > p["db"]) for q in pts)

    assert all(not dominated(p) for p in fr)
    undominated = {(p["size"], p["db"]) for p in pts if not dominated(p)}
    assert {(p["size"], p["db"]) for p in fr} == undominated
    assert [p["size"] for p in fr] == sorted(p["size"] for p in fr)


def test_latency_plot_geometry_is_inside_the_figure():
    lat = {k: speed.summarize([v, v * 1.1, v * 0.9]) for k, v in
           zip(ENGINES, (50.0, 80.0, 70.0, 5000.0))}
    fig = plots.latency_figure([{"model": "a", "latency": lat}])
    assert len(fig["bars"]) == 4
    widths = {b["tip"].split(":")[0]: b["w"] for b in fig["bars"]}
    assert widths["a qcc C"] > widths["a ORT int8"] > widths["a qcc ONNX"] > widths["a ORT fp32"] > 0
    for b in fig["bars"]:
        assert 0 <= b["x"] and b["x"] + b["w"] <= fig["w"] and b["y"] + b["h"] <= fig["h"]
    for w in fig["whiskers"]:
        assert w["x1"] <= w["x2"] <= fig["w"]
    assert all(not math.isnan(t["pos"]) for t in fig["xticks"])


def test_bench_help_lists_options():
    p = _qcc("bench", "--help", timeout=60)
    assert p.returncode == 0
    for opt in ("--targets", "--out", "--quick", "--runs"):
        assert opt in p.stdout
    assert os.path.basename(shutil.which("qcc") or "") == "qcc"
