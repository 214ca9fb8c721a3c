"""fuse-tables: integer elementwise regions on one 8-bit tensor become one qcc.lut (per
tensor or per channel) that the reference interpreter runs to the same integers as the
region, for every input value in every channel; regions that are not functions of one
tensor (and channel) are left alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qcc.passes  # noqa: F401  (registers the passes)
from qcc import arith
from qcc.interp import Interpreter
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
from qcc.ops import infer_types
from qcc.passmanager import PassContext, get_pass


def _op(g: Graph, op, inputs, attrs=None, output=False):
    out = g.new_value("v", TensorType(DType.int8, ()))
    node = g.add_node(op, inputs, [out], attrs or {})
    out.type = infer_types(node)[0]
    if output:
        g.outputs.append(out)
    return out


def _mq(g: Graph, r):
    m, s = arith.quantize_multiplier(np.atleast_1d(np.asarray(r, np.float64)))
    return g.add_const("m", np.atleast_1d(m).astype(np.int32)), g.add_const("s", np.atleast_1d(s).astype(np.int32))


def _prelu(g: Graph, x, slopes, zp: int, yzp: int, ratio: float, dt: DType = DType.int8):
    """The quantizer's per-channel PRelu (rules_select._prelu_split) on int8 ``x``."""
    m, s = _mq(g, ratio)
    pos = _op(g, "qcc.requant", [x, m, s], {"x_zp": zp, "y_zp": yzp, "act_min": yzp, "act_max": 127})
    one_m, one_s = _mq(g, 1.0)
    neg = _op(g, "qcc.requant", [x, one_m, one_s], {"x_zp": zp, "y_zp": zp, "act_min": -128, "act_max": zp})
    sa = max(float(np.abs(slopes).max()), 1e-30) / 32767.0
    qa = g.add_const("a", np.clip(np.rint(slopes / sa), -32767, 32767).astype(np.int16).reshape(-1, 1, 1))
    m2, s2 = _mq(g, ratio * sa)
    an = _op(g, "qcc.mul", [neg, qa, m2, s2], {"a_zp": zp, "b_zp": 0, "y_zp": yzp})
    ms, sh = arith.quantize_multipliers_shared(np.array([1.0, 1.0]))
    return _op(g, "qcc.add", [pos, an, g.add_const("m", np.asarray(ms, np.int32).reshape(2)),
                              g.add_const("s", np.asarray(sh, np.int32).reshape(1))],
               {"a_zp": yzp, "b_zp": yzp, "y_zp": yzp})


def _every_value(shape, dt: DType, seed: int = 0) -> np.ndarray:
    """``shape`` [N, C, H, W] with H*W >= 256: every value of ``dt`` in every channel plane."""
    n, c, h, w = shape
    rng = np.random.default_rng(seed)
    base = np.arange(dt.min, dt.max + 1)
    planes = [rng.permutation(np.resize(base, h * w)) for _ in range(n * c)]
    return np.stack(planes).reshape(shape).astype(dt.np)


def _fuse(g: Graph) -> tuple[Graph, PassContext]:
    f = g.clone()
    ctx = PassContext()
    get_pass("fuse-tables").fn(f, ctx)
    get_pass("dce").fn(f, ctx)
    verify(f)
    return f, ctx


def _same(g: Graph, f: Graph, feeds: dict):
    want, got = Interpreter(g).run(feeds), Interpreter(f).run(feeds)
    for k, w in want.items():
        assert got[k].dtype == w.dtype and np.array_equal(got[k], w), k


@settings(max_examples=25, deadline=None)
@given(zp=st.sampled_from([-128, -127, 0, 5, 126, 127]), yzp=st.integers(-128, 127),
       ratio=st.floats(1e-3, 40.0), seed=st.integers(0, 2**16))
def test_prelu_chain_becomes_one_per_channel_table_exact(zp, yzp, ratio, seed):
    rng = np.random.default_rng(seed)
    g = Graph("prelu")
    x = g.add_input("x", TensorType(DType.int8, (1, 5, 16, 17)))
    slopes = rng.normal(0, 1, 5) * rng.choice([1e-3, 1.0, 30.0])
    y = _prelu(g, x, slopes, zp, yzp, ratio)
    g.outputs.append(y)
    f, ctx = _fuse(g)
    assert [n.op for n in f.nodes] == ["qcc.lut"]
    assert f.nodes[0].inputs[1].shape == (5, 256) and f.nodes[0].attr("axis") == 1
    assert ctx.report["fuse-tables"]["per_channel"] == 1
    _same(g, f, {"x": _every_value((1, 5, 16, 17), DType.int8, seed)})


def test_swish_like_region_per_tensor_table_and_downstream_use():
    """mul(x, lut(x)) then a requant: one [256] table; x's other reader stays."""
    g = Graph("swish")
    x = g.add_input("x", TensorType(DType.uint8, (2, 3, 16, 16)))
    t = g.add_const("t", np.random.default_rng(1).integers(0, 256, 256).astype(np.uint8))
    s = _op(g, "qcc.lut", [x, t])
    m, sh = _mq(g, 3e-3)
    p = _op(g, "qcc.mul", [x, s, m, sh], {"a_zp": 128, "b_zp": 3, "y_zp": -4})
    m2, s2 = _mq(g, 0.7)
    _op(g, "qcc.requant", [p, m2, s2], {"x_zp": -4, "y_zp": 9, "dtype": "u8"}, output=True)
    g.outputs.append(_op(g, "onnx.Max", [x, x]))  # x is read outside the region too
    f, _ = _fuse(g)
    luts = [n for n in f.nodes if n.op == "qcc.lut"]
    assert len(luts) == 1 and luts[0].inputs[1].shape == (256,) and luts[0].inputs[0] is not None
    assert luts[0].outputs[0].dtype == DType.uint8
    _same(g, f, {"x": _every_value((2, 3, 16, 16), DType.uint8)})


def test_channels_last_per_channel_table():
    g = Graph("last")
    x = g.add_input("x", TensorType(DType.int8, (256, 6)))
    m, s = _mq(g, np.linspace(0.01, 2.0, 6))
    r = _op(g, "qcc.requant", [x, m, s], {"x_zp": 3, "y_zp": -2, "axis": 1})
    m2, s2 = _mq(g, 0.02)
    b = g.add_const("b", np.arange(-3, 3, dtype=np.int8).reshape(1, 6))
    _op(g, "qcc.mul", [r, b, m2, s2], {"a_zp": -2, "b_zp": 0, "y_zp": 1}, output=True)
    f, _ = _fuse(g)
    assert [n.op for n in f.nodes] == ["qcc.lut"] and f.nodes[0].inputs[1].shape == (6, 256)
    xs = np.stack([np.random.default_rng(c).permutation(256) - 128 for c in range(6)], 1)
    _same(g, f, {"x": xs.astype(np.int8)})


def _chain(g, x, out_inner=False, const_shape=(1, 4, 1, 1), rank_out=None):
    m, s = _mq(g, 0.5)
    r = _op(g, "qcc.requant", [x, m, s], {"x_zp": 0, "y_zp": 0}, output=out_inner)
    b = g.add_const("b", np.full(const_shape, 3, np.int8))
    m2, s2 = _mq(g, 0.1)
    return _op(g, "qcc.mul", [r, b, m2, s2], {"a_zp": 0, "b_zp": 0, "y_zp": 0}, output=True)


@pytest.mark.parametrize("case", ["inner_is_output", "inner_read_outside", "two_axes",
                                  "broadcast_grows", "int32_result", "two_tensors", "single_node"])
def test_regions_that_are_not_tables_stay(case):
    g = Graph(case)
    x = g.add_input("x", TensorType(DType.int8, (1, 4, 8, 8)))
    before = None
    if case == "inner_is_output":
        _chain(g, x, out_inner=True)
    elif case == "inner_read_outside":
        _chain(g, x)
        r = g.nodes[0].outputs[0]
        g.outputs.append(_op(g, "onnx.Max", [r, g.add_input("z", TensorType(DType.int8, (1, 4, 8, 8)))]))
    elif case == "two_axes":
        _chain(g, x, const_shape=(1, 4, 8, 1))
    elif case == "broadcast_grows":
        x2 = g.add_input("x2", TensorType(DType.int8, (1, 4, 1, 8)))
        _chain(g, x2, const_shape=(1, 4, 8, 1))
    elif case == "int32_result":
        m, s = _mq(g, 0.5)
        r = _op(g, "qcc.requant", [x, m, s], {"x_zp": 0, "y_zp": 0})
        _op(g, "qcc.requant", [r, m, s], {"x_zp": 0, "y_zp": 0, "dtype": "i32"}, output=True)
    elif case == "two_tensors":
        z = g.add_input("z", TensorType(DType.int8, (1, 4, 8, 8)))
        m, s = _mq(g, 0.5)
        r = _op(g, "qcc.requant", [x, m, s], {"x_zp": 0, "y_zp": 0})
        ms, sh = arith.quantize_multipliers_shared(np.array([0.5, 0.25]))
        _op(g, "qcc.add", [r, z, g.add_const("m", np.asarray(ms, np.int32).reshape(2)),
                           g.add_const("s", np.asarray(sh, np.int32).reshape(1))], {}, output=True)
    elif case == "single_node":
        m, s = _mq(g, 0.5)
        _op(g, "qcc.requant", [x, m, s], {"x_zp": 0, "y_zp": 0}, output=True)
    before = [n.op for n in g.nodes]
    f, ctx = _fuse(g)
    if case.startswith("inner_"):  # the requant stays; the mul after it alone may be a table
        assert [n.op for n in f.nodes].count("qcc.requant") == 1
        assert ctx.report["fuse-tables"]["regions"] in ({}, {g.nodes[1].name: 1})
    else:
        assert ctx.report["fuse-tables"]["fused"] == 0
        assert [n.op for n in f.nodes] == before
    rng = np.random.default_rng(0)
    _same(g, f, {v.name: rng.integers(-128, 128, v.shape).astype(np.int8) for v in g.inputs})


@pytest.mark.parametrize("op", ["qcc.mul", "qcc.add", "qcc.sub"])
def test_one_binary_op_with_a_constant_becomes_a_table(op):
    g = Graph(op)
    x = g.add_input("x", TensorType(DType.int8, (1, 3, 16, 16)))
    c = g.add_const("c", np.array([[[-7]], [[0]], [[100]]], np.int8))
    if op == "qcc.mul":
        m, s = _mq(g, 0.013)
    else:
        ms, sh = arith.quantize_multipliers_shared(np.array([0.6, 0.9]))
        m, s = g.add_const("m", np.asarray(ms, np.int32).reshape(2)), g.add_const("s", np.asarray(sh, np.int32).reshape(1))
    _op(g, op, [x, c, m, s], {"a_zp": 4, "b_zp": 1, "y_zp": -3}, output=True)
    f, _ = _fuse(g)
    assert [n.op for n in f.nodes] == ["qcc.lut"] and f.nodes[0].inputs[1].shape == (3, 256)
    _same(g, f, {"x": _every_value((1, 3, 16, 16), DType.int8, 2)})


def test_lut_op_checks_per_channel_table_shape():
    from qcc.errors import QccError

    g = Graph("bad")
    x = g.add_input("x", TensorType(DType.int8, (1, 4, 8)))
    t = g.add_const("t", np.zeros((3, 256), np.int8))
    with pytest.raises(QccError, match=r"per-channel table must have shape \[4, 256\]"):
        _op(g, "qcc.lut", [x, t], {"axis": 1})


def _prelu_model(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1"),
            numpy_helper.from_array(rng.normal(0, 0.5, (8, 1, 1)).astype(np.float32), "a1"),
            numpy_helper.from_array(rng.normal(0, 0.2, (6, 8, 3, 3)).astype(np.float32), "w2"),
            numpy_helper.from_array(np.linspace(-1, 2, 6).astype(np.float32).reshape(6, 1, 1), "a2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["c1", "a1"], ["p1"]),
             helper.make_node("MaxPool", ["p1"], ["m1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["m1", "w2"], ["c2"]),
             helper.make_node("PRelu", ["c2", "a2"], ["y"])]
    g = helper.make_graph(nodes, "prelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 20, 20])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], init)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_prelu_model_through_qcc_compile_c_equals_unfused_reference(tmp_path):
    """`qcc compile --target c` fuses the PRelu chains; the generated C's outputs equal the
    reference interpreter's on the graph compiled with the pass disabled (the fused folder
    through the console script, the unfused one through qcc.cli.main in this process)."""
    import subprocess

    from qcc.cli import main
    from qcc.ir.serialize import load as load_ir

    _prelu_model(tmp_path / "m.onnx")
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "calib.npz", x=rng.normal(0, 1, (16, 3, 20, 20)).astype(np.float32))
    np.savez(tmp_path / "test.npz", x=rng.normal(0, 1.5, (6, 3, 20, 20)).astype(np.float32))

    def qcc(*args):
        r = subprocess.run(["qcc", *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    common = [tmp_path / "m.onnx", "--target", "c", "--calib", tmp_path / "calib.npz", "--quiet"]
    qcc("compile", *common, "-o", tmp_path / "fused")
    assert main([str(a) for a in ("compile", *common, "-o", tmp_path / "plain",
                                  "--disable-pass", "fuse-tables")]) == 0
    ops = [n.op for n in load_ir(str(tmp_path / "fused" / "model.qcc")).nodes]
    plain = [n.op for n in load_ir(str(tmp_path / "plain" / "model.qcc")).nodes]
    assert ops.count("qcc.lut") == 2 and "qcc.mul" not in ops and "qcc.add" not in ops
    assert plain.count("qcc.mul") == 2 and plain.count("qcc.add") == 2
    qcc("run", tmp_path / "fused", "--inputs", tmp_path / "test.npz", "-o", tmp_path / "c.npz")
    assert main([str(a) for a in ("run", tmp_path / "plain", "--inputs", tmp_path / "test.npz",
                                  "-o", tmp_path / "ref.npz", "--engine", "reference")]) == 0
    got, want = np.load(tmp_path / "c.npz"), np.load(tmp_path / "ref.npz")
    assert np.array_equal(got["y"], want["y"]) and np.ptp(want["y"]) > 0
