"""The accelerator timing model against SCALE-Sim (an independent systolic-array simulator):
with the array accounting SCALE-Sim uses (no weight-preload overlap), the compute cycles of
qcc's own lowering of a layer agree within 10 % for weight- and output-stationary arrays."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qcc.backends.accel.hw import HwConfig
from qcc.bench.accel_scalesim import SHAPES, ConvShape, compare, same_folds

FAST = [ConvShape("conv3x3", 12, 12, 32, 32, 3, 1, 1), ConvShape("s2", 15, 15, 32, 16, 3, 2, 0),
        ConvShape("gemm", 1, 96, 64, 48, 1)]


def _check(rows):
    for r in rows:
        assert r["same_folds"]
        assert 0.9 <= r["ratio"] <= 1.1, r


@pytest.mark.parametrize("df", ["ws", "os"])
def test_compute_cycles_agree_small_layers(df):
    _check(compare(FAST, replace(HwConfig(), dataflow=df, gemm_overlap=False)))


@pytest.mark.slow
@pytest.mark.parametrize("df", ["ws", "os"])
def test_compute_cycles_agree_example_and_resnet_layers(df):
    hw = replace(HwConfig(), dataflow=df, gemm_overlap=False)
    _check(compare([s for s in SHAPES if same_folds(s, hw)], hw))


def test_overlap_is_never_slower_than_scalesim_accounting():
    """The default array overlaps weight preload and fill/drain (a deliberate difference)."""
    from qcc.bench.accel_scalesim import qcc_layer_cycles

    for s in FAST:
        slow = qcc_layer_cycles(s, replace(HwConfig(), gemm_overlap=False), "compute")
        fast = qcc_layer_cycles(s, HwConfig(), "compute")
        assert fast["compute"] <= slow["compute"]


def test_bench_command_leaves_out_the_excluded_layers(tmp_path, capsys):
    """``python -m qcc.bench.accel_scalesim --exclude LAYER``: the table and JSON of the docs
    (§10) without the named layers; an unknown name is a usage error."""
    import json

    from qcc.bench.accel_scalesim import main

    keep = "digits.conv2"
    out = tmp_path / "ss.json"
    assert main([a for s in SHAPES if s.name != keep for a in ("--exclude", s.name)]
                + ["--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {r["layer"] for r in rows} == {keep}
    assert sorted((r["dataflow"], r["overlap"]) for r in rows) == \
        [("os", False), ("os", True), ("ws", False), ("ws", True)]
    assert capsys.readouterr().out.count(f"| {keep} |") == 4
    with pytest.raises(SystemExit) as e:
        main(["--exclude", "no.such.layer"])
    assert e.value.code == 2
