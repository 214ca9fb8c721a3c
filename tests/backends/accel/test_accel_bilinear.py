"""A bilinear resize on the accelerator (``lower_resize.py``): per output row the two source
rows at the two source columns of every output column (strided LOADs), the Q10 weights
(int16 weight rows for the columns, the ALU_SCALE pair for the row), one DYADD with the
reference's rounding, a STORE; bit-exact with the reference interpreter, no host op."""

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
