"""The assign-bits pass: small IR built here and the digits CNN through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest
from mp_testlib import DIGITS, calib_for, fused_graph, small_cnn

from qcc.errors import BudgetError
from qcc.mixed_precision.ilp import random_assignment
from qcc.mixed_precision.plan import build, first_samples, omega_of
from qcc.passmanager import get_pass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_error, assert_ok, qcc_inproc  # noqa: E402


def run_pass(tmp_path, **options):
    m = small_cnn()
    calib = calib_for(m)
    graph, ctx = fused_graph(m, calib, weight_bits="mixed", sensitivity_cache=str(tmp_path), **options)
    get_pass("assign-bits").fn(graph, ctx)
    return graph, ctx


def test_noop_without_mixed(tmp_path):
    m = small_cnn()
    graph, ctx = fused_graph(m, calib_for(m))
    assert get_pass("assign-bits").fn(graph, ctx) is False
    assert ctx.analysis("layer_bits") is None and "assign-bits" not in ctx.report
    graph, ctx = fused_graph(m, calib_for(m), size_budget="60%")
    with pytest.raises(BudgetError, match="--size-budget only applies with --weight-bits mixed"):
        get_pass("assign-bits").fn(graph, ctx)


@pytest.mark.parametrize("budget", ["60%", "70%", "90%"])
def test_budget_pins_and_ties_respected(tmp_path, budget):
    graph, ctx = run_pass(tmp_path, size_budget=budget)
    rep = ctx.report["assign-bits"]
    bits = ctx.analysis("layer_bits")
    assert "layer_bits" not in ctx.options  # a result goes to the analyses, never into the options
    assert set(bits) == {"conv_a", "conv_b", "conv_c", "fc_bias"}
    assert bits["conv_a"] == 8 and bits["fc_bias"] == 8  # first and last layer pinned
    assert bits["conv_b"] == bits["conv_c"]  # they read the same input
    total = sum(r["bytes"] for r in rep["layers"])
    assert total == rep["totals"]["size"] <= rep["budgets"]["size"]
    assert rep["budgets"]["size"] == pytest.approx(float(budget[:-1]) / 100 * rep["int8_totals"]["size"])
    assert {r["layer"]: r["bits"] for r in rep["layers"]} == bits


def test_keep_8bit_pattern_and_none(tmp_path):
    _, ctx = run_pass(tmp_path, size_budget="80%", keep_8bit=["none"], tie_shared_inputs=False)
    free = ctx.analysis("layer_bits")
    assert min(free.values()) < 8  # without pins some layer drops below 8
    _, ctx = run_pass(tmp_path, size_budget="80%", keep_8bit=["none", "conv_[bc]"],
                      tie_shared_inputs=False)
    assert ctx.analysis("layer_bits")["conv_b"] == ctx.analysis("layer_bits")["conv_c"] == 8
    with pytest.raises(BudgetError, match=r"--keep-8bit 'nope\*' matches no quantizable layer.*conv_a"):
        run_pass(tmp_path, size_budget="80%", keep_8bit=["nope*"])


def test_infeasible_budget_message(tmp_path):
    with pytest.raises(BudgetError) as e:
        run_pass(tmp_path, size_budget="20%")
    msg = str(e.value)
    assert "size budget" in msg and "smallest feasible" in msg and "bytes" in msg
    floor = int(msg.split("smallest feasible ")[1].split(" ")[0].replace(",", ""))
    _, ctx = run_pass(tmp_path, size_budget=str(floor))  # the reported value works
    assert ctx.report["assign-bits"]["totals"]["size"] <= floor


def test_budget_errors(tmp_path):
    with pytest.raises(BudgetError, match="needs a budget"):
        run_pass(tmp_path)
    with pytest.raises(BudgetError, match="--bops-budget 'lots' is not a number"):
        run_pass(tmp_path, bops_budget="lots")
    _, ctx = run_pass(tmp_path, bops_budget="60%", latency_budget="150%")
    rep = ctx.report["assign-bits"]
    assert rep["totals"]["bops"] <= 0.6 * rep["int8_totals"]["bops"] * (1 + 1e-9)
    assert rep["totals"]["latency"] <= 1.5 * rep["int8_totals"]["latency"] * (1 + 1e-9)
    # on the C target's model narrow weights cost cycles (unpacking): both at once fail
    with pytest.raises(BudgetError, match="latency budget .* smallest feasible .* cycles"):
        run_pass(tmp_path, bops_budget="60%", latency_budget="101%")


def test_ilp_beats_random_on_objective(tmp_path):
    m = small_cnn()
    calib = calib_for(m)
    graph, _ = fused_graph(m, calib)
    opts = {"size_budget": "65%", "sensitivity_cache": str(tmp_path), "target": "c"}
    plan = build(graph, first_samples(graph, calib, 8), opts)
    from qcc.mixed_precision.ilp import solve

    sol = solve(plan.problem)
    rng = np.random.default_rng(0)
    rand = [random_assignment(plan.problem, "size", plan.problem.budgets["size"], rng) for _ in range(20)]
    assert all(r.totals["size"] <= plan.problem.budgets["size"] for r in rand)
    assert sol.objective <= min(omega_of(plan.problem, r.bits) for r in rand) + 1e-15


# -- the digits CNN through the command line ------------------------------------------------------
def test_digits_cli_table_and_manifest(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    args = [os.path.join(DIGITS, "digits_cnn.onnx"), "--calib", os.path.join(DIGITS, "calib.npz"),
            "--target", "onnx", "-o", str(out), "--quiet", "--weight-bits", "mixed",
            "--size-budget", "60%"]
    p = qcc_inproc(capsys, "compile", *args)
    assert_ok(p)
    assert "mixed precision (kl sensitivity, output, cache miss; widths 4/8 auto)" in p.stderr
    assert "size budget" in p.stderr and "% of int8" in p.stderr
    man = json.load(open(out / "manifest.json"))
    rep = man["passes"]["assign-bits"]
    chosen = {r["layer"]: r["bits"] for r in rep["layers"]}
    assert set(chosen.values()) <= {2, 4, 8} and min(chosen.values()) < 8
    assert {r["node"]: r["bits"] for r in man["passes"]["quantize"]["layers"]} == chosen
    assert all(k in rep["layers"][0] for k in ("bits", "sensitivity", "bytes", "bops"))
    assert rep["totals"]["size"] <= 0.6 * rep["int8_totals"]["size"]
    q = man["quantization"]
    for r in man["passes"]["quantize"]["layers"]:
        assert q[r["weight"]]["bits"] == chosen[r["node"]]
    # a second compile with another budget re-uses the measured sensitivities
    p = qcc_inproc(capsys, "compile", *args[:-1], "75%")
    assert_ok(p)
    assert "cache hit" in p.stderr
    # an impossible budget: one line, exit 2, the smallest feasible size
    p = qcc_inproc(capsys, "compile", *args[:-1], "10%")
    assert_error(p, "size budget", "smallest feasible", "bytes")


def test_auto_widths_prefer_4_and_8(tmp_path):
    """auto: the {4, 8} ILP's answer just above the 4/8 floor (the joint check, tested
    in test_mp_joint.py, does not prefer 2/4/8 there), all measured widths below the
    floor; an explicit --mixed-bits is obeyed."""
    m = small_cnn()
    calib = calib_for(m)
    graph, _ = fused_graph(m, calib)
    from qcc.mixed_precision.ilp import min_cost, restrict, solve
    from qcc.mixed_precision.plan import solve_plan

    opts = {"sensitivity_cache": str(tmp_path), "target": "c", "keep_8bit": ["none"],
            "tie_shared_inputs": False}
    plan = build(graph, first_samples(graph, calib, 8), dict(opts, size_budget="100%"))
    p = plan.problem
    floor48, floor = min_cost(restrict(p, (4, 8)), "size"), min_cost(p, "size")
    assert floor < floor48
    for budget, want in ((floor48 + 1, (4, 8)), (floor48 - 1, (2, 4, 8))):
        plan = build(graph, first_samples(graph, calib, 8), dict(opts, size_budget=str(int(budget))))
        sol = solve_plan(plan)
        assert plan.used_bits == want and set(sol.bits) <= set(want)
        assert sol.objective == pytest.approx(solve(restrict(plan.problem, want)).objective)
        assert sol.totals["size"] <= budget
    assert 2 in sol.bits  # below the 4/8 floor some layer must drop to 2 bits
    plan = build(graph, first_samples(graph, calib, 8), dict(opts, size_budget=str(int(floor48 + 1)),
                                                             mixed_bits="2,4,8"))
    assert not plan.auto and solve_plan(plan).objective <= sol.objective + 1e-15
    for bad in ("4", "3,8", "x"):
        with pytest.raises(BudgetError, match=f"--mixed-bits '{bad}'"):
            build(graph, first_samples(graph, calib, 8), dict(opts, size_budget="90%", mixed_bits=bad))


def test_mixed_bits_needs_mixed(tmp_path):
    m = small_cnn()
    graph, ctx = fused_graph(m, calib_for(m), mixed_bits="4,8")
    with pytest.raises(BudgetError, match="--mixed-bits only applies with --weight-bits mixed"):
        get_pass("assign-bits").fn(graph, ctx)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc for the C runner")
def test_digits_c_target_honours_layer_bits(tmp_path, capsys, monkeypatch):
    """--target c with mixed widths (a budget below the 4/8 floor, so int2 and int4
    layers): the C runner's outputs equal the interpreter's bit for bit."""
    from qcc.commands import run_artifact

    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "c"
    p = qcc_inproc(capsys, "compile", os.path.join(DIGITS, "digits_cnn.onnx"), "--calib",
                   os.path.join(DIGITS, "calib.npz"), "--target", "c", "-o", str(out), "--quiet",
                   "--weight-bits", "mixed", "--size-budget", "45%")
    assert_ok(p)
    assert "widths 2/4/8 auto" in p.stderr
    man = json.load(open(out / "manifest.json"))
    bits = {r["node"]: r["bits"] for r in man["passes"]["quantize"]["layers"]}
    assert bits == {r["layer"]: r["bits"] for r in man["passes"]["assign-bits"]["layers"]}
    assert 2 in bits.values() and 8 in bits.values()
    x = np.load(os.path.join(DIGITS, "test.npz"))["input"][:4]
    ref = run_artifact(str(out), {"input": x}, "reference")
    got = run_artifact(str(out), {"input": x}, "target")
    assert all(np.array_equal(ref[k], got[k]) for k in ref)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc for the C runner")
def test_mobilenet_c_target_mixed_bit_exact(tmp_path, capsys, monkeypatch):
    """mobilenet_small (depthwise and pointwise convs) at 58% of int8: the auto widths
    keep int2, int4 and int8 layers, and the C runner equals the interpreter."""
    from qcc.commands import run_artifact

    ex = os.path.join(os.path.dirname(DIGITS), "mobilenet_small")
    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "c"
    p = qcc_inproc(capsys, "compile", os.path.join(ex, "mobilenet_small.onnx"), "--calib",
                   os.path.join(ex, "calib.npz"), "--target", "c", "-o", str(out), "--quiet",
                   "--weight-bits", "mixed", "--size-budget", "58%")
    assert_ok(p)
    man = json.load(open(out / "manifest.json"))
    rep = man["passes"]["assign-bits"]
    assert rep["totals"]["size"] <= 0.58 * rep["int8_totals"]["size"]
    bits = {r["node"]: r["bits"] for r in man["passes"]["quantize"]["layers"]}
    assert bits == {r["layer"]: r["bits"] for r in rep["layers"]} and set(bits.values()) == {2, 4, 8}
    x = np.load(os.path.join(ex, "test.npz"))["input"][:8]
    ref = run_artifact(str(out), {"input": x}, "reference")
    got = run_artifact(str(out), {"input": x}, "target")
    assert all(np.array_equal(ref[k], got[k]) for k in ref)
