"""Reductions on the ALU (docs/target_accel.md §7): a ``reduce`` call (ReduceMean / ReduceSum,
ReduceMax, ReduceMin) whose input's DRAM bytes are an ``[outer, k, inner]`` view reduced over
the middle axis runs as the global mean's rows-folded-into-one-row scheme (ADD, or MAX / MIN
with the identity epilogue); bit-exact with the reference interpreter.  Before this rule every
such call but the spatial mean of a channels-last tensor ran on the host."""

from __future__ import annotations

import numpy as np
import pytest

from accel_testlib import G, compile_and_compare
from qcc.ir import DType


def _reduce(g: G, op: str, x, axes, keep: int, zp: int = 0, output=True):
    if op == "mean":
        m, s = g.mult(1, 0.05)
        return g.op("qcc.reduce_mean", [x, m, s], {"axes": axes, "keepdims": keep, "x_zp": zp,
                                                   "y_zp": -zp // 2}, output=output)
    return g.op(f"onnx.Reduce{op.capitalize()}", [x, g.const(np.array(axes, np.int64))],
                {"keepdims": keep}, output=output)


def _on_accel(acc, op: str) -> None:
    assert acc["host_ops"] == []
    want = "qcc.reduce_mean" if op == "mean" else f"onnx.Reduce{op.capitalize()}"
    assert want in [ly["op"] for ly in acc["layers"]]


@pytest.mark.parametrize("op", ["mean", "max", "min"])
@pytest.mark.parametrize("shape,axes,keep,zp", [
    ((2, 5, 13), [1], 1, -128),     # over time of a row-major [N, T, C]: inner = 13 lanes
    ((2, 5, 13), [2], 0, 127),      # over the last axis: inner = 1
    ((3, 7, 9), [0], 1, 0),         # over the batch
    ((1, 300, 9), [1], 0, 5),       # more rows than an accumulator slot (128): in chunks
    ((2, 3, 21), [1], 1, -1),       # 21 lanes: three lane blocks, the last one partial
    ((1, 1), [1], 0, -128),         # one element (silero_vad's ReduceMean)
    ((40, 37), [1], 0, -128),       # rows of 37 lanes (5 planes of 8), 2 chunks of rows
    ((3, 5, 16), [2], 1, 127),      # rows of whole planes
    ((1, 214), [1], 0, 3)])         # magika's max / sum of one row
def test_a_reduction_of_a_row_major_tensor_runs_on_the_alu(op, shape, axes, keep, zp, tmp_path):
    """Over the last axis (``inner = 1``) each output is one DRAM row: REDUCE over its planes
    of DIM lanes (one row per output otherwise)."""
    g = G(31)
    x = g.input(shape)
    _reduce(g, op, x, axes, keep, zp)
    _on_accel(compile_and_compare(g, tmp_path, samples=2), op)
    lanes = axes == [len(shape) - 1] and shape[-1] > 1
    assert ("REDUCE" in (tmp_path / "accel" / "m.s").read_text()) == lanes


@pytest.mark.parametrize("op", ["mean", "max"])
@pytest.mark.parametrize("c,axes", [(11, [1]), (20, [1]), (11, [1, 2, 3]), (20, [2, 3])])
def test_a_reduction_of_a_channels_last_tensor_runs_on_the_alu(op, c, axes, tmp_path):
    """A conv's channels-last [2, c, 5, 3] output: over C (inner 1), C*H*W (one row per
    image) and H*W (the global mean, 20 channels: three lane blocks)."""
    g = G(32)
    x = g.input((2, 3, 5, 3))
    cv = g.conv(x, c, 1)
    _reduce(g, op, cv, axes, 1, zp=-7)
    _on_accel(compile_and_compare(g, tmp_path, samples=2), op)


@pytest.mark.parametrize("op", ["mean", "max"])
def test_a_temporal_reduction_of_a_conv_output_viewed_as_3d(op, tmp_path):
    """kws_tcnn / magika: a 1-D conv's [N, C, 1, T] channels-last output viewed as [N, C, T]
    and reduced over T: T rows of C lanes in DRAM, reduced as rows (batch 2)."""
    g = G(33)
    x = g.input((2, 3, 1, 13))
    cv = g.conv(x, 10, 1)
    r = g.op("onnx.Reshape", [cv, g.const(np.array([2, 10, 13], np.int64))])
    _reduce(g, op, r, [2], 1, zp=3)
    _on_accel(compile_and_compare(g, tmp_path, samples=2), op)


def test_reduce_max_of_uint8_keeps_the_uint8_range(tmp_path):
    g = G(34)
    x = g.input((3, 6, 17), DType.uint8)
    _reduce(g, "max", x, [1], 0)
    _reduce(g, "min", x, [2], 1)
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []


@pytest.mark.parametrize("axes,keep", [([1, 2], 1), ([2], 0), ([2], 1), ([3], 1), ([0], 1)])
def test_a_reduction_that_is_no_dram_view_is_a_listed_fallback(axes, keep, tmp_path):
    """Of a channels-last tensor (DRAM order N, H, W, C): over C and H, the reduced elements of
    one output are not rows of one [outer, k, inner] view (W lies between H and C); over H
    or W (or N), the view's kept lanes are (W, C), C per (N, H) (or (H, W, C)), but the output
    (3-D, or 4-D that no conv reads) is stored row-major: (C, W), (H, C) (or (C, H, W))."""
    g = G(35)
    x = g.input((2, 3, 5, 4))
    cv = g.conv(x, 6, 1)
    _reduce(g, "mean", cv, axes, keep, zp=1)
    acc = compile_and_compare(g, tmp_path)
    assert [h["op"] for h in acc["host_ops"]] == ["qcc.reduce_mean"]
    assert "[outer, reduced, inner]" in acc["host_ops"][0]["reason"]
