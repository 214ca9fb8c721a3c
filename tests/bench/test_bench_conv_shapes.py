"""bench/conv_shapes.py: one conv layer built twice (the padded-plane GEMM tuples on and off)
gives the same outputs, and the table row names the shape and its output plane."""

from __future__ import annotations

import shutil

import pytest

from qcc.bench import conv_shapes


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the generated C")
def test_conv_shapes_measures_one_shape(tmp_path):
    r = conv_shapes.measure("row_1x3_s2_25", conv_shapes.SHAPES["row_1x3_s2_25"], "-O2", "",
                            "-DQCC_PWS_PAD_MIN=1000000", rounds=1, runs=5, work=str(tmp_path))
    assert r["shape"] == "row_1x3_s2_25" and r["plane"] == "1x25"
    assert r["a_us"] > 0 and r["b_us"] > 0 and r["b_over_a"] == pytest.approx(r["b_us"] / r["a_us"])
