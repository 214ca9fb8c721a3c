"""A bilinear resize on the accelerator (``lower_resize.py``): per output row the two source
rows at the two source columns of every output column (strided LOADs), the Q10 weights
(DYADD per run of equal column weights, then one DYADD with the row's pair and the
reference's rounding), a STORE; bit-exact with the reference interpreter, no host op."""

from __future__ import annotations

import pytest

from accel_testlib import G, compile_and_compare
from qcc.ir import DType


@pytest.mark.parametrize("n,c,h,w,oh,ow,ctm,dt,zp", [
    (1, 4, 3, 3, 6, 6, "half_pixel", DType.int8, 0),          # 2x, the FPN / U-Net case
    (2, 20, 5, 4, 7, 9, "half_pixel", DType.int8, -128),      # batch 2, 3 channel blocks, odd
    (1, 3, 4, 6, 11, 5, "align_corners", DType.int8, 127),    # up in H, down in W
    (1, 8, 7, 7, 3, 2, "asymmetric", DType.uint8, 255),       # downsampling, uint8
    (1, 5, 1, 4, 3, 8, "pytorch_half_pixel", DType.uint8, 0),  # a one-row input
    (1, 9, 6, 5, 1, 1, "pytorch_half_pixel", DType.int8, 3)])  # one output position
def test_a_bilinear_resize_runs_on_the_accelerator(n, c, h, w, oh, ow, ctm, dt, zp, tmp_path):
    g = G(41)
    x = g.input((n, c, h, w), dt)
    g.op("qcc.resize", [x], {"mode": "linear", "coordinate_transformation_mode": ctm,
                             "sizes": [oh, ow], "x_zp": zp}, output=True)
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []
    assert [ly["op"] for ly in acc["layers"]] == ["qcc.resize"]


def test_a_bilinear_resize_between_convolutions(tmp_path):
    """conv -> bilinear 2x -> conv (the decoder of a segmentation head), extreme codes
    included (the random int8 weights saturate many conv outputs at -128 / 127)."""
    g = G(42)
    x = g.input((1, 6, 5, 5))
    a = g.conv(x, 12, 3, x_zp=1, y_zp=-3, pads=[1, 1, 1, 1])
    r = g.op("qcc.resize", [a], {"mode": "linear", "coordinate_transformation_mode": "half_pixel",
                                 "sizes": [10, 10], "x_zp": -3})
    y = g.conv(r, 8, 1, x_zp=-3)
    g.g.outputs.append(y)
    acc = compile_and_compare(g, tmp_path, samples=2)
    assert acc["host_ops"] == []


def test_a_2x_resize_loads_each_tap_as_few_strided_blocks(tmp_path):
    """The accumulator rows of a chunk go by column residue modulo the taps' period (2 for a
    2x resize), so each tap of an output row is a few strided LOADs (one per residue class,
    plus the clamped first and last columns) and its outputs two strided STOREs, not a LOAD
    per pair of columns (about 9 per tap here)."""
    g = G(43)
    x = g.input((1, 8, 3, 8))      # 16 output columns: one chunk on the test array
    g.op("qcc.resize", [x], {"mode": "linear", "coordinate_transformation_mode": "half_pixel",
                             "sizes": [6, 16], "x_zp": 0}, output=True)
    compile_and_compare(g, tmp_path, samples=2)
    lines = (tmp_path / "accel" / "m.s").read_text().splitlines()
    taps = sum(1 for ln in lines if "LOAD" in ln and " tap " in ln)
    stores = sum(1 for ln in lines if ln.split(":", 1)[-1].lstrip().startswith("STORE"))
    assert taps <= 6 * 4 * 4       # 6 output rows, 4 taps, 4 blocks each at most (the ends)
    assert 6 <= stores <= 6 * 2    # (the two of a row may merge into one with STORE_OUTER)
    # the horizontal taps: one DYADD per run of equal column weights and source row (the two
    # residue classes and the clamped end columns: at most 4 runs), then the vertical one
    dyadds = sum(1 for ln in lines if "alu_op=DYADD" in ln)
    assert 6 * 3 <= dyadds <= 6 * (2 * 4 + 1)
