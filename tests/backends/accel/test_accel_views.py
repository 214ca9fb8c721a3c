"""Elementwise calls on views whose DRAM layout differs from their own shape's (a Reshape of
a channels-last tensor): when every operand and the output put each element at the same
position of the same DRAM matrix, the op runs over those matrices on the accelerator
(elem_operands.same_bytes); bit-exact with the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from accel_testlib import G, compile_and_compare
from qcc.ir import DType


def conv(g: G, x, m, y_zp):
    w = g.const(g.rand((m, x.shape[1], 1, 1)))
    b = g.const(g.rng.integers(-500, 500, m).astype(np.int32))
    return g.op("qcc.conv2d", [x, w, b, *g.mult(m)],
                dict(strides=[1, 1], pads=[0, 0, 0, 0], group=1, x_zp=0, y_zp=y_zp))


def _views(g: G, n, c, w):
    """Two conv outputs [N, C, 1, W] (channels-last) reshaped to [N, C, W]: views whose
    rows are positions, not the [N*C, W] rows of their own shape."""
    a = conv(g, g.input((n, 3, 1, w)), c, -128)
    b = conv(g, g.input((n, 2, 1, w)), c, 127)
    shp = g.const(np.array([n, c, w], np.int64))
    return g.op("onnx.Reshape", [a, shp]), g.op("onnx.Reshape", [b, shp])


@pytest.mark.parametrize("n,c,w", [(2, 11, 5), (1, 19, 3)])
def test_lut_add_requant_on_channels_last_views(n, c, w, tmp_path):
    """The STFT front end of silero_vad: a LUT, an add and a requant on such views, the
    result reshaped back to 4-D for a conv: all on the accelerator (zero points -128/127)."""
    g = G(41)
    ra, rb = _views(g, n, c, w)
    t = g.op("qcc.lut", [ra, g.const(g.rng.integers(-128, 128, 256).astype(np.int8), DType.int8)])
    s = g.op("qcc.add", [t, rb, g.const(np.array([1 << 30, 3 << 28], np.int32)),
                         g.const(np.array([31], np.int32))],
             {"a_zp": 127, "b_zp": -128, "y_zp": -128})
    r = g.op("qcc.requant", [s, *g.mult(1, 0.7)], {"x_zp": -128, "y_zp": 127})
    r4 = g.op("onnx.Reshape", [r, g.const(np.array([n, c, 1, w], np.int64))])
    g.g.outputs.append(conv(g, r4, 6, 3))
    acc = compile_and_compare(g, tmp_path, samples=2)
    assert acc["host_ops"] == []
    assert [ly["op"] for ly in acc["layers"]][2:5] == ["qcc.lut", "qcc.add", "qcc.requant"]


@pytest.mark.parametrize("cshape", [(1, 13, 1), (2, 1, 7), (2, 13, 7)])
def test_a_constant_operand_against_a_view_is_stored_in_the_views_order(cshape, tmp_path):
    """magika's bias add: a channels-last conv output viewed as [N, C, W] plus a constant
    broadcast to it (per channel, per position, or whole): the constant is materialised at
    the output's DRAM positions, so the add runs over the matrices; bit-exact."""
    g = G(43)
    n, c, w = 2, 13, 7
    ra, _ = _views(g, n, c, w)
    k = g.const(g.rand(cshape))
    s = g.op("qcc.add", [ra, k, g.const(np.array([1 << 30, 3 << 28], np.int32)),
                         g.const(np.array([31], np.int32))],
             {"a_zp": -128, "b_zp": 127, "y_zp": 127})
    s4 = g.op("onnx.Reshape", [s, g.const(np.array([n, c, 1, w], np.int64))])
    g.g.outputs.append(conv(g, s4, 6, 3))
    acc = compile_and_compare(g, tmp_path, samples=2)
    assert acc["host_ops"] == []


def test_views_of_differently_shaped_tensors_stay_on_the_host(tmp_path):
    """A view of a [1, 11, 1, 5] conv output added to a view of a [1, 5, 1, 11] one, both as
    [1, 11, 5]: the same logical element lies at different positions of the two DRAM
    matrices, so the add is not one over the matrices; it keeps its reason."""
    g = G(42)
    ra, _ = _views(g, 1, 11, 5)
    b = conv(g, g.input((1, 3, 1, 11)), 5, 0)
    rb = g.op("onnx.Reshape", [b, g.const(np.array([1, 11, 5], np.int64))])
    g.op("qcc.add", [ra, rb, g.const(np.array([1 << 30, 1 << 30], np.int32)),
                     g.const(np.array([31], np.int32))],
         {"a_zp": 0, "b_zp": 0, "y_zp": 0}, output=True)
    acc = compile_and_compare(g, tmp_path, samples=2)
    assert [h["op"] for h in acc["host_ops"]] == ["qcc.add"]
    assert "view whose DRAM layout differs" in acc["host_ops"][0]["reason"]
