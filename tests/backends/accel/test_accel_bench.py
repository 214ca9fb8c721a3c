"""The accelerator benchmark's conv summary splits dense and grouped (depthwise) layers and
weights every efficiency by cycles, against the bound and the latency floor."""

from __future__ import annotations

from qcc.bench.accel import conv_summary, markdown


def _row(cycles, ideal, group, bound="memory"):
    return {"kind": "gemm", "cycles": cycles, "roofline_cycles": ideal, "ideal_cycles": ideal,
            "macs": 256 * ideal, "bound": bound, "group": group, "floor_cycles": ideal + 20}


def test_dense_and_grouped_layers_are_summarised_apart():
    res = {"model": "m", "total": {"cycles": 700, "utilization": 0.1, "pe": 256, "host_ops": 0},
           "layers": [_row(100, 80, 1), _row(300, 150, 1, "compute"), _row(300, 30, 8),
                      {"kind": "elem", "cycles": 50}]}
    s = conv_summary(res)
    assert s["dense"]["layers"] == 2 and s["grouped"]["layers"] == 1
    assert abs(s["dense"]["ideal_eff"] - 230 / 400) < 1e-12
    assert abs(s["grouped"]["ideal_eff"] - 30 / 300) < 1e-12
    assert abs(s["all"]["ideal_eff"] - 260 / 700) < 1e-12
    line = markdown([res]).splitlines()[-1]
    assert "| 57.5 % (2) | 10.0 % (1) |" in line
    # without ceiling cycles every layer keeps its ideal bound in the ceiling column
    assert abs(s["all"]["ceiling_eff"] - 260 / 700) < 1e-12 and "| 37.1 % |" in line
    # the latency floors (each layer's bound + 20 here) beside the bound: 320 / 700
    assert abs(s["all"]["floor_eff"] - 320 / 700) < 1e-12
    assert line.endswith("| 37.1 % | 45.7 % | 260 / 320 |")


def test_the_depthwise_ceiling_is_a_second_roof_only_for_depthwise_layers():
    from qcc.bench.accel import ceiling_cycles
    dw = {"macs": 16 * 900, "ideal_cycles": 100}
    assert ceiling_cycles(dw, {"group": 8, "c": 8, "m": 8}, 16) == 900     # MACs / 16 lanes
    assert ceiling_cycles(dw, {"group": 2, "c": 8, "m": 8}, 16) == 100     # grouped, not depthwise
    assert ceiling_cycles(dw, {"group": 1, "c": 8, "m": 8}, 16) == 100
    assert ceiling_cycles({"macs": 160, "ideal_cycles": 100}, {"group": 8, "c": 8, "m": 8}, 16) == 100
