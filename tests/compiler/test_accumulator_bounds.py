"""Static int32 accumulator bounds (issue 18): every accumulating integer op carries a
bound that check-headroom proves; a reduction whose sum can leave int32 gets the int64
accumulator (tests/compiler/test_widen_accumulators.py), or is refused with a line naming
the node when that pass is disabled; one that just fits runs bit-exact in the
interpreter and in C built with UBSan.

The edge: calibrated on all-ones input, an int8 activation has zero point -128, so
each centered value is 255 and a sum of ``N`` values needs ``255 * N <= 2^31 - 1``,
i.e. ``N <= 8 421 504``."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from qcc_testlib import assert_error, assert_ok, f32_input, make_model, qcc, qcc_inproc

EDGE = (2 ** 31 - 1) // 255  # 8 421 504


def _reduce_model(op: str, n: int) -> onnx.ModelProto:
    """x[1, 1, 2, n/2] -> op over the spatial axes -> y."""
    shape = [1, 1, 2, n // 2]
    if op == "GlobalAveragePool":
        node = helper.make_node(op, ["x"], ["y"], name="pool")
        out = [1, 1, 1, 1]
    else:
        node = helper.make_node(op, ["x", "axes"], ["y"], name="pool", keepdims=1)
        out = [1, 1, 1, 1]
    inits = [] if op == "GlobalAveragePool" else [numpy_helper.from_array(np.array([2, 3], np.int64), "axes")]
    return make_model([node], [f32_input("x", shape)], [f32_input("y", out)], inits, opset=18)


def _avgpool_model(k: int) -> onnx.ModelProto:
    node = helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[2, k // 2])
    return make_model([node], [f32_input("x", [1, 1, 2, k // 2])], [f32_input("y", [1, 1, 1, 1])])


def test_sum_over_the_edge_is_refused_without_the_widening(tmp_path, capsys):
    """With widen-accumulators disabled, check-headroom refuses naming node and intermediate."""
    n = EDGE + 2
    onnx.save(_reduce_model("GlobalAveragePool", n), str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "c.npz", x=np.ones((1, 1, 2, n // 2), np.float32))
    p = qcc_inproc(capsys, "compile", tmp_path / "m.onnx", "--calib", tmp_path / "c.npz",
                   "--target", "c", "-o", tmp_path / "out", "--disable-pass", "widen-accumulators")
    assert_error(p, "'pool'", "acc", "more bit")
    assert not (tmp_path / "out").exists()


def test_check_headroom_cannot_be_disabled_to_pass_an_overflow(tmp_path, capsys):
    onnx.save(_reduce_model("GlobalAveragePool", EDGE + 2), str(tmp_path / "m.onnx"))
    np.savez(tmp_path / "c.npz", x=np.ones((1, 1, 2, (EDGE + 2) // 2), np.float32))
    p = qcc_inproc(capsys, "compile", tmp_path / "m.onnx", "--calib", tmp_path / "c.npz",
                   "--target", "c", "-o", tmp_path / "out", "--disable-pass", "check-headroom")
    assert_error(p, "check-headroom", "cannot be disabled")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="sanitizer runtimes: linux gcc")
@pytest.mark.parametrize("op", ["GlobalAveragePool", "ReduceSum"])
def test_sum_at_the_edge_is_exact_in_c_under_ubsan(tmp_path, op):
    from qcc.backends.c.build import build, run_samples
    from qcc.commands import run_artifact

    n = EDGE if EDGE % 2 == 0 else EDGE - 1
    m = _reduce_model(op, n)
    onnx.save(m, str(tmp_path / "m.onnx"))
    x = np.ones((1, 1, 2, n // 2), np.float32)
    np.savez(tmp_path / "c.npz", x=x)
    assert_ok(qcc("compile", tmp_path / "m.onnx", "--calib", tmp_path / "c.npz", "--target", "c",
                  "-o", tmp_path / "out"))
    out = tmp_path / "out"
    man = json.loads((out / "manifest.json").read_text())
    assert man["passes"]["check-headroom"]["min_bits"] >= 0
    flags = ("-O1", "-g", "-fsanitize=undefined", "-fno-sanitize-recover=all")
    binary = build(str(out), extra_cflags=flags)
    got = run_samples(str(out), [{"x": x}], man, binary=binary)[0]["y"]
    ref = run_artifact(str(out), {"x": x}, "reference")["y"]
    assert np.array_equal(got, ref)
    want = 1.0 if op == "GlobalAveragePool" else float(n)
    assert abs(float(got.ravel()[0]) - want) < 0.01 * want  # the float answer, not a wrapped sum


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 1 << 26), zp=st.integers(-128, 127))
def test_sum_bound_matches_the_int32_edge(count, zp):
    """The bound rule is exact at the edge: accepted iff the worst sum fits int32."""
    from qcc.ir import DType, Graph, TensorType, Value
    from qcc.passes.check_headroom import analyse

    g = Graph(name="t", opset=17)
    x = g.add_input("x", TensorType(DType.int8, (1, 1, 1, count)))
    y = Value("y", TensorType(DType.int8, (1, 1, 1, 1)))
    node = g.add_node("qcc.global_avgpool", [x, g.add_const("m", np.array([1 << 30], np.int32)),
                                              g.add_const("s", np.array([31], np.int32))],
                      [y], {"x_zp": zp, "y_zp": 0})
    amax = max(abs(-128 - zp), abs(127 - zp))
    rows = analyse(g)[node.name]["bounds"]
    assert (rows["acc"] >= 0) == (count * amax <= 2 ** 31 - 1)
    if rows["acc"] >= 0:
        assert rows["acc*mult"] >= 0  # |acc * m| < 2^31 * 2^30 fits int64
