"""Measured latency tables (--latency-table): parsing, use in the ILP, the CLI, and
the host measurement with qcc's C kernels."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest
from mp_testlib import DIGITS, calib_for, fused_graph, small_cnn

from qcc.errors import BudgetError
from qcc.mixed_precision.latency import load_latency_table
from qcc.mixed_precision.plan import build, first_samples, solve_plan
from qcc.passmanager import get_pass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_error, assert_ok, qcc_inproc  # noqa: E402

LAYERS = ["conv_a", "conv_b", "conv_c", "fc_bias"]


def write(tmp_path, d, name="lat.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(d) if not isinstance(d, str) else d)
    return str(p)


def plan_with(tmp_path, table, **opts):
    m = small_cnn()
    calib = calib_for(m)
    graph, _ = fused_graph(m, calib)
    o = {"sensitivity_cache": str(tmp_path / "cache"), "target": "c", "latency_table": table,
         "keep_8bit": ["none"], "tie_shared_inputs": False, **opts}
    return build(graph, first_samples(graph, calib, 4), o)


def test_table_replaces_model_and_mac_fills_the_rest(tmp_path):
    # conv_b is fast at 4 bits on this "device"; the others follow measured constants
    t = write(tmp_path, {"unit": "us", "layers": {"conv_b": {"8": 10, "4": 4, "2": 9}},
                         "mac": {"8": 0.001, "4": 0.002, "2": 0.003}, "layer": 1.5})
    plan = plan_with(tmp_path, t, latency_budget="100%")
    p = plan.problem
    lat = p.costs["latency"]
    assert list(lat[1]) == [9.0, 4.0, 10.0]  # bits (2, 4, 8)
    macs = {lay.name: lay.macs for lay in plan.layers}
    assert lat[0, 2] == pytest.approx(macs["conv_a"] * 0.001 + 1.5)  # byte defaults to 0
    assert lat[0, 0] == pytest.approx(macs["conv_a"] * 0.003 + 1.5)
    assert p.units["latency"] == "us"
    # the only way under 100% of int8 latency is conv_b narrower, and 4 bits is fastest
    p.budgets = {"latency": float(lat[:, 2].sum()) - 5.0}
    sol = solve_plan(plan)
    assert sol.bits[1] == 4 and sol.totals["latency"] <= p.budgets["latency"]


def test_per_layer_only_table_needs_every_layer(tmp_path):
    full = {n: {"8": 3, "4": 2, "2": 1} for n in LAYERS}
    plan = plan_with(tmp_path, write(tmp_path, {"layers": full}), latency_budget="60%")
    assert plan.problem.units["latency"] == "cycles"
    sol = solve_plan(plan)
    assert sol.totals["latency"] <= 0.6 * 12 + 1e-9
    part = {"layers": {n: full[n] for n in LAYERS[:2]}}
    with pytest.raises(BudgetError, match="no time for layer 'conv_c' at 2 bits, and no 'mac' model"):
        plan_with(tmp_path, write(tmp_path, part), latency_budget="60%")


@pytest.mark.parametrize("content, needle", [
    ("{nope", "is not valid JSON"),
    ({"unit": "us"}, "needs a 'layers' table and/or 'mac' constants"),
    ({"mac": {"8": 1, "4": 1}}, "'mac' has no entry for 2 bits"),
    ({"mac": {"8": 1, "4": 1, "3": 1, "2": 1}}, "width '3'"),
    ({"layers": {"conv_a": {"8": -1}}}, "must be a non-negative number"),
    ({"layers": {"conv_a": {"8": "fast"}}}, "must be a non-negative number"),
    ({"layers": {"conv_a": [1, 2]}}, "must map widths to times"),
    ({"mac": {"8": 1, "4": 1, "2": 1}, "macs": 3}, "unknown key 'macs'"),
])
def test_bad_tables_are_clear_errors(tmp_path, content, needle):
    with pytest.raises(BudgetError, match="--latency-table '.*lat.json'") as e:
        load_latency_table(write(tmp_path, content))
    assert needle in str(e.value)
    with pytest.raises(BudgetError, match="does not exist"):
        load_latency_table(str(tmp_path / "missing.json"))


def test_unknown_layer_is_named(tmp_path):
    t = write(tmp_path, {"layers": {"conv_z": {"8": 1, "4": 1, "2": 1}}, "mac": {"8": 1, "4": 1, "2": 1}})
    with pytest.raises(BudgetError, match="layer 'conv_z' is not a quantizable layer.*'conv_a'"):
        plan_with(tmp_path, t, latency_budget="90%")


def test_table_needs_mixed(tmp_path):
    m = small_cnn()
    graph, ctx = fused_graph(m, calib_for(m), latency_table=write(tmp_path, {"mac": {}}))
    with pytest.raises(BudgetError, match="--latency-table only applies with --weight-bits mixed"):
        get_pass("assign-bits").fn(graph, ctx)


def test_digits_cli_with_table(tmp_path, capsys, monkeypatch):
    """A measured table where 4-bit conv2 (folded with bn2) is faster: a latency budget under int8 is met
    by narrowing it; the table's unit is in the printed table and the manifest."""
    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "cache"))
    t = write(tmp_path, {"unit": "us", "layers": {"/conv2/Conv": {"8": 5, "4": 3, "2": 2.5}},
                         "mac": {"8": 1e-5, "4": 2e-5, "2": 3e-5}, "layer": 0.2})
    args = [os.path.join(DIGITS, "digits_cnn.onnx"), "--calib", os.path.join(DIGITS, "calib.npz"),
            "--target", "onnx", "-o", str(tmp_path / "o"), "--weight-bits", "mixed",
            "--latency-table", t]
    p = qcc_inproc(capsys, "compile", *args, "--latency-budget", "90%")
    assert_ok(p)
    assert "latency budget" in p.stderr and " us:" in p.stderr
    rep = json.load(open(tmp_path / "o" / "manifest.json"))["passes"]["assign-bits"]
    bits = {r["layer"]: r["bits"] for r in rep["layers"]}
    assert bits["/conv2/Conv"] == 4 and rep["units"]["latency"] == "us"
    assert rep["totals"]["latency"] <= 0.9 * rep["int8_totals"]["latency"]
    assert "measured table" in rep["latency_model"]
    p = qcc_inproc(capsys, "compile", *args, "--latency-budget", "50%")
    assert_error(p, "latency budget", "smallest feasible", " us ")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None, reason="needs gcc")
def test_measure_c_host_small_cnn(tmp_path):
    """The host measurement builds 2L+1 runners; the table loads and covers every layer."""
    from qcc.bench.latency_table import main

    m = small_cnn()
    import onnx

    onnx.save(m, str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "calib.npz", **calib_for(m, n=4))
    out = tmp_path / "t.json"
    assert main([str(tmp_path / "m.onnx"), "--calib", str(tmp_path / "calib.npz"), "-o", str(out),
                 "--runs", "20", "--rounds", "1"]) == 0
    t = load_latency_table(str(out))
    assert t.unit == "us" and set(t.layers) == set(LAYERS)
    assert all(set(v) == {2, 4, 8} and min(v.values()) >= 0 for v in t.layers.values())
    plan = plan_with(tmp_path, str(out), latency_budget="150%")
    assert plan.problem.costs["latency"].shape == (4, 3)
