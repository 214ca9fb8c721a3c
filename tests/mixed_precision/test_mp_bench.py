"""Smoke test of the study ``python -m qcc.bench.mixed_precision`` on the small CNN."""

from __future__ import annotations

import io

import pytest
from mp_testlib import calib_for, fused_graph, small_cnn

from qcc.bench import mixed_precision as bench


@pytest.fixture(scope="module")
def result():
    m = small_cnn()
    calib = calib_for(m, n=8)
    graph, _ = fused_graph(m, calib)
    test = calib_for(m, n=8, seed=2)
    return bench.bench_model("small_cnn", graph, calib, test, n_sens=4, n_test=8,
                             budgets=[0.5, "w4"], log=io.StringIO())


def test_points_respect_budget_and_equal_size(result):
    rows = result["budgets"]
    assert [r["point"] for r in rows] == ["f=0.5", "= uniform w4"]
    for r in rows:
        assert "error" not in r
        for k in ("ilp", "ilp_248", "uniform"):
            assert r[k]["bytes"] <= r["budget_bytes"] + 1
        # the ILP's objective is the least of every assignment that fits the budget
        assert r["ilp_248"]["objective"] <= r["ilp"]["objective"] + 1e-15
        assert r["ilp"]["objective"] <= r["uniform"]["objective"] + 1e-15
        assert r["ilp_248"]["objective"] <= r["random_median"]["objective"] + 1e-15
        assert len(r["random_sqnr_db"]) == bench.N_RANDOM
    eq = rows[1]
    assert eq["uniform"]["bytes"] == eq["budget_bytes"]  # uniform w4 is exactly this size
    assert sorted(set(eq["uniform"]["bits"])) == [4, 8] and eq["ilp"]["widths"] == [4, 8]


def test_table_and_wins(result):
    text = bench.table([result])
    assert text.count("| small_cnn |") == 2 and "= uniform w4" in text
    w = bench.wins([result])
    assert w["points"] == 2 and w["points_equal"] == 1
    assert 0 <= w["vs_uniform"] <= 2 and 0 <= w["vs_random"] <= 2
