"""The ILP solver: HAWQ-V3's published ResNet18 configurations, brute force,
budgets, ties, pins, monotonicity and the infeasible-budget message."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mp_testlib import HAWQ

from qcc.errors import BudgetError, QccError
from qcc.mixed_precision.ilp import (Problem, fraction_budget, min_cost, random_assignment, solve,
                                     uniform_assignment, uniform_cost)


# -- HAWQ-V3 ResNet18 ---------------------------------------------------------------------------
def hawq_problem() -> tuple[Problem, dict]:
    d = json.load(open(HAWQ))
    bits = (4, 8)
    tr = np.array(d["trace_per_param"])
    omega = np.stack([tr * np.array(d["delta_w_sq"][str(b)]) for b in bits], axis=1)
    params, macs = np.array(d["params"], float), np.array(d["macs"], float)
    costs = {"size": np.stack([params * b / 8 for b in bits], 1),
             "bops": np.stack([macs * b * b for b in bits], 1),  # HAWQ: activation bits = weight bits
             "latency": np.stack([np.array(d["latency_ms_t4"][str(b)]) for b in bits], 1)}
    return Problem(d["layers"], bits, omega, costs, ties=[tuple(t) for t in d["ties"]]), d


@pytest.mark.parametrize("key", ["size@0.75", "size@0.5", "size@0.25", "bops@0.75", "bops@0.5",
                                 "bops@0.25", "latency@0.75", "latency@0.5", "latency@0.25"])
def test_hawq_resnet18_published_configs(key):
    p, d = hawq_problem()
    kind, f = key.split("@")
    p.budgets = {kind: fraction_budget(p, kind, float(f), 4, 8)}
    sol = solve(p)
    assert "".join(map(str, sol.bits)) == d["expected"][key]
    assert sol.totals[kind] <= p.budgets[kind] * (1 + 1e-9)
    for a, b in p.ties:
        assert sol.bits[a] == sol.bits[b]


def test_hawq_extremes_and_monotone():
    p, _ = hawq_problem()
    objs = []
    for f in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0):
        p.budgets = {"size": fraction_budget(p, "size", f, 4, 8)}
        sol = solve(p)
        objs.append(sol.objective)
        if f == 0.0:
            assert set(sol.bits) == {4}
        if f == 1.0:
            assert set(sol.bits) == {8}
    assert all(a >= b - 1e-12 for a, b in zip(objs, objs[1:])), objs


# -- brute force ----------------------------------------------------------------------------------
def brute(p: Problem):
    best = None
    n_b = len(p.bits)
    for combo in itertools.product(range(n_b), repeat=len(p.names)):
        c = np.array(combo)
        if any(c[a] != c[b] for a, b in p.ties) or any(p.bits[c[i]] != b for i, b in p.pins.items()):
            continue
        idx = np.arange(len(c))
        if any(p.costs[k][idx, c].sum() > v * (1 + 1e-9) for k, v in p.budgets.items()):
            continue
        obj = p.omega[idx, c].sum()
        best = obj if best is None else min(best, obj)
    return best


@st.composite
def problems(draw):
    n = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    bits = (2, 4, 8)
    params = rng.integers(10, 1000, n).astype(float)
    macs = params * rng.integers(1, 50, n)
    omega = np.sort(rng.random((n, 3)) * rng.random((n, 1)) * 10, axis=1)[:, ::-1]
    costs = {"size": np.outer(params, bits) / 8, "bops": np.outer(macs, bits) * 8}
    ties = [(0, 1)] if n > 2 and draw(st.booleans()) else []
    pins = {n - 1: 8} if draw(st.booleans()) else {}
    p = Problem([f"l{i}" for i in range(n)], bits, omega, costs, ties=ties, pins=pins)
    f_size = draw(st.floats(0.0, 1.0))
    p.budgets = {"size": fraction_budget(p, "size", f_size, 2, 8)}
    if draw(st.booleans()):
        p.budgets["bops"] = fraction_budget(p, "bops", draw(st.floats(0.0, 1.0)), 2, 8)
    return p


@settings(max_examples=60, deadline=None)
@given(problems())
def test_equals_brute_force(p):
    best = brute(p)
    if best is None:
        with pytest.raises(BudgetError):
            solve(p)
        return
    sol = solve(p)
    assert sol.objective == pytest.approx(best, rel=1e-9, abs=1e-12)
    for k, v in p.budgets.items():
        assert sol.totals[k] <= v * (1 + 1e-9)
    assert all(sol.bits[a] == sol.bits[b] for a, b in p.ties)
    assert all(sol.bits[i] == b for i, b in p.pins.items())


@settings(max_examples=30, deadline=None)
@given(problems(), st.integers(0, 1000))
def test_ilp_not_worse_than_random_or_uniform(p, seed):
    p.budgets = {"size": p.budgets["size"]}
    p.pins = {}
    try:
        sol = solve(p)
    except BudgetError:
        return
    rng = np.random.default_rng(seed)
    for _ in range(5):
        r = random_assignment(p, "size", p.budgets["size"], rng)
        assert r.totals["size"] <= p.budgets["size"] * (1 + 1e-9)
        assert all(r.bits[a] == r.bits[b] for a, b in p.ties)
        assert sol.objective <= r.objective + 1e-12
    for b in p.bits:  # any uniform width that fits the budget
        if uniform_cost(p, "size", b) <= p.budgets["size"]:
            assert sol.objective <= p.omega[:, p.bits.index(b)].sum() + 1e-12


def test_uniform_middle_width_is_never_better():
    """With widths {4, 6, 8}, the ILP at the cost of all-6 is <= all-6."""
    rng = np.random.default_rng(3)
    n, bits = 10, (4, 6, 8)
    params = rng.integers(100, 5000, n).astype(float)
    omega = np.sort(rng.random((n, 3)), axis=1)[:, ::-1] * params[:, None]
    p = Problem([f"l{i}" for i in range(n)], bits, omega, {"size": np.outer(params, bits) / 8})
    p.budgets = {"size": uniform_cost(p, "size", 6)}
    assert solve(p).objective <= omega[:, 1].sum() + 1e-9


# -- errors ------------------------------------------------------------------------------------------
def test_infeasible_reports_smallest_feasible_value():
    p, _ = hawq_problem()
    p.pins = {0: 8, 18: 8}
    floor = min_cost(p, "size")
    assert floor == pytest.approx(uniform_cost(p, "size", 4) + (36864 + 2359296) * 4 / 8)
    p.budgets = {"size": floor * 0.99}
    with pytest.raises(BudgetError) as e:
        solve(p)
    msg = str(e.value)
    assert "size budget" in msg and "smallest feasible" in msg and f"{floor:,.0f}" in msg
    assert "pinned" in msg
    p.budgets = {"size": floor}  # the reported value is feasible
    assert solve(p).totals["size"] == pytest.approx(floor)


def test_infeasible_combination_names_each_budget():
    p, _ = hawq_problem()
    p.budgets = {"size": fraction_budget(p, "size", 0.05, 4, 8),
                 "latency": fraction_budget(p, "latency", 0.0, 4, 8) * 0.999}
    with pytest.raises(BudgetError, match=r"latency budget .* below the smallest feasible"):
        solve(p)


def test_pin_to_missing_width_is_an_error():
    p, _ = hawq_problem()
    p.pins = {0: 2}
    with pytest.raises(QccError, match="pinned to 2 bits"):
        solve(p)


# -- the DP cross-check (ZeroQ / HAWQ-V2 Pareto frontier) --------------------------------------------
def dp_best(p: Problem, kind: str, scale: float):
    """Exact optimum under one budget by dynamic programming over tie groups on the
    integerised cost (``cost * scale`` must be integral): best[c] = least objective
    with total cost exactly ``c``."""
    parent = {i: i for i in range(len(p.names))}

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in p.ties:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(p.names)):
        groups.setdefault(find(i), []).append(i)
    units = np.rint(p.costs[kind] * scale).astype(np.int64)
    assert np.allclose(units, p.costs[kind] * scale)  # integral costs only
    step = int(np.gcd.reduce(units.ravel())) or 1  # keeps the table small (HAWQ: 4096 params)
    units //= step
    cap = int(np.floor(p.budgets[kind] * scale / step + 1e-6))
    best = np.full(cap + 1, np.inf)
    best[0] = 0.0
    for g in groups.values():
        new = np.full(cap + 1, np.inf)
        for j, b in enumerate(p.bits):
            if any(i in p.pins and p.pins[i] != b for i in g):
                continue
            c = int(sum(units[i, j] for i in g))
            w = sum(p.omega[i, j] for i in g)
            if c <= cap:
                new[c:] = np.minimum(new[c:], best[:cap + 1 - c] + w)
        best = new
    return None if not np.isfinite(best).any() else float(best.min())


@settings(max_examples=40, deadline=None)
@given(problems())
def test_equals_dynamic_programming(p):
    p.budgets = {"size": p.budgets["size"]}
    best = dp_best(p, "size", 8.0)  # size = params * bits / 8: integral in bits
    if best is None:
        with pytest.raises(BudgetError):
            solve(p)
        return
    assert solve(p).objective == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_hawq_size_frontier_equals_dp():
    """On the 19 ResNet18 layers (3 ties), the ILP and the DP agree at every budget."""
    p, _ = hawq_problem()
    for f in (0.1, 0.3, 0.6, 0.9):
        p.budgets = {"size": fraction_budget(p, "size", f, 4, 8)}
        assert solve(p).objective == pytest.approx(dp_best(p, "size", 2.0), rel=1e-9)


def test_uniform_assignment_respects_pins_through_ties():
    p, _ = hawq_problem()
    a, b = p.ties[0]
    p.pins = {a: 8}
    u = uniform_assignment(p, 4)
    assert u[a] == u[b] == 8 and u.count(8) == len({a, b})
