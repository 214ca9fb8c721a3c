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
    assert "## Mixed-precision study" in md
    # the study module owns its columns: only check that our row and numbers are there
    row = next(ln for ln in md.splitlines() if ln.startswith("| m |") and "50.0%" in ln)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert "50.0%" in cells and "20.0" in cells and any(c.startswith("15.0") for c in cells)
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


def test_c_spread_phases_and_call_overhead(quick):
    r = quick[2]
    m = r["models"][0]
    c = m["latency"]["qcc_c"]
    if "median_us" in c:  # a spread over at least MIN_RUNS runner calls, never one number
        assert int(c["spread_of"].split()[0]) >= speed.MIN_RUNS
        assert c["min_us"] <= c["median_us"] <= c["max_us"]
    ph = m["phases_s"]
    assert {"accuracy", "onnxruntime latency", "C target", "per-layer error"} <= set(ph)
    assert sum(ph.values()) <= m["bench_seconds"] + 0.5
    o = r["ort_call_overhead"]["median_us"]
    assert 0 < o < m["latency"]["ort_fp32"]["median_us"]
    assert "call overhead" in (quick[0] / "report.md").read_text()
    net = m["speedup_minus_call_overhead"]
    for k, v in net.items():
        assert v <= m["speedup"][k] + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.floats(1, 1e6), st.floats(1, 1e6), st.floats(0, 100))
def test_ratios_without_call_overhead(ort_us, c_us, over):
    lat = {"ort_fp32": {"median_us": ort_us}, "qcc_c": {"median_us": c_us},
           "qcc_onnx": {"median_us": c_us}}
    raw, net = speed.ratios(lat), speed.ratios(lat, over)
    assert raw["ort_fp32/qcc_c"] == pytest.approx(ort_us / c_us, rel=1e-2, abs=1e-3)
    assert net["ort_fp32/qcc_c"] == pytest.approx(max(ort_us - over, 0) / c_us, rel=1e-2, abs=1e-3)
    assert net["ort_fp32/qcc_onnx"] == raw["ort_fp32/qcc_onnx"]  # both timed through Python


def test_size_limits_for_c_and_m4():
    from qcc.bench.ctarget import M4_FLASH_BYTES, m4_skip_reason, too_big_for_c

    st_ = {"c_max_weight_mib": 64.0}  # the limit is a setting, 32 by default
    assert too_big_for_c({"weight_bytes": 64 * 2**20}, st_) is None
    why = too_big_for_c({"weight_bytes": 137 * 2**20}, st_)
    assert why.startswith("not available: 137 MiB") and "--c-max-weight-mib 64" in why
    assert too_big_for_c({}, st_) is None  # unknown size: try the build
    assert m4_skip_reason({"weight_bytes": M4_FLASH_BYTES}) is None
    assert "do not fit a Cortex-M4" in m4_skip_reason({"weight_bytes": M4_FLASH_BYTES + 1})


def test_bad_c_limit_is_an_error(tmp_path):
    p = _qcc("bench", "digits_cnn", "--c-max-weight-mib", "0", "--out", tmp_path / "o", timeout=60)
    assert p.returncode == 2 and "--c-max-weight-mib 0" in p.stderr and "Traceback" not in p.stderr


def test_partial_reports_and_interrupt(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from qcc.bench import run as brun

    def fake_bench_one(m, targets, st_, work, log):
        if m.name == "b":
            raise KeyboardInterrupt
        return {"model": m.name, "latency": {"ort_fp32": speed.summarize([5.0, 6.0, 7.0])},
                "speedup": {}, "bench_seconds": 0.1}

    monkeypatch.setattr(brun, "bench_one", fake_bench_one)
    seen = []
    models = [SimpleNamespace(name=n) for n in ("a", "b", "c")]
    st_ = dict(brun.settings(SimpleNamespace(quick=True)), mixed_json=None, out=str(tmp_path))
    rep = brun.run(models, ["c"], st_,
                   log=open(os.devnull, "w"), on_model=lambda r: seen.append(list(r["pending"])))
    assert seen == [["b", "c"]]  # called after "a", with the rest still pending
    assert [r["model"] for r in rep["models"]] == ["a"]
    assert rep["interrupted"] == "interrupted during b: 1 of 3 models done"
    md = report.write_all(rep, str(tmp_path))
    assert "Partial report: interrupted during b" in md and "| a | 6 [5.5–6.5] |" in md


def test_summary_row_repeats_the_detailed_numbers(quick):
    out, _, r = quick
    m = r["models"][0]
    md = (out / "report.md").read_text()
    assert md.index("## Summary") < md.index("## Accuracy")
    row = next(ln for ln in md.split("## Summary")[1].splitlines() if ln.startswith("| digits_cnn |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    acc = m["accuracy"]
    assert cells[1] == f"{acc['qcc']['sqnr_db']:.1f} ({acc['qcc']['top1_pct']:.1f} %)"
    assert cells[2].startswith(f"{acc['ort_best']['sqnr_db']:.1f}")
    mem = m["memory"]
    assert cells[6] == f"{mem['weight_bytes'] / 1024:,.1f} / {mem['float_weight_bytes'] / 1024:,.1f}"
    if "median_us" in m["latency"].get("qcc_c", {}):
        assert cells[4] == f"{m['speedup']['ort_fp32/qcc_c']:.2f}x"
    assert "<h2>Summary</h2>" in (out / "report.html").read_text()



def test_python_dash_m_bench_from_the_repository_root():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for mod in ("bench", "qcc.bench"):  # the spelling and the installed package
        p = subprocess.run([sys.executable, "-m", mod, "--help"], cwd=root, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0 and "--targets" in p.stdout and "--c-max-weight-mib" in p.stdout, mod


def test_outlier_and_transformer_studies_are_rendered(tmp_path):
    """The JSON written by the other benchmark modules renders through their own tables."""
    outl = {"configs": ["int8"], "models": [
        {"model": "planted", "n_calib": 4, "n_test": 8, "float_rel_change": {"equalize": 0.0},
         "rows": [{"config": "int8", "sqnr_db": 21.5, "err_vs_w4g32": 1.0, "max_rel": 0.1,
                   "top1_agree_pct": 90.0, "top1_pct": None, "weight_bytes": 1000}]}]}
    tops = {"scales": [0.1], "published": {"softmax": "I-BERT"},
            "ops": {"softmax": {"0.1": {"max_abs": 0.01, "rms": 0.002}}},
            "residual": [{"block": "bert", "outliers": 10.0, "bits": 16, "min_cos": 0.99, "mean_cos": 0.995}]}
    doc = _fake_report({"ort_fp32": speed.summarize([5.0])})
    doc["studies"] = {"outliers": outl, "transformer_ops": tops}
    md = report.write_all(doc, str(tmp_path))
    assert "cannot render" not in md
    assert "## Outlier handling" in md and "| int8 | 21.50 |" in md
    assert "## Integer transformer ops" in md and "| bert | x10 | int16 |" in md
    html = (tmp_path / "report.html").read_text()
    assert "cannot render" not in html and "planted (calib 4, test 8)" in html and "###" not in html


def test_mixed_section_says_which_models_it_skips():
    doc = _fake_report({})
    doc["models"].append({"model": "light_x", "accuracy": {"model": "light_x", "synthetic": True}})
    doc["mixed"] = {"m": [{"label": "mixed 60%", "weight_bytes": 2048, "sqnr_db": 20.0,
                           "top1_pct": 90.0, "bits": {"8": 2, "4": 1}}]}
    md = report.mixed_section(doc)
    assert "| m | mixed 60% | 2.0 | 20.0 | 90.0 | 2x8-bit, 1x4-bit |" in md
    assert md.splitlines()[-1].startswith("Not run for light_x: synthetic weights")


def test_onnxruntime_best_and_the_summary_marks(quick):
    """--quick still tries onnxruntime's three calibrations on a model with real data; a
    row with one method, or whose float output is constant, is marked and explained."""
    r = quick[2]
    acc = r["models"][0]["accuracy"]
    assert {"ort_minmax", "ort_percentile", "ort_entropy"} <= set(acc)
    assert acc["ort_best"]["sqnr_db"] == max(acc[f"ort_{k}"]["sqnr_db"]
                                             for k in ("minmax", "percentile", "entropy"))
    assert r["models"][0]["float_output"]["input_dependent"] is True
    summary = (quick[0] / "report.md").read_text().split("## Summary")[1].split("## ")[0]
    assert report.ONE_METHOD not in summary and report.CONSTANT not in summary
    doc = _fake_report({})
    e = {"sqnr_db": 30.0, "max_abs": 0.1}
    doc["models"][0]["accuracy"] = {"model": "m", "ort_minmax": e, "ort_best": dict(e, method="minmax")}
    doc["models"][0]["float_output"] = {"samples": 4, "max_spread": 0.0, "input_dependent": False}
    md = report.markdown(doc)
    assert f"| m {report.CONSTANT} | n/a | 30.0 {report.ONE_METHOD} |" in md
    assert f"\n{report.ONE_METHOD} onnxruntime calibrated with MinMax only" in md
    assert f"\n{report.CONSTANT} the float model's output is the same" in md
    assert "The float output of m is the same for every test input" in md


def test_output_spread_detects_an_input_independent_model(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from qcc.bench.models import BenchModel
    from qcc.bench.run import output_spread

    c = helper.make_tensor("c", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    z = helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])
    g = helper.make_graph([helper.make_node("Mul", ["x", "z"], ["x0"]),
                           helper.make_node("Add", ["x0", "c"], ["const"]),
                           helper.make_node("Add", ["x", "c"], ["varies"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                          [helper.make_tensor_value_info("const", TensorProto.FLOAT, [1, 3]),
                           helper.make_tensor_value_info("varies", TensorProto.FLOAT, [1, 3])],
                          [c, z])
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = {"x": np.random.default_rng(0).random((4, 3), dtype=np.float32)}
    m = BenchModel(name="m", path=path, calib=x, test=x, output="const")
    assert output_spread(m) == {"samples": 4, "max_spread": 0.0, "input_dependent": False}
    m.output = "varies"
    s = output_spread(m)
    assert s["input_dependent"] is True and 0 < s["max_spread"] < 1


def test_default_set_is_every_example_then_light_models(monkeypatch):
    """An example added to examples/ joins the default set without editing the zoo."""
    from qcc.bench import materialize as mat
    from qcc.bench import run as brun
    from qcc.bench.models import EXAMPLES, LIGHT_MODELS

    monkeypatch.setattr(mat, "materialized_path", lambda path, name: path)
    names = [m.name for m in brun.select_models([], quick=True)]
    examples = sorted(d for d in os.listdir(EXAMPLES) if os.path.isfile(f"{EXAMPLES}/{d}/meta.json"))
    assert sorted(names[:len(examples)]) == examples and len(set(names)) == len(names)
    assert names[len(examples):] == [f"light_{n}" for n in LIGHT_MODELS[:3]]


def test_report_with_infinite_sqnr_renders_again_from_its_json(tmp_path):
    """report.json spells inf as "inf" (JSON has none); rendering it again gives the same files."""
    doc = _fake_report({"ort_fp32": speed.summarize([5.0])})
    perfect = {"sqnr_db": float("inf"), "max_abs": 0.0}
    doc["models"][0]["accuracy"] = {"model": "m", "qcc": dict(perfect), "ort_minmax": dict(perfect),
                                    "ort_best": dict(perfect, method="minmax")}
    md = report.write_all(doc, str(tmp_path / "a"))
    assert "| m | inf | inf ¹ |" in md
    back = json.loads((tmp_path / "a" / "report.json").read_text())
    assert back["models"][0]["accuracy"]["qcc"]["sqnr_db"] == "inf"
    assert report.write_all(back, str(tmp_path / "b")) == md
    assert (tmp_path / "b" / "report.html").read_text() == (tmp_path / "a" / "report.html").read_text()
