"""Smoke test of ``python -m qcc.bench.transformer_ops`` (quick, no model level):
the error table's bounds hold at every input scale from 1e-4 to 0.1."""

from __future__ import annotations

import json

from qcc.bench import transformer_ops as bench

BOUNDS = {"softmax_ibert": 0.006, "softmax_shift": 0.03, "gelu_ierf": 0.025, "layernorm": 0.01}


def test_quick_table_and_json(tmp_path, capsys):
    assert bench.main(["--quick", "--no-model", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "transformer_ops.json").read_text())
    assert res["scales"] == [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
    for op, bound in BOUNDS.items():
        per = res["ops"][op]
        assert all(per[str(s)]["max_abs"] <= bound for s in res["scales"]), (op, per)
        assert all(0 < per[str(s)]["rms"] < per[str(s)]["max_abs"] for s in res["scales"])
    # the I-BERT softmax is within about one output LSB (1/256); shiftmax is coarser
    worst = {op: max(r["max_abs"] for r in res["ops"][op].values()) for op in BOUNDS}
    assert worst["softmax_ibert"] < worst["softmax_shift"]
    out = capsys.readouterr().out
    assert all(f"| {op} |" in out for op in BOUNDS) and "I-BERT" in out
