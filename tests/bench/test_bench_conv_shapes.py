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


def test_grid_shapes_have_the_output_plane_their_names_say():
    """Each GRID shape's conv (input size derived from the named output plane) infers exactly
    that plane, with the named kernel, stride and channels."""
    import re

    assert len(conv_shapes.GRID) >= 50
    for name, shape in conv_shapes.GRID.items():
        kh, kw, s, c, m, oh, ow = map(int, re.fullmatch(r"k(\d+)x(\d+)_s(\d+)_c(\d+)m(\d+)_o(\d+)x(\d+)",
                                                        name).groups())
        g, feeds = conv_shapes._graph(shape)
        assert g.outputs[0].type.shape == (1, m, oh, ow), name
        assert feeds["x"].shape[1] == c and shape[4] == (kh, kw) and shape[5][1] == s, name
