"""Elementwise, table-driven (pooling, resize, data movement) and row kernels (softmax,
LayerNorm, reductions) of the Triton backend: many single-op cases in one graph, compiled
by the backend and run under the interpreter, equal to the reference bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tkit import check_cases

from c_testlib import Cases
from qcc import arith
from qcc.ir import DType
from qcc.ops.integer_transformer import igelu_consts, ilayernorm_consts, isoftmax_consts

SET = settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
SHAPES = st.sampled_from([((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (3, 1)), ((1, 5), (4, 1)),
                          ((3, 4, 5), ()), ((2, 1, 3, 1), (1, 4, 1, 5))])


def _zp(cs, dt=DType.int8):
    return int(cs.rng.integers(dt.min, dt.max + 1))


@SET
@given(shapes=SHAPES, seed=st.integers(0, 2**16), dts=st.sampled_from(
    [(DType.int8, DType.int8), (DType.uint8, DType.int8), (DType.int16, DType.int16)]))
def test_binary_requant_broadcast(tmp_path, shapes, seed, dts):
    cs = Cases(seed)
    a, b = cs.rand_input(shapes[0], dts[0]), cs.rand_input(shapes[1], dts[1])
    za, zb = _zp(cs, dts[0]) if dts[0] is not DType.int16 else 0, _zp(cs, dts[1]) if dts[1] is not DType.int16 else 0
    for op in ("qcc.add", "qcc.sub"):
        ms, s = arith.quantize_multipliers_shared(np.exp(cs.rng.uniform(-3, 1.5, 2)))
        y_zp = _zp(cs)
        cs.op(op, [a, b, cs.const(ms.astype(np.int32)), cs.const(np.array([s], np.int32))],
              {"a_zp": za, "b_zp": zb, "y_zp": y_zp, "act_min": y_zp, "act_max": 127})
    m, s = cs.mult(1, 1e-5, 1e-1)
    cs.op("qcc.mul", [a, b, m, s], {"a_zp": za, "b_zp": zb, "y_zp": _zp(cs), "dtype": "i16"})
    x32 = cs.input(cs.rng.integers(-(1 << 31), 1 << 31, shapes[0]).astype(np.int32))
    half = [cs.const(np.array([1 << 30], np.int32)), cs.const(np.array([31], np.int32))]
    cs.op("qcc.requant", [a] + half, {"x_zp": za})  # r = 1/2: odd values are exact ties
    for x, dt in ((a, "i8"), (x32, "u8"), (a, "i32")):
        m, s = cs.mult(1, 1e-4, 4.0)
        cs.op("qcc.requant", [x, m, s], {"dtype": dt})
        ax = len(shapes[0]) - 1
        m2, s2 = cs.mult(shapes[0][ax], 1e-3, 2.0)
        cs.op("qcc.requant", [x, m2, s2], {"axis": ax, "dtype": dt, "y_zp": 3 if dt != "i32" else 0})
    check_cases(cs, tmp_path)


def test_lut_concat_pools_reductions(tmp_path):
    cs = Cases(3)
    x = cs.rand_input((2, 3, 7, 6))
    u = cs.rand_input((2, 5), DType.uint8)
    cs.op("qcc.lut", [x, cs.const(cs.rng.integers(-128, 128, 256).astype(np.int8))])
    cs.op("qcc.lut", [u, cs.const(cs.rng.integers(0, 256, 256).astype(np.uint8))])
    half = [cs.const(np.array([1 << 30], np.int32)), cs.const(np.array([31], np.int32))]
    cs.op("qcc.requant", [x] + half, {"x_zp": 0})  # r = 1/2: odd x are exact ties (+inf)
    x2 = cs.rand_input((2, 2, 7, 6))
    m, s = cs.mult(2, 0.3, 2.0)
    cs.op("qcc.concat", [x, x2, m, s], {"axis": 1, "zps": [_zp(cs), _zp(cs)], "y_zp": _zp(cs)})
    cs.op("onnx.Concat", [x, x2, x], {"axis": 1})
    cs.op("onnx.Concat", [x, x], {"axis": 3})
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
        for op in ("onnx.ReduceMax", "onnx.ReduceMin"):
            cs.op(op, [x, cs.const(np.array(axes, np.int64))], {"keepdims": keep})
    check_cases(cs, tmp_path)


@SET
@given(hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       out=st.tuples(st.integers(1, 13), st.integers(1, 13)),
       ctm=st.sampled_from(["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]),
       nm=st.sampled_from(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]),
       seed=st.integers(0, 2**16))
def test_resize(tmp_path, hw, out, ctm, nm, seed):
    cs = Cases(seed)
    x = cs.rand_input((1, 2) + hw)
    zp = _zp(cs)
    for mode in ("nearest", "linear"):
        cs.op("qcc.resize", [x], {"sizes": list(out), "mode": mode, "x_zp": zp,
                                  "coordinate_transformation_mode": ctm, "nearest_mode": nm})
    check_cases(cs, tmp_path)


def test_logic_minmax_argmax_moves(tmp_path):
    """Comparisons, boolean and bitwise ops, Where, Cast, wrapping integer arithmetic,
    Max/Min/Clip, ArgMax/ArgMin with ties, and the table-driven copies (Transpose,
    Slice, Pad, Tile, Split, Gather with constant and run-time indices)."""
    cs = Cases(11)
    a, b = cs.rand_input((2, 3, 5)), cs.rand_input((3, 1))
    for op in ("onnx.Equal", "onnx.Less", "onnx.GreaterOrEqual", "onnx.Max", "onnx.Min",
               "onnx.BitwiseAnd", "onnx.BitwiseXor"):
        cs.op(op, [a, b])
    cs.op("onnx.Add", [a, b])  # wraps in int8
    i64 = cs.input(cs.rng.integers(-(1 << 40), 1 << 40, (4, 3)).astype(np.int64))
    cs.op("onnx.Mul", [i64, cs.const(np.array(12345, np.int64))])
    bb = cs.op("onnx.Less", [a, b], output=False)
    nb = cs.op("onnx.Not", [bb])
    cs.op("onnx.And", [bb, nb])
    cs.op("onnx.Where", [bb, a, b])
    for to in (DType.int8, DType.uint8, DType.int32, DType.bool):
        cs.op("onnx.Cast", [i64], {"to": to.onnx})
    cs.op("onnx.Clip", [a, cs.const(np.array(-20, np.int8)), cs.const(np.array(90, np.int8))])
    cs.op("onnx.Clip", [cs.rand_input((4, 4), DType.uint8), cs.const(np.array(7, np.uint8))])
    t = cs.input(cs.rng.integers(-3, 3, (3, 6, 4)).astype(np.int8), DType.int8)  # many ties
    for op in ("onnx.ArgMax", "onnx.ArgMin"):
        for last in (0, 1):
            cs.op(op, [t], {"axis": 1, "keepdims": 1, "select_last_index": last})
    cs.op("onnx.Transpose", [t], {"perm": [2, 0, 1]})
    cs.op("onnx.Slice", [t, cs.const(np.array([0, 5], np.int64)), cs.const(np.array([3, 0], np.int64)),
                         cs.const(np.array([0, 1], np.int64)), cs.const(np.array([1, -2], np.int64))])
    cs.op("onnx.Pad", [t, cs.const(np.array([0, 1, 0, 1, 2, 1], np.int64)),
                       cs.const(np.array(-7, np.int8))])
    cs.op("onnx.Tile", [t, cs.const(np.array([1, 2, 1], np.int64))])
    cs.op("onnx.Split", [t, cs.const(np.array([2, 4], np.int64))], {"axis": 1}, n_out=2)
    cs.op("onnx.Gather", [t, cs.const(np.array([[2, 0], [1, 1]], np.int64))], {"axis": 1})
    ids = cs.input(np.array([[3, 0, -1, 5]], np.int64))
    table = cs.rand_input((6, 5))
    cs.op("onnx.Gather", [table, ids], {"axis": 0})
    check_cases(cs, tmp_path)


@SET
@given(seed=st.integers(0, 2**16), variant=st.sampled_from(["ibert", "shiftmax"]),
       n=st.integers(1, 40), xdt=st.sampled_from([DType.int32, DType.int8, DType.int16]),
       mask=st.sampled_from([None, "row", "full"]))
def test_isoftmax(tmp_path, seed, variant, n, xdt, mask):
    cs = Cases(seed)
    lim = {DType.int32: 1 << 20, DType.int8: 128, DType.int16: 1 << 15}[xdt]
    x = cs.input(cs.rng.integers(-lim, lim, (2, 3, n)).astype(xdt.np), xdt)
    k = isoftmax_consts(float(np.exp(cs.rng.uniform(-9, 0))), variant)
    args = [x, cs.const(np.array([k["mult"]], np.int32)), cs.const(np.array([k["shift"]], np.int32))]
    if mask == "row":
        args.append(cs.input((cs.rng.random((2, 1, n)) < 0.3).astype(np.int8), DType.int8))
    elif mask == "full":
        mk = (cs.rng.random((2, 3, n)) < 0.5).astype(np.uint8)
        mk[0, 0] = 1  # a fully masked row outputs zeros
        args.append(cs.input(mk, DType.uint8))
    cs.op("qcc.isoftmax", args, dict(k["attrs"], axis=-1))
    check_cases(cs, tmp_path)


@SET
@given(seed=st.integers(0, 2**16), c=st.integers(1, 70), xdt=st.sampled_from([DType.int8, DType.int16]),
       eps=st.sampled_from([0.0, 1e-5, 1e-12, 10.0]), scale=st.sampled_from([1e-3, 0.05, 3.0]))
def test_ilayernorm_igelu(tmp_path, seed, c, xdt, eps, scale):
    cs = Cases(seed)
    x = cs.rand_input((3, c), xdt)
    if xdt is DType.int16:  # include a constant row (variance 0)
        cs.feeds[x.name][1] = cs.feeds[x.name][1, 0]
    k = ilayernorm_consts(cs.rng.normal(1, 0.3, c), cs.rng.normal(0, 0.2, c), scale, 0.05, c, eps)
    cs.op("qcc.ilayernorm", [x, cs.const(k["gamma"]), cs.const(k["bias"]),
                             cs.const(np.array([k["mult"]], np.int32)),
                             cs.const(np.array([k["shift"]], np.int32))],
          {"x_zp": _zp(cs) if xdt is DType.int8 else 0, "eps_q": k["eps_q"],
           "eps_frac": k["eps_frac"], "y_zp": _zp(cs)})
    g = igelu_consts(float(cs.rng.uniform(1, 100)), 1024)
    m, s = arith.quantize_multiplier(g["out_scale"] / 0.05)
    cs.op("qcc.igelu", [cs.rand_input((2, c), DType.int16), cs.const(np.array([m], np.int32)),
                        cs.const(np.array([s], np.int32))], dict(g["attrs"], y_zp=_zp(cs)))
    check_cases(cs, tmp_path)


def test_ilayernorm_outlier_rows(tmp_path):
    """Rows dominated by one value take the refined (smaller) row shift: same in Triton."""
    cs = Cases(5)
    c = 257
    xs = np.full((2, c), -537, np.int16)
    xs[0, 100], xs[1, 3] = 32767, -32768
    k = ilayernorm_consts(np.ones(c), np.zeros(c), 0.01, 17.0 / 32767, c, 1e-5)  # int16 out: fine steps
    cs.op("qcc.ilayernorm", [cs.input(xs, DType.int16), cs.const(k["gamma"]), cs.const(k["bias"]),
                             cs.const(np.array([k["mult"]], np.int32)),
                             cs.const(np.array([k["shift"]], np.int32))],
          {"x_zp": 0, "eps_q": k["eps_q"], "eps_frac": k["eps_frac"], "y_zp": 0, "dtype": "i16"})
    check_cases(cs, tmp_path)


def test_threshold_op(tmp_path):
    """``qcc.threshold`` (made by the lower-thresholds pass): int64 and int8 inputs at
    their extremes, an empty threshold list."""
    cs = Cases(4)
    big = np.array([np.iinfo(np.int64).min, -5, 0, 1, 7, 1 << 40, np.iinfo(np.int64).max], np.int64)
    x = cs.input(np.concatenate([big, cs.rng.integers(-10, 10, 20)]).astype(np.int64))
    t = cs.const(np.array([-5, 1, 2, 1 << 40], np.int64))
    cs.op("qcc.threshold", [x, t, cs.const(np.array([-128, -3, 0, 9, 127], np.int32))])
    cs.op("qcc.threshold", [x, cs.const(np.zeros(0, np.int64)), cs.const(np.array([4], np.int32))])
    x8 = cs.rand_input((3, 5))
    cs.op("qcc.threshold", [x8, cs.const(np.array([-100, 0, 50], np.int64)),
                            cs.const(np.array([0, 1, 2, 255], np.int32))], {"dtype": "u8"})
    check_cases(cs, tmp_path)


def test_isoftmax_over_a_non_last_axis(tmp_path):
    """``Target.softmax_any_axis``: rows at a stride (axis 0, 1 and a middle axis followed by
    a size-1 dim), both variants, bit-exact; the C target still refuses it by name."""
    import pytest

    from qcc.errors import LoweringError
    from qcc.lower import lower
    from qcc.backends.c.program import TARGET_DESC

    cs = Cases(21)
    for shape, axis, variant in (((3, 5, 4), 1, "ibert"), ((4, 3, 2), 0, "shiftmax"),
                                 ((2, 6, 1), -2, "ibert"), ((2, 3, 7), 1, "shiftmax")):
        x = cs.input(cs.rng.integers(-(1 << 12), 1 << 12, shape).astype(np.int32), DType.int32)
        k = isoftmax_consts(float(np.exp(cs.rng.uniform(-7, -2))), variant)
        cs.op("qcc.isoftmax", [x, cs.const(np.array([k["mult"]], np.int32)),
                               cs.const(np.array([k["shift"]], np.int32))], dict(k["attrs"], axis=axis))
    check_cases(cs, tmp_path)
    with pytest.raises(LoweringError, match="isoftmax node .* normalizes axis 1; the kernel handles the last"):
        lower(cs.g, "m", TARGET_DESC)


def test_maxpool_indices_output_is_a_clear_error(tmp_path):
    import pytest

    from qcc.errors import LoweringError
    from tkit import run_graph

    cs = Cases(2)
    x = cs.rand_input((1, 2, 4, 4))
    cs.op("onnx.MaxPool", [x], {"kernel_shape": [2, 2], "strides": [2, 2]}, n_out=2)
    with pytest.raises(LoweringError, match="MaxPool node '.*': its Indices output '.*' is used"):
        run_graph(cs.g, cs.feeds, tmp_path / "tt")


def test_reductions_over_rows_longer_than_one_block(tmp_path):
    """Sum (requantized mean), max, min and arg-max/min (first and last of many ties) over
    rows longer than the kernel's block (4096): the row is walked in blocks; pooling whose
    window is the whole plane uses the same row kernels."""
    cs = Cases(13)
    x = cs.input(cs.rng.integers(-3, 4, (2, 3, 80, 70)).astype(np.int8), DType.int8)  # 5600
    m, s = cs.mult(1, 1e-4, 1e-2)
    cs.op("qcc.global_avgpool", [x, m, s], {"x_zp": _zp(cs), "y_zp": _zp(cs)})
    m, s = cs.mult(1, 1e-4, 1e-2)
    cs.op("qcc.reduce_mean", [x, m, s], {"axes": [0, 2, 3], "keepdims": 0, "x_zp": 1})
    for op in ("onnx.ReduceMax", "onnx.ReduceMin"):
        cs.op(op, [x, cs.const(np.array([1, 2, 3], np.int64))], {"keepdims": 1})
    cs.op("onnx.MaxPool", [x], {"kernel_shape": [80, 70]})  # whole-plane windows: row kernels
    mm, ss = arith.quantize_multiplier(0.9 / np.arange(1, 80 * 70 + 1))
    cs.op("qcc.avgpool", [x, cs.const(mm.astype(np.int32)), cs.const(ss.astype(np.int32))],
          {"kernel_shape": [80, 70], "x_zp": _zp(cs), "y_zp": _zp(cs)})
    flat = cs.input(cs.rng.integers(-2, 3, (3, 9000)).astype(np.int8), DType.int8)
    for op in ("onnx.ArgMax", "onnx.ArgMin"):
        for last in (0, 1):
            cs.op(op, [flat], {"axis": 1, "keepdims": 0, "select_last_index": last})
    check_cases(cs, tmp_path)
    import json

    man = json.loads((tmp_path / "tt" / "manifest.json").read_text())
    pools = [r for r in man["layers"] if r["family"] == "pool"]
    assert len(pools) == 2 and all(r["template"] == "row" for r in pools)
