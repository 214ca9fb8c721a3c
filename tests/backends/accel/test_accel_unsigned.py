"""uint8 activations into the accelerator's int8-only GEMM kernels (conv2d, linear): the
input becomes int8 by an exact shift (``target.adapt_unsigned``: code - 128, zero point
- 128), which runs on the accelerator, so no host op; the outputs equal the reference
interpreter's on the graph as built (before the rewrite) and on the rewritten one."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from accel_testlib import G, compile_and_compare
from qcc.interp import run as ref_run
from qcc.ir import DType


def _check(g: G, tmp_path, samples: int = 3) -> dict:
    orig = copy.deepcopy(g.g)
    feeds = [g.feeds() for _ in range(samples)]
    want = [ref_run(orig, f) for f in feeds]
    acc = compile_and_compare(g, tmp_path, samples=1)   # the rewritten graph vs the simulator
    from qcc.backends.accel import run as accel_run
    import json
    manifest = json.loads(json.dumps({"accel": acc}))
    for f, w in zip(feeds, want):
        got = accel_run(str(tmp_path / "accel"), [f], manifest)[0]
        for v in orig.outputs:
            assert np.array_equal(got[v.name], w[v.name]), v.name
    return acc


@pytest.mark.parametrize("n,c,h,w,x_zp,pads", [
    (1, 5, 7, 9, 0, [1, 1, 1, 1]),      # zero point 0 (int8 -128), padding reads the zero point
    (2, 3, 5, 6, 255, [0, 1, 1, 0]),    # batch 2, zero point 255 (int8 127)
    (1, 16, 4, 4, 128, [0, 0, 0, 0])])  # zero point 128 (int8 0), a whole lane block
def test_a_uint8_conv_input_runs_on_the_accelerator(n, c, h, w, x_zp, pads, tmp_path):
    g = G(31)
    x = g.input((n, c, h, w), DType.uint8)
    y = g.conv(x, 6, 3, x_zp=x_zp, y_zp=-5, pads=pads)
    g.g.outputs.append(y)
    acc = _check(g, tmp_path)
    assert acc["host_ops"] == []
    assert [ly["op"] for ly in acc["layers"]] == ["qcc.requant", "qcc.conv2d"]


def test_a_uint8_conv_input_from_an_accelerator_op(tmp_path):
    """uint8 produced on the accelerator (a requant to uint8, as after a Softmax) and read by
    a 1x1 conv and a second consumer that reads uint8 as it is (max pool keeps its input)."""
    g = G(32)
    x = g.input((1, 8, 5, 5))
    m, s = g.mult(1, 0.7)
    u = g.op("qcc.requant", [x, m, s], {"x_zp": 3, "y_zp": 7, "act_min": 0, "act_max": 255,
                                       "dtype": "u8"})
    y = g.conv(u, 4, 1, x_zp=7, y_zp=2)
    g.g.outputs.append(y)
    p = g.op("onnx.MaxPool", [u], {"kernel_shape": [2, 2], "strides": [1, 1]}, output=True)
    acc = _check(g, tmp_path)
    assert acc["host_ops"] == []
    assert p.dtype is DType.uint8


@pytest.mark.parametrize("shape,x_zp", [((3, 20), 0), ((2, 3, 9), 255)])
def test_a_uint8_linear_input_runs_on_the_accelerator(shape, x_zp, tmp_path):
    g = G(33)
    x = g.input(shape, DType.uint8)
    k, n = shape[-1], 11
    wt = g.const(g.rand((k, n)))
    b = g.const(g.rng.integers(-900, 900, n).astype(np.int32))
    g.op("qcc.linear", [x, wt, b, *g.mult(n, 0.02)], {"x_zp": x_zp, "y_zp": -1}, output=True)
    acc = _check(g, tmp_path)
    assert acc["host_ops"] == []
