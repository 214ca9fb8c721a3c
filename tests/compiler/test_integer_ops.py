"""Integer dense and elementwise ops vs independent slow references
(docs/integer_ops.md).  Pooling, resize and LUT: test_integer_pool_lut.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto
from integer_helpers import (conv2d_ref, float_requant_ref, mults, onnx_run, ref_requant,
                             ref_requant_array, run_op)

from qcc import arith
from qcc.errors import QccError
from qcc.ir import DType

SEED = st.integers(0, 2**32 - 1)
ZP = st.sampled_from([-128, -1, 0, 5, 127])
WBITS = {8: DType.int8, 4: DType.int4, 2: DType.int2}


@st.composite
def conv_cases(draw):
    group = draw(st.integers(1, 3))
    cg, mg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if draw(st.booleans()):  # depthwise
        cg, mg = 1, draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dil = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    strides = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    h = draw(st.integers(max(1, dil[0] * (kh - 1) + 1 - pads[0] - pads[2]), 7))
    w = draw(st.integers(max(1, dil[1] * (kw - 1) + 1 - pads[1] - pads[3]), 7))
    return dict(n=draw(st.integers(1, 2)), group=group, cg=cg, mg=mg, kh=kh, kw=kw, h=h, w=w,
                dil=dil, pads=pads, strides=strides, bits=draw(st.sampled_from([8, 4, 2])),
                x_zp=draw(ZP), y_zp=draw(ZP), seed=draw(SEED), relu=draw(st.booleans()))


def _conv_inputs(c):
    rng = np.random.default_rng(c["seed"])
    C, M = c["group"] * c["cg"], c["group"] * c["mg"]
    x = rng.integers(-128, 128, (c["n"], C, c["h"], c["w"])).astype(np.int8)
    dt = WBITS[c["bits"]]
    w = rng.integers(dt.min, dt.max + 1, (M, c["cg"], c["kh"], c["kw"])).astype(np.int8)
    bias = rng.integers(-5000, 5000, M).astype(np.int32)
    return rng, x, w, dt, bias, M


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_conv2d_exact_vs_direct_loops(c):
    rng, x, w, dt, bias, M = _conv_inputs(c)
    attrs = dict(strides=c["strides"], pads=c["pads"], dilations=c["dil"], group=c["group"],
                 x_zp=c["x_zp"])
    acc_ref = conv2d_ref(x.astype(np.int64) - c["x_zp"], w, c["strides"], c["pads"], c["dil"],
                         c["group"]) + bias.reshape(1, -1, 1, 1)
    acc = run_op("qcc.conv2d", [x, w, bias], attrs, consts={1, 2}, dtypes={1: dt})
    assert acc.dtype == np.int32 and np.array_equal(acc, acc_ref)
    m, s = mults(rng, M)
    lo = c["y_zp"] if c["relu"] else -128
    y = run_op("qcc.conv2d", [x, w, bias, m, s],
               dict(attrs, y_zp=c["y_zp"], act_min=lo, act_max=127), consts={1, 2, 3, 4},
               dtypes={1: dt})
    assert y.dtype == np.int8
    assert np.array_equal(y, ref_requant_array(acc_ref, m, s, c["y_zp"], lo, 127, axis=1))


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_conv2d_within_one_lsb_of_float(c):
    """Scale bookkeeping: requantized conv vs the float conv of dequantized values."""
    rng, x, w, dt, bias, M = _conv_inputs(c)
    s_x, s_y = float(np.float32(rng.uniform(0.01, 0.1))), float(np.float32(rng.uniform(0.05, 2)))
    s_w = arith.f32_scale(rng.uniform(0.001, 0.05, M))
    m, s = arith.quantize_multiplier(s_x * s_w / s_y)
    y = run_op("qcc.conv2d", [x, w, bias, m, s],
               dict(strides=c["strides"], pads=c["pads"], dilations=c["dil"], group=c["group"],
                    x_zp=c["x_zp"], y_zp=c["y_zp"]), consts={1, 2, 3, 4}, dtypes={1: dt})
    xf = (x.astype(np.float64) - c["x_zp"]) * s_x
    wf = w.astype(np.float64) * s_w.reshape(-1, 1, 1, 1)
    bf = bias * s_x * s_w
    real = onnx_run("Conv", {"x": xf, "w": wf, "b": bf},
                    dict(strides=c["strides"], pads=c["pads"], dilations=c["dil"],
                         group=c["group"]))
    ref = float_requant_ref(real, s_y, c["y_zp"], -128, 127)
    assert np.abs(y.astype(np.int64) - ref).max(initial=0) <= 1


@st.composite
def convt_cases(draw):
    c = draw(conv_cases())
    c["out_pad"] = [draw(st.integers(0, c["strides"][i] - 1)) for i in range(2)]
    full = [(c["h"] - 1) * c["strides"][0] + c["dil"][0] * (c["kh"] - 1) + 1 + c["out_pad"][0],
            (c["w"] - 1) * c["strides"][1] + c["dil"][1] * (c["kw"] - 1) + 1 + c["out_pad"][1]]
    c["pads"] = [min(c["pads"][0], (full[0] - 1) // 2), min(c["pads"][1], (full[1] - 1) // 2),
                 min(c["pads"][2], (full[0] - 1) // 2), min(c["pads"][3], (full[1] - 1) // 2)]
    return c


@settings(max_examples=50, deadline=None)
@given(convt_cases())
def test_conv_transpose2d_vs_onnx_reference(c):
    rng = np.random.default_rng(c["seed"])
    C, M = c["group"] * c["cg"], c["group"] * c["mg"]
    x = rng.integers(-128, 128, (c["n"], C, c["h"], c["w"])).astype(np.int8)
    dt = WBITS[c["bits"]]
    w = rng.integers(dt.min, dt.max + 1, (C, c["mg"], c["kh"], c["kw"])).astype(np.int8)
    bias = rng.integers(-5000, 5000, M).astype(np.int32)
    attrs = dict(strides=c["strides"], pads=c["pads"], dilations=c["dil"], group=c["group"],
                 output_padding=c["out_pad"])
    # onnxruntime ConvTranspose in float32 is exact for these small integers (< 2^24);
    # onnx.reference's grouped ConvTranspose fails on some shapes
    f32 = np.float32
    ref = onnx_run("ConvTranspose", {"x": (x.astype(np.int64) - c["x_zp"]).astype(f32),
                                     "w": w.astype(f32), "b": bias.astype(f32)}, attrs,
                   TensorProto.FLOAT, ort=True)
    acc = run_op("qcc.conv_transpose2d", [x, w, bias], dict(attrs, x_zp=c["x_zp"]),
                 consts={1, 2}, dtypes={1: dt})
    assert np.array_equal(acc, ref.astype(np.int64))
    m, s = mults(rng, M)
    y = run_op("qcc.conv_transpose2d", [x, w, bias, m, s],
               dict(attrs, x_zp=c["x_zp"], y_zp=c["y_zp"]), consts={1, 2, 3, 4}, dtypes={1: dt})
    assert np.array_equal(y, ref_requant_array(acc.astype(np.int64), m, s, c["y_zp"], -128, 127,
                                               axis=1))


def _obj_matmul(a, b):
    """Exact python-int matmul (object arrays), batch dims broadcast."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:]).astype(object)
    b = np.broadcast_to(b, batch + b.shape[-2:]).astype(object)
    out = np.empty(batch + (a.shape[-2], b.shape[-1]), object)
    for idx in np.ndindex(*batch):
        out[idx] = np.dot(a[idx], b[idx])
    return out.astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 40), st.integers(1, 9), st.sampled_from([8, 4, 2]),
       ZP, ZP, SEED, st.booleans())
def test_linear(rows, k, n, bits, x_zp, y_zp, seed, per_col):
    rng = np.random.default_rng(seed)
    dt = WBITS[bits]
    x = rng.integers(-128, 128, (2, rows, k)).astype(np.int8)
    w = rng.integers(dt.min, dt.max + 1, (k, n)).astype(np.int8)
    bias = rng.integers(-10**6, 10**6, n).astype(np.int32)
    acc_ref = _obj_matmul(x.astype(np.int64) - x_zp, w.astype(np.int64)) + bias
    acc = run_op("qcc.linear", [x, w, bias], dict(x_zp=x_zp), consts={1, 2}, dtypes={1: dt})
    assert np.array_equal(acc, acc_ref)
    m, s = mults(rng, n if per_col else 1)
    y = run_op("qcc.linear", [x, w, None, m, s], dict(x_zp=x_zp, y_zp=y_zp, act_min=y_zp),
               consts={1, 3, 4}, dtypes={1: dt})
    assert np.array_equal(y, ref_requant_array(acc_ref - bias, m, s, y_zp, y_zp, 127, axis=-1))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 2)), ((2, 1, 5, 6), (3, 6, 2)),
                        ((3, 7), (7, 3))]), ZP, ZP, ZP, SEED)
def test_matmul_act_x_act(shapes, a_zp, b_zp, y_zp, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    b = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    acc_ref = _obj_matmul(a.astype(np.int64) - a_zp, b.astype(np.int64) - b_zp)
    acc = run_op("qcc.matmul", [a, b], dict(a_zp=a_zp, b_zp=b_zp))
    assert np.array_equal(acc, acc_ref)
    m, s = mults(rng, 1, 1e-5, 1e-2)
    y = run_op("qcc.matmul", [a, b, m, s], dict(a_zp=a_zp, b_zp=b_zp, y_zp=y_zp), consts={2, 3})
    assert np.array_equal(y, ref_requant_array(acc_ref, m, s, y_zp, -128, 127))


def test_linear_within_one_lsb_of_float():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (16, 64)).astype(np.int8)
    w = rng.integers(-127, 128, (64, 10)).astype(np.int8)
    s_x, s_y, s_w = 0.02, 0.15, arith.f32_scale(rng.uniform(0.001, 0.01, 10))
    bias = arith.quantize_bias(rng.normal(0, 0.5, 10), s_x, s_w)
    m, s = arith.quantize_multiplier(s_x * s_w / s_y)
    y = run_op("qcc.linear", [x, w, bias, m, s], dict(x_zp=-7, y_zp=3), consts={1, 2, 3, 4})
    real = ((x - (-7.0)) * s_x) @ (w * s_w) + bias * s_x * s_w
    assert np.abs(y - float_requant_ref(real, s_y, 3, -128, 127)).max() <= 1


def test_int32_accumulator_edge_and_overflow():
    """K = 65793 worst case fits int32 exactly; one more term overflows and is rejected."""
    k = 65793
    x = np.full((1, k), -128, np.int8)
    w = np.full((k, 1), -128, np.int8)
    acc = run_op("qcc.linear", [x, w], dict(x_zp=127), consts={1})
    assert int(acc[0, 0]) == k * 255 * 128 == 2147483520  # INT32_MAX - 127
    x2 = np.full((1, k + 1), -128, np.int8)
    w2 = np.full((k + 1, 1), -128, np.int8)
    with pytest.raises(QccError, match="overflow"):
        run_op("qcc.linear", [x2, w2], dict(x_zp=127), consts={1})
    # bias bringing the accumulator to exactly INT32_MAX: allowed, output saturates
    b = np.array([arith.INT32_MAX - 255 * 127], np.int32)
    x3 = np.full((1, 1), 127, np.int8)
    w3 = np.full((1, 1), 127, np.int8)
    one = (np.array([1 << 30], np.int32), np.array([30], np.int32))
    acc3 = run_op("qcc.linear", [x3, w3, b], dict(x_zp=-128), consts={1, 2})
    assert int(acc3[0, 0]) == arith.INT32_MAX
    y = run_op("qcc.linear", [x3, w3, b, *one], dict(x_zp=-128, y_zp=-128), consts={1, 2, 3, 4})
    assert int(y[0, 0]) == 127


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (1, 3, 1)), ((5,), (2, 1)),
                        ((1, 4, 2, 2), (1, 4, 1, 1))]),
       ZP, ZP, ZP, st.floats(0.001, 1), st.floats(0.001, 1), st.floats(0.001, 1), SEED,
       st.sampled_from(["qcc.add", "qcc.sub"]))
def test_add_sub(shapes, a_zp, b_zp, y_zp, s_a, s_b, s_y, seed, op):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    b = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    ms, s = arith.quantize_multipliers_shared([s_a / s_y, s_b / s_y])
    y = run_op(op, [a, b, ms, np.array([s], np.int32)], dict(a_zp=a_zp, b_zp=b_zp, y_zp=y_zp),
               consts={2, 3})
    sign = 1 if op == "qcc.add" else -1
    A, B = np.broadcast_arrays(a.astype(np.int64) - a_zp, b.astype(np.int64) - b_zp)
    ref = np.array([ref_requant(int(p) * int(ms[0]) + sign * int(q) * int(ms[1]), 1, int(s),
                                y_zp, -128, 127) for p, q in zip(A.ravel(), B.ravel())])
    assert np.array_equal(y.ravel(), ref)
    real = A * s_a + sign * B * s_b
    assert np.abs(y - float_requant_ref(real, s_y, y_zp, -128, 127)).max() <= 1


@settings(max_examples=60, deadline=None)
@given(ZP, ZP, ZP, st.floats(0.001, 1), st.floats(0.001, 1), st.floats(0.001, 1), SEED)
def test_mul(a_zp, b_zp, y_zp, s_a, s_b, s_y, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (3, 4)).astype(np.int8)
    b = rng.integers(-128, 128, (1, 4)).astype(np.int8)
    m, s = arith.quantize_multiplier(s_a * s_b / s_y)
    y = run_op("qcc.mul", [a, b, np.array([m]), np.array([s])],
               dict(a_zp=a_zp, b_zp=b_zp, y_zp=y_zp), consts={2, 3})
    P = (a.astype(np.int64) - a_zp) * (b.astype(np.int64) - b_zp)
    assert np.array_equal(y, ref_requant_array(P, m, s, y_zp, -128, 127))
    assert np.abs(y - float_requant_ref(P * s_a * s_b, s_y, y_zp, -128, 127)).max() <= 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), ZP, SEED, st.booleans())
def test_concat(n, y_zp, seed, identity):
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, (2, int(rng.integers(1, 4)), 3)).astype(np.int8) for _ in range(n)]
    zps = [int(z) for z in rng.integers(-128, 128, n)]
    if identity:
        m, s = np.full(n, 1 << 30, np.int32), np.full(n, 30, np.int32)
        zps, y_zp = [0] * n, 0
    else:
        m, s = mults(rng, n, 0.2, 3.0)
    y = run_op("qcc.concat", xs + [m, s], dict(axis=1, zps=zps, y_zp=y_zp), consts={n, n + 1})
    parts = [ref_requant_array(x.astype(np.int64) - z, m[i], s[i], y_zp, -128, 127)
             for i, (x, z) in enumerate(zip(xs, zps))]
    assert np.array_equal(y, np.concatenate(parts, axis=1))
    if identity:
        assert np.array_equal(y, np.concatenate(xs, axis=1))


@settings(max_examples=40, deadline=None)
@given(ZP, ZP, SEED, st.sampled_from(["i8", "u8", "i16", "i32"]))
def test_requant_op_per_channel(x_zp, y_zp, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2**31, 2**31, (2, 3, 4), dtype=np.int64).astype(np.int32)
    m, s = mults(rng, 3, 1e-9, 4.0)
    lo, hi = {"i8": (-128, 127), "u8": (0, 255), "i16": (-2**15, 2**15 - 1),
              "i32": (arith.INT32_MIN, arith.INT32_MAX)}[dtype]
    y_zp = min(max(y_zp, lo), hi)
    y = run_op("qcc.requant", [x, m, s], dict(axis=1, y_zp=y_zp, dtype=dtype), consts={1, 2})
    assert np.array_equal(y, ref_requant_array(x.astype(np.int64), m, s, y_zp, lo, hi, axis=1))
    x8 = rng.integers(-128, 128, (5, 3)).astype(np.int8)
    y8 = run_op("qcc.requant", [x8, np.array([m[0]]), np.array([s[0]])],
                dict(x_zp=x_zp, y_zp=y_zp, dtype=dtype), consts={1, 2})
    assert np.array_equal(y8, ref_requant_array(x8.astype(np.int64) - x_zp, m[0], s[0], y_zp, lo, hi))


def test_quantize_dequantize_ops():
    x = np.linspace(-3, 3, 97).astype(np.float32)
    q = run_op("qcc.quantize", [x], dict(scale=0.025, zero_point=-5))
    assert q.dtype == np.int8 and np.array_equal(q, arith.quantize(x, 0.025, -5))
    qu = run_op("qcc.quantize", [x], dict(scale=0.025, zero_point=128, dtype="u8"))
    assert qu.dtype == np.uint8 and np.array_equal(qu, arith.quantize(x, 0.025, 128, 0, 255))
    d = run_op("qcc.dequantize", [q], dict(scale=0.025, zero_point=-5))
    assert d.dtype == np.float32 and np.array_equal(d, arith.dequantize(q, 0.025, -5))
    ref = onnx_run("DequantizeLinear", {"q": q}, {}, TensorProto.FLOAT,
                   init={"s": np.array(0.025, np.float32), "z": np.array(-5, np.int8)})
    assert np.array_equal(d, ref)


def test_infer_rejects_bad_nodes():
    x = np.zeros((1, 2, 4, 4), np.int8)
    w = np.zeros((3, 2, 3, 3), np.int8)
    with pytest.raises(QccError, match="constant"):
        run_op("qcc.conv2d", [x, w], {}, consts=set())
    with pytest.raises(QccError, match="group"):
        run_op("qcc.conv2d", [x, w], dict(group=2), consts={1})
    with pytest.raises(QccError, match="weight values"):
        run_op("qcc.conv2d", [x, np.full((3, 2, 3, 3), 9, np.int8)], {}, consts={1},
               dtypes={1: DType.int4})
    m, s = np.array([1 << 30], np.int32), np.array([63], np.int32)
    with pytest.raises(QccError, match="shift"):
        run_op("qcc.conv2d", [x, w, None, m, s], {}, consts={1, 3, 4})
    with pytest.raises(QccError, match="clamp"):
        run_op("qcc.conv2d", [x, w, None, m, np.array([30], np.int32)], dict(act_min=-200),
               consts={1, 3, 4})
    with pytest.raises(QccError, match="both"):
        run_op("qcc.conv2d", [x, w, None, m], {}, consts={1, 3})


def test_integer_graph_is_integer_only_and_round_trips(tmp_path):
    """quantize -> conv2d(int4) -> add -> concat -> global_avgpool -> dequantize."""
    from qcc.interp import Interpreter
    from qcc.ir import Graph, TensorType
    from qcc.ir.serialize import load, save
    from qcc.ir.verifier import check_integer_only, verify
    from qcc.ops import all_ops, infer_types

    rng = np.random.default_rng(3)
    g = Graph("int")
    x = g.add_input("x", TensorType(DType.float32, (1, 2, 5, 5)))
    i32 = lambda a: g.add_const("c", np.asarray(a, np.int32))  # noqa: E731

    def node(op, ins, **attrs):
        out = g.new_value(op.split(".")[1], TensorType(DType.int8, ()))
        n = g.add_node(op, ins, [out], attrs)
        out.type = infer_types(n)[0]
        return out

    q = node("qcc.quantize", [x], scale=0.05, zero_point=-3)
    w = g.add_const("w", rng.integers(-8, 8, (4, 2, 3, 3)).astype(np.int8), DType.int4)
    m, s = mults(rng, 4)
    c = node("qcc.conv2d", [q, w, i32(rng.integers(-99, 99, 4)), i32(m), i32(s)],
             pads=[1, 1, 1, 1], x_zp=-3, y_zp=2, act_min=2)
    ms, sh = arith.quantize_multipliers_shared([0.7, 0.4])
    a = node("qcc.add", [c, c, i32(ms), i32([sh])], a_zp=2, b_zp=2, y_zp=-1)
    cat = node("qcc.concat", [a, c, i32([1 << 30, 1 << 30]), i32([30, 31])], axis=1, zps=[-1, 2])
    gm, gs = arith.quantize_multiplier(1 / 25)
    p = node("qcc.global_avgpool", [cat, i32([gm]), i32([gs])])
    y = g.add_node("qcc.dequantize", [p], [g.new_value("y", TensorType(DType.float32, p.shape))],
                   dict(scale=0.1, zero_point=0)).outputs[0]
    g.outputs.append(y)
    verify(g)
    check_integer_only(g)
    feeds = {"x": rng.normal(0, 1, (1, 2, 5, 5)).astype(np.float32)}
    before = Interpreter(g).run(feeds)["y"]
    save(g, str(tmp_path / "m.qcc"))
    g2 = load(str(tmp_path / "m.qcc"))
    verify(g2)
    assert np.array_equal(Interpreter(g2).run(feeds)["y"], before)
    ops = all_ops()
    for name in ("qcc.requant", "qcc.conv2d", "qcc.conv_transpose2d", "qcc.linear", "qcc.matmul",
                 "qcc.add", "qcc.sub", "qcc.mul", "qcc.concat", "qcc.avgpool",
                 "qcc.global_avgpool", "qcc.reduce_mean", "qcc.resize", "qcc.lut"):
        assert not ops[name].float_arith, name
