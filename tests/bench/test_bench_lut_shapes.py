"""The table-lookup benchmarks: bench/lut_shapes.py (one synthetic layer per shape and width,
LUT against unpacking per ISA) and lowbit's --builds choice."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qcc.bench import lowbit, lut_shapes


def test_lut_shapes_program_and_table(tmp_path):
    """The synthetic program (emitted, not built): the packed layers of one row and N = 16
    take qcc_linear_lut, int8 qcc_linear, and N = 8 (below the rule's block) qcc_linear; the
    table shows per ISA the LUT / unpack ratio of the times it is given."""
    from types import SimpleNamespace

    from qcc.backends.c import emit

    shapes = [(1, 32, 16, w) for w in lut_shapes.WIDTHS] + [(1, 32, 8, "int4_g32")]
    g, feeds = lut_shapes._graph(shapes)
    assert sorted(feeds) == sorted(f"x{i}" for i in range(len(shapes)))
    layers = emit(g, str(tmp_path), SimpleNamespace(options={"model_name": "s"}))["layers"]
    assert [r["kernel"] for r in layers] == (["qcc_linear"] + ["qcc_linear_lut"] * (len(shapes) - 2)
                                             + ["qcc_linear"])
    rows = [{"rows": 1, "k": 32, "n": 16, "width": w, "kernel": "",
             **{f"{b}_ns": (2000.0 if b.endswith("nolut") else 1000.0) for b in lut_shapes.BUILDS}}
            for w in lut_shapes.WIDTHS]
    text = lut_shapes.table(rows)
    assert text.count("| 1 x 32 x 16 |") == 2 and text.count("(0.50x)") == 8


@pytest.mark.slow
def test_lut_shapes_measures_every_layer(tmp_path):
    """One shape in every width: the packed layers take qcc_linear_lut (N = 16, one row),
    the int8 one qcc_linear; every build times every layer; the table has the shape's rows."""
    if "avx2" not in open("/proc/cpuinfo").read():
        pytest.skip("SKIPPED, NOT PASSED: this CPU has no AVX2")
    shapes = [(1, 32, 16, w) for w in lut_shapes.WIDTHS]
    rows = lut_shapes.measure(shapes, str(tmp_path), runs=2, rounds=1)
    assert [r["kernel"] for r in rows] == ["qcc_linear"] + ["qcc_linear_lut"] * (len(shapes) - 1)
    assert all(r[f"{b}_ns"] > 0 for r in rows for b in lut_shapes.BUILDS)
    text = lut_shapes.table(rows)
    assert text.count("| 1 x 32 x 16 |") == 2


def test_lowbit_rejects_an_unknown_build():
    """python -m qcc.bench.lowbit --builds with a name it lacks: one line naming it, exit 2."""
    r = subprocess.run([sys.executable, "-m", "qcc.bench.lowbit", "--builds", "native,nope"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "nope" in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert set(lowbit.LUT_PAIRS[0]) <= set(lowbit.BUILDS)
