"""General rules found by running the model corpus on the accelerator (bench/corpus_accel.py),
each on a small graph built here, bit-exact with the reference interpreter."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accel_testlib import HW, G, compile_and_compare
from test_accel_resident import conv


def _rows(spec: str) -> tuple[int, int]:
    lo, hi = spec.split(" at INP rows ")[1].split()[0].split("..")
    return int(lo), int(hi)


def test_a_mean_with_its_input_on_chip_stores_its_output_outside_that_input(tmp_path):
    """conv -> global mean (its input on chip, 5 channel blocks in two accumulator slots) ->
    1x1 conv (the mean's output on chip as that conv's input), the squeeze of a
    squeeze-excite block.  The mean's output region must not overlap the input region it is
    still reading: the first slot's STOREs would overwrite positions of the last channel
    block before its identity GEMMs read them (ppocr det models: a few wrong outputs)."""
    hw = replace(HW, dma_latency=3000)
    c = 5 * hw.dim
    g = G(21)
    x = g.input((1, 3, 7, 7))
    a = conv(g, x, c, 3, x_zp=1, y_zp=-3)
    m = g.op("qcc.global_avgpool", [a, *g.mult(1, 0.05)], {"x_zp": -3, "y_zp": 2})
    conv(g, m, 8, 1, x_zp=2, output=True)
    acc = compile_and_compare(g, tmp_path, hw, samples=3)
    cv, mean, fc = acc["layers"]
    assert cv["onchip"]["output"].startswith("flat 5x5x5")
    lo, hi = _rows(cv["onchip"]["output"])
    flo, fhi = _rows(fc["onchip"]["input"])   # the 1x1 conv's input, from the mean's STOREs
    assert fhi < lo or flo > hi


@pytest.mark.parametrize("h,w,oh,ow,c,ctm,nm", [
    (3, 3, 6, 6, 20, "asymmetric", "floor"),          # the 2x upsampling of an FPN / YOLO neck
    (3, 3, 24, 24, 16, "asymmetric", "floor"),        # 8x
    (5, 4, 7, 9, 3, "half_pixel", "round_prefer_floor"),   # not an integer factor
    (6, 6, 3, 4, 40, "asymmetric", "floor")])         # downsampling
def test_a_nearest_resize_runs_on_the_accelerator_as_dma(h, w, oh, ow, c, ctm, nm, tmp_path):
    """A nearest resize is an address map (each output position copies an input position's
    channels): strided LOAD / STORE on the accelerator, no host op; bit-exact."""
    g = G(22)
    x = g.input((1, c, h, w))
    a = conv(g, x, c, 1, x_zp=1, y_zp=-3)
    r = g.op("qcc.resize", [a], {"mode": "nearest", "coordinate_transformation_mode": ctm,
                                 "nearest_mode": nm, "sizes": [oh, ow], "x_zp": -3})
    conv(g, r, 8, 1, x_zp=-3, output=True)
    acc = compile_and_compare(g, tmp_path, samples=2)
    assert acc["host_ops"] == []
    assert [ly["op"] for ly in acc["layers"]] == ["qcc.conv2d", "qcc.resize", "qcc.conv2d"]


def test_a_constant_concat_part_is_read_from_a_dram_constant(tmp_path):
    """A class token (a constant [1, 1, D] row) concatenated before a row-major [1, T, D]
    activation, each part requantized to the output's scale: the constant part is a DRAM
    constant the concat LOADs like any part, so the concat runs on the accelerator; bit-exact."""
    g = G(24)
    d, t = 24, 5
    x = g.input((1, t, d))
    tok = g.const(g.rand((1, 1, d)))
    mults, shifts = g.mult(2, 0.9)
    g.op("qcc.concat", [tok, x, mults, shifts], {"axis": 1, "y_zp": -6, "zps": [4, -6]}, output=True)
    acc = compile_and_compare(g, tmp_path, samples=2)
    assert acc["host_ops"] == [] and [ly["op"] for ly in acc["layers"]] == ["qcc.concat"]
