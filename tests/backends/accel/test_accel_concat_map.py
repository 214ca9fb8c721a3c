"""A concat part that is not one DMA row per part (another axis, channels-last views into a
row-major output, a constant part into a channels-last output) runs on the accelerator as its
address map in 2-D DMA blocks, centred and requantized per part (lower_move.concat);
bit-exact with the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from accel_testlib import G, compile_and_compare


def conv(g: G, x, m, y_zp):
    w = g.const(g.rand((m, x.shape[1], 1, 1)))
    b = g.const(g.rng.integers(-500, 500, m).astype(np.int32))
    return g.op("qcc.conv2d", [x, w, b, *g.mult(m)],
                dict(strides=[1, 1], pads=[0, 0, 0, 0], group=1, x_zp=0, y_zp=y_zp))


def concat(g: G, parts, axis, zps, y_zp, output=True):
    mults, shifts = g.mult(len(parts), 0.9)
    return g.op("qcc.concat", [*parts, mults, shifts], {"axis": axis, "y_zp": y_zp, "zps": zps},
                output=output)


def _no_host(acc, n_concat=1):
    assert acc["host_ops"] == []
    assert [ly["op"] for ly in acc["layers"]].count("qcc.concat") == n_concat


@pytest.mark.parametrize("n,c,zps,y_zp", [(1, 11, [-128, 127], 127), (2, 19, [127, -128], -128)])
def test_channels_last_views_concatenated_into_a_row_major_tensor(n, c, zps, y_zp, tmp_path):
    """The detection head's concat: two conv outputs (channels-last, different sizes) reshaped
    to [N, C, H*W] and concatenated on the last axis: each element moves on its own (its
    source runs along the channels, its destination along the positions)."""
    g = G(31)
    x = g.input((n, 3, 5, 7))
    a = conv(g, x, c, zps[0])
    p = conv(g, g.input((n, 3, 3, 3)), c, zps[1])
    shp = lambda hw: g.const(np.array([n, c, hw], np.int64))
    ra = g.op("onnx.Reshape", [a, shp(35)])
    rp = g.op("onnx.Reshape", [p, shp(9)])
    concat(g, [ra, rp], 2, zps, y_zp)
    _no_host(compile_and_compare(g, tmp_path, samples=2))


@pytest.mark.parametrize("n,c,zps,y_zp", [(2, 13, [-128, 127], -128), (1, 10, [127, 0], 127)])
def test_channels_last_tensors_concatenated_along_the_height(n, c, zps, y_zp, tmp_path):
    """[N, C, 3, 5] and [N, C, 4, 5] (channels-last) concatenated on H into a channels-last
    [N, C, 7, 5] that a conv reads: each part is whole rows of the output's matrix, but not
    one DMA row per part (the parts alternate per batch)."""
    g = G(32)
    a = conv(g, g.input((n, 3, 3, 5)), c, zps[0])
    b = conv(g, g.input((n, 2, 4, 5)), c, zps[1])
    y = concat(g, [a, b], 2, zps, y_zp, output=False)
    g.g.outputs.append(conv(g, y, 6, 3))
    _no_host(compile_and_compare(g, tmp_path, samples=2))


def test_a_constant_part_into_a_channels_last_tensor(tmp_path):
    """A constant [N, C, 1, 5] row concatenated under a conv output on H (channels-last): read
    from a DRAM constant of its values in its own order."""
    g = G(33)
    n, c = 2, 9
    a = conv(g, g.input((n, 4, 3, 5)), c, -128)
    tok = g.const(g.rand((n, c, 1, 5)))
    y = concat(g, [a, tok], 2, [-128, 127], 127, output=False)
    g.g.outputs.append(conv(g, y, 6, -128))
    _no_host(compile_and_compare(g, tmp_path, samples=2))
