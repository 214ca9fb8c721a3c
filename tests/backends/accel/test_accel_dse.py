"""``qcc dse``: the accelerator design space of a model as a Pareto front of simulated cycles
vs the cost proxy (table, JSON, HTML with an SVG plot); the front is exactly the set of
non-dominated points; wrong targets are clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.accel.dse import COST_WEIGHTS, cost, pareto
from qcc.backends.accel.hw import HwConfig

EX = Path(__file__).resolve().parents[3] / "examples"


def _dominates(q, p):
    return q["cycles"] <= p["cycles"] and q["cost"] <= p["cost"] and (
        q["cycles"] < p["cycles"] or q["cost"] < p["cost"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 50)), min_size=1, max_size=30))
def test_pareto_front_is_the_non_dominated_set(pairs):
    pts = [{"cycles": a, "cost": b} for a, b in pairs]
    front = set(pareto(pts))
    for i, p in enumerate(pts):
        assert (i in front) == (not any(_dominates(q, p) for q in pts))


def test_cost_proxy_uses_the_documented_weights():
    hw = HwConfig()
    want = (COST_WEIGHTS["pe"] * 256 + COST_WEIGHTS["sram_kib"] * hw.sram_bytes() / 1024
            + COST_WEIGHTS["dram_bytes_per_cycle"] * 16)
    assert cost(hw) == want


def test_qcc_dse_digits(tmp_path):
    out = tmp_path / "dse"
    r = subprocess.run([sys.executable, "-m", "qcc.cli", "dse", str(EX / "digits_cnn/digits_cnn.onnx"),
                        "--calib", str(EX / "digits_cnn/calib.npz"), "--target", "accel", "-o", str(out),
                        "--grid", "tiny", "--search", "2", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "dse.json").read_text())
    pts = doc["points"]
    assert len(pts) == 4 and doc["cost_weights"] == COST_WEIGHTS
    assert set(doc["pareto"]) == {i for i, p in enumerate(pts) if not any(_dominates(q, p) for q in pts)}
    for p in pts:
        assert p["cycles"] > 0 and p["host_ops"] == 0
        assert abs(p["utilization"] - p["macs"] / (p["pe"] * p["cycles"])) < 1e-12
    assert {p["hw"]["rows"] for p in pts} == {8, 16}
    html = (out / "dse.html").read_text()
    assert "<svg" in html and html.count("<circle") == 4
    assert "| config | cycles | cost |" in (out / "dse.md").read_text()
    assert "| config | cycles | cost |" in r.stdout
    assert (out / "base" / "model.qcc").is_file()


def test_qcc_dse_needs_the_accel_target(tmp_path):
    r = subprocess.run([sys.executable, "-m", "qcc.cli", "dse", str(EX / "digits_cnn/digits_cnn.onnx"),
                        "--calib", str(EX / "digits_cnn/calib.npz"), "--target", "c", "-o",
                        str(tmp_path / "x")], capture_output=True, text=True)
    assert r.returncode == 2 and "only --target accel" in r.stderr and "Traceback" not in r.stderr
