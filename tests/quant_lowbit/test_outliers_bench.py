"""Smoke test of ``python -m qcc.bench.outliers`` on its planted-outlier model."""

from __future__ import annotations

import json
import os

import pytest

from qcc.bench import outliers


def test_planted_outliers_bench_rows_measure_the_passes(tmp_path):
    configs = [c for c in outliers.CONFIGS if c[0] in (
        "w4 g32", "w4 g32 +smoothquant 0.5", "w4 g32 +reorder cluster", "w4 g32 +reorder sort +outlier-8bit 8")]
    m = outliers._subset(outliers.planted_model(str(tmp_path / "m")), 16, 8)
    res = outliers.bench_model(m, str(tmp_path / "w"), configs)
    rows = {r["config"]: r for r in res["rows"]}
    assert not any("error" in r for r in rows.values()), rows
    assert rows["w4 g32"]["err_vs_w4g32"] == 1.0
    # planted outliers: each pass lowers the output error of int4 g32 weights clearly
    for name in ("w4 g32 +smoothquant 0.5", "w4 g32 +reorder cluster", "w4 g32 +reorder sort +outlier-8bit 8"):
        assert rows[name]["err_vs_w4g32"] < 0.8, (name, rows[name])
    assert all(isinstance(v, float) and v <= 1e-5 for v in res["float_rel_change"].values()), res
    text = outliers.table([res])
    assert "| w4 g32 +reorder cluster |" in text and "max relative change" in text


@pytest.mark.slow
def test_outliers_bench_cli_writes_json_and_markdown(tmp_path):
    out = tmp_path / "out"
    assert outliers.main(["planted", "--quick", "--out", str(out)]) == 0
    data = json.loads((out / "outliers.json").read_text())
    assert data["models"][0]["model"] == "planted" and len(data["models"][0]["rows"]) == len(outliers.CONFIGS)
    assert os.path.isfile(out / "outliers.md")
