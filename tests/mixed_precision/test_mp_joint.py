"""The joint output change of a whole assignment, and the automatic width choice
that compares the 4/8 and 2/4/8 ILP answers by it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mp_testlib import calib_for, fused_graph, small_cnn

from qcc.mixed_precision.ilp import min_cost, restrict, solve
from qcc.mixed_precision.joint import JointMeter
from qcc.mixed_precision.plan import (JOINT_MARGIN, build, first_samples, format_table, solve_plan,
                                      summary, table)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    m = small_cnn()
    calib = calib_for(m)
    graph, _ = fused_graph(m, calib)
    return graph, first_samples(graph, calib, 8), tmp_path_factory.mktemp("cache")


def plan_at(setup, budget, **opts):
    graph, samples, cache = setup
    o = {"sensitivity_cache": str(cache), "target": "c", "keep_8bit": ["none"],
         "tie_shared_inputs": False, "size_budget": str(budget), **opts}
    return build(graph, samples, o)


def test_one_layer_assignment_equals_its_sensitivity(setup):
    """With only layer l quantized (the rest float) the joint change is exactly l's
    sensitivity (the same measurement); quantizing narrower changes the output more."""
    graph, samples, _ = setup
    plan = plan_at(setup, "100%")
    p = plan.problem
    meter = JointMeter(graph, plan.layers, samples, plan.sens_info["metric"])
    n = len(plan.layers)
    for i in range(n):
        for j, b in enumerate(p.bits):
            bits = [None] * n  # the rest float, as in the sensitivity measurement
            bits[i] = b
            assert meter.divergence(bits) == pytest.approx(p.omega[i, j], rel=1e-6, abs=1e-12)
    assert meter.divergence([2] * n) > meter.divergence([4] * n) > meter.divergence([8] * n)


def test_auto_keeps_the_answer_with_smaller_joint_change(setup):
    graph, samples, cache = setup
    p = plan_at(setup, "100%").problem
    lo, hi = min_cost(restrict(p, (4, 8)), "size"), float(p.costs["size"][:, -1].sum())
    checked = 0
    for budget in np.linspace(lo, hi, 12)[:-1]:
        plan = plan_at(setup, int(budget))
        sol = solve_plan(plan)
        first, full = solve(restrict(plan.problem, (4, 8))), solve(plan.problem)
        if first.bits == full.bits:
            assert plan.used_bits == (4, 8) and sol.bits == first.bits and not plan.auto_check
            continue
        checked += 1
        fresh = JointMeter(graph, plan.layers, samples, plan.sens_info["metric"])
        d48, d248 = fresh.divergence(first.bits), fresh.divergence(full.bits)
        assert plan.auto_check == pytest.approx({"4/8": d48, "2/4/8": d248})
        keep_full = d248 < (1 - JOINT_MARGIN) * d48  # 2/4/8 only when clearly better
        assert sol.bits == (full.bits if keep_full else first.bits)
        assert plan.used_bits == ((2, 4, 8) if keep_full else (4, 8))
        summ = summary(plan, sol, "c")
        assert "auto widths: measured joint" in format_table(table(plan, sol), summ)
    assert checked > 0  # some budget made the two ILPs disagree


def test_joint_results_are_cached(setup, monkeypatch):
    graph, samples, cache = setup
    p = plan_at(setup, "100%").problem
    lo, hi = min_cost(restrict(p, (4, 8)), "size"), float(p.costs["size"][:, -1].sum())
    for budget in np.linspace(lo, hi, 12)[:-1]:
        plan = plan_at(setup, int(budget))
        solve_plan(plan)
        if plan.auto_check:
            break
    files = list((cache / "sensitivity").glob("*.joint.json"))
    assert len(files) == 1 and len(json.load(open(files[0]))) >= 2
    plan = plan_at(setup, int(budget))
    from qcc.mixed_precision import joint

    def boom(*a, **k):
        raise AssertionError("re-measured a cached assignment")

    monkeypatch.setattr(joint, "make_evaluator", boom)
    solve_plan(plan)
    assert plan.auto_check
