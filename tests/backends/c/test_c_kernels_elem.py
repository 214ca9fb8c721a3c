"""Elementwise, pooling, reduction and resize kernels of the C backend vs the interpreter."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.ir import DType

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc
SETTINGS = settings(max_examples=5, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
SHAPES = st.sampled_from([((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (3, 1)), ((1, 5), (4, 1)),
                          ((3, 4, 5), ()), ((2, 1, 3, 1), (1, 4, 1, 5)), ((6,), (6,))])


def _zp(cs):
    return int(cs.rng.integers(-128, 128))


@SETTINGS
@given(shapes=SHAPES, seed=st.integers(0, 2**16))
def test_add_sub_mul_broadcast_exact(tmp_path, shapes, seed):
    cs = Cases(seed)
    a, b = cs.rand_input(shapes[0]), cs.rand_input(shapes[1])
    for op in ("qcc.add", "qcc.sub"):
        ra, rb = np.exp(cs.rng.uniform(-3, 1.5, 2))
        ms, s = arith.quantize_multipliers_shared([ra, rb])
        y_zp = _zp(cs)
        cs.op(op, [a, b, cs.const(ms.astype(np.int32)), cs.const(np.array([s], np.int32))],
              {"a_zp": _zp(cs), "b_zp": _zp(cs), "y_zp": y_zp, "act_min": y_zp, "act_max": 127})
    m, s = cs.mult(1, 1e-5, 1e-1)
    cs.op("qcc.mul", [a, b, m, s], {"a_zp": _zp(cs), "b_zp": _zp(cs), "y_zp": _zp(cs)})
    check_exact(cs, tmp_path / "c")


@SETTINGS
@given(shape=st.sampled_from([(2, 3, 4), (1, 5), (7,), (2, 3, 2, 2)]), seed=st.integers(0, 2**16),
       dts=st.sampled_from([(DType.int8, "i8"), (DType.int32, "i8"), (DType.int8, "u8"),
                            (DType.int16, "i16"), (DType.uint8, "i8"), (DType.int8, "i32")]))
def test_requant_exact(tmp_path, shape, seed, dts):
    cs = Cases(seed)
    xdt, ydt = dts
    x = cs.rand_input(shape, xdt) if xdt is not DType.int32 else \
        cs.input(cs.rng.integers(-(1 << 31), 1 << 31, shape).astype(np.int32))
    xzp = _zp(cs) if xdt is DType.int8 else 0
    m, s = cs.mult(1, 1e-4, 4.0)
    cs.op("qcc.requant", [x, m, s], {"x_zp": xzp, "dtype": ydt})
    axis = len(shape) - 1
    m2, s2 = cs.mult(shape[axis], 1e-3, 2.0)
    cs.op("qcc.requant", [x, m2, s2], {"x_zp": xzp, "axis": axis, "dtype": ydt})
    check_exact(cs, tmp_path / "c")


def test_lut_concat_pools_exact(tmp_path):
    cs = Cases(3)
    x = cs.rand_input((2, 3, 7, 6))
    u = cs.rand_input((2, 5), DType.uint8)
    cs.op("qcc.lut", [x, cs.const(cs.rng.integers(-128, 128, 256).astype(np.int8))])
    half = [cs.const(np.array([1 << 30], np.int32)), cs.const(np.array([31], np.int32))]
    cs.op("qcc.requant", [x] + half, {"x_zp": 0})  # r = 1/2: odd x are exact ties (+inf)
    cs.op("qcc.lut", [u, cs.const(cs.rng.integers(0, 256, 256).astype(np.uint8))])
    x2 = cs.rand_input((2, 2, 7, 6))
    m, s = cs.mult(2, 0.3, 2.0)
    cs.op("qcc.concat", [x, x2, m, s], {"axis": 1, "zps": [_zp(cs), _zp(cs)], "y_zp": _zp(cs)})
    m16, s16 = cs.mult(2, 30.0, 300.0)  # int8 parts of a wide (int16) concat, as detection heads get
    cs.op("qcc.concat", [x, x2, m16, s16], {"axis": 1, "zps": [_zp(cs), _zp(cs)], "dtype": "i16",
                                              "y_zp": int(cs.rng.integers(-30000, 30000))})
    for k, st_, pads, inc in (((3, 3), (2, 2), [1, 1, 1, 1], 0), ((2, 3), (1, 2), [0, 1, 1, 2], 1)):
        mm, ss = arith.quantize_multiplier(0.9 / np.arange(1, k[0] * k[1] + 1))
        cs.op("qcc.avgpool", [x, cs.const(mm.astype(np.int32)), cs.const(ss.astype(np.int32))],
              {"kernel_shape": list(k), "strides": list(st_), "pads": pads,
               "count_include_pad": inc, "x_zp": _zp(cs), "y_zp": _zp(cs)})
        cs.op("onnx.MaxPool", [x], {"kernel_shape": list(k), "strides": list(st_), "pads": pads})
    m, s = cs.mult(1, 1e-3, 0.1)
    cs.op("qcc.global_avgpool", [x, m, s], {"x_zp": _zp(cs), "y_zp": _zp(cs)})
    for axes, keep in (([1], 1), ([2, 3], 0), ([0, 2], 1)):
        m, s = cs.mult(1, 1e-2, 0.5)
        cs.op("qcc.reduce_mean", [x, m, s], {"axes": axes, "keepdims": keep, "x_zp": _zp(cs),
                                            "y_zp": _zp(cs)})
    check_exact(cs, tmp_path / "c")


@SETTINGS
@given(hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       out=st.tuples(st.integers(1, 13), st.integers(1, 13)),
       ctm=st.sampled_from(["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]),
       nm=st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]),
       seed=st.integers(0, 2**16))
def test_resize_exact(tmp_path, hw, out, ctm, nm, seed):
    cs = Cases(seed)
    x = cs.rand_input((1, 2) + hw)
    zp = _zp(cs)
    for mode in ("nearest", "linear"):
        cs.op("qcc.resize", [x], {"sizes": list(out), "mode": mode, "x_zp": zp,
                                  "coordinate_transformation_mode": ctm, "nearest_mode": nm})
    check_exact(cs, tmp_path / "c")


def test_max_min_clip_argmax_exact(tmp_path):
    """The legal onnx ops on integer tensors: Max/Min (broadcast), Clip with integer bounds
    (input or attribute form), ArgMax/ArgMin with ties (first / last index), int64 output."""
    cs = Cases(11)
    a, b = cs.rand_input((2, 3, 5)), cs.rand_input((3, 1))
    cs.op("onnx.Max", [a, b])
    cs.op("onnx.Min", [a, b])
    cs.op("onnx.Clip", [a, cs.const(np.array(-20, np.int8)), cs.const(np.array(90, np.int8))])
    cs.op("onnx.Clip", [cs.rand_input((4, 4), DType.uint8), cs.const(np.array(7, np.uint8))])
    t = cs.input(cs.rng.integers(-3, 3, (3, 6, 4)).astype(np.int8), DType.int8)  # many ties
    for op in ("onnx.ArgMax", "onnx.ArgMin"):
        for last in (0, 1):
            cs.op(op, [t], {"axis": 1, "keepdims": 1, "select_last_index": last})
    cs.op("onnx.ArgMax", [t], {"axis": -1, "keepdims": 0})
    manifest = check_exact(cs, tmp_path / "c")
    assert {"qcc_binary", "qcc_requant_op", "qcc_argmax"} <= {r["kernel"] for r in manifest["layers"]}


@SETTINGS
@given(c=st.integers(1, 4), hw=st.tuples(st.integers(3, 9), st.integers(3, 9)),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)), s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       pad=st.integers(0, 1), inc=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_random_pools_lut_concat_exact(tmp_path, c, hw, k, s, pad, inc, seed):
    """Random window shapes, strides and pads for avgpool/MaxPool; random tables and
    concat requantization."""
    cs = Cases(seed)
    x = cs.rand_input((1, c) + hw)
    pads = [min(pad, k[0] - 1), min(pad, k[1] - 1)] * 2
    mm, ss = arith.quantize_multiplier(cs.rng.uniform(0.3, 1.2) / np.arange(1, k[0] * k[1] + 1))
    cs.op("qcc.avgpool", [x, cs.const(mm.astype(np.int32)), cs.const(ss.astype(np.int32))],
          {"kernel_shape": list(k), "strides": list(s), "pads": pads, "count_include_pad": inc,
           "x_zp": _zp(cs), "y_zp": _zp(cs)})
    cs.op("onnx.MaxPool", [x], {"kernel_shape": list(k), "strides": list(s), "pads": pads})
    cs.op("qcc.lut", [x, cs.const(cs.rng.integers(-128, 128, 256).astype(np.int8))])
    x2 = cs.rand_input((1, int(cs.rng.integers(1, 4))) + hw)
    m, sh = cs.mult(2, 0.2, 3.0)
    cs.op("qcc.concat", [x, x2, m, sh], {"axis": 1, "zps": [_zp(cs), _zp(cs)], "y_zp": _zp(cs)})
    check_exact(cs, tmp_path / "c")


def test_narrowing_requant_runs_in_place_exact(tmp_path):
    """int8 -> int32 -> int16 -> int8 requant chain in the arena: each narrowing step takes
    over its input's bytes (ascending element order reads x[i] before y[i] is written)."""
    cs = Cases(21)
    x = cs.rand_input((3, 37))
    y = x
    for dt in ("i32", "i16", "i8"):
        m, s = cs.mult(1, 0.5, 300.0) if dt == "i32" else cs.mult(1, 1e-3, 0.9)
        y = cs.op("qcc.requant", [y, m, s], {"dtype": dt}, output=False)
    cs.op("qcc.lut", [y, cs.const(cs.rng.integers(-128, 128, 256).astype(np.int8))])
    manifest = check_exact(cs, tmp_path / "c")
    assert len(manifest["memory"]["inplace"]) == 2, manifest["memory"]  # i16 <- i32, i8 <- i16
