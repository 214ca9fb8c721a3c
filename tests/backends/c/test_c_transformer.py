"""Transformer kernels of the C backend (isoftmax, igelu, ilayernorm, int16/uint8 operands of
linear/matmul/add, the float-chain threshold kernel) vs the interpreter, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcc.passes  # noqa: F401  (registers the passes)
from qcc import arith
from qcc.interp import Interpreter
from qcc.ir import DType
from qcc.ops import integer_transformer as itx
from qcc.passmanager import PassContext, get_pass

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc
SETTINGS = settings(max_examples=4, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _mult(x: float):
    m, s = arith.quantize_multiplier(x)
    return np.array([m], np.int32), np.array([s], np.int32)


def add_softmax(cs: Cases, shape, scale: float, variant: str, mask_shape, x_dt=DType.int32):
    lim = {DType.int32: 40000, DType.int16: 32767, DType.int8: 127}[x_dt]
    x = cs.input(cs.rng.integers(-lim, lim + 1, shape).astype(x_dt.np), x_dt)
    c = itx.isoftmax_consts(scale, variant)
    ins = [x, cs.const(np.array([c["mult"]], np.int32)), cs.const(np.array([c["shift"]], np.int32))]
    if mask_shape is not None:
        mk = (cs.rng.random(mask_shape) < 0.3).astype(np.int8)
        mk.reshape(-1)[0] = 1
        ins.append(cs.input(mk, DType.int8))
    cs.op("qcc.isoftmax", ins, dict(c["attrs"], axis=-1))


@SETTINGS
@given(seed=st.integers(0, 2**16), variant=st.sampled_from(["ibert", "shiftmax"]),
       scale=st.floats(1e-5, 0.2), rows=st.integers(1, 5), n=st.integers(1, 40))
def test_isoftmax_random_exact(tmp_path, seed, variant, scale, rows, n):
    cs = Cases(seed)
    add_softmax(cs, (2, rows, n), scale, variant, None)
    add_softmax(cs, (2, rows, n), scale, variant, (1, 1, n))            # key-padding mask
    add_softmax(cs, (1, 2, rows, n), scale, variant, (1, 1, rows, n))   # per-row mask
    add_softmax(cs, (rows, n), scale * 30, variant, None, DType.int8)
    add_softmax(cs, (rows, n), scale, variant, (rows, 1), DType.int16)  # fully masked rows
    check_exact(cs, tmp_path / "c")


@SETTINGS
@given(seed=st.integers(0, 2**16), y_hi=st.floats(0.5, 8.0), n=st.integers(1, 300),
       out=st.sampled_from(["i8", "i16"]))
def test_igelu_random_exact(tmp_path, seed, y_hi, n, out):
    cs = Cases(seed)
    gc = itx.igelu_consts(y_hi)
    x = cs.input(cs.rng.integers(-3000, 3000, (2, n)).astype(np.int16), DType.int16)
    m, s = _mult(gc["out_scale"] / (y_hi / 100))
    cs.op("qcc.igelu", [x, cs.const(m), cs.const(s)],
          dict(gc["attrs"], x_zp=int(cs.rng.integers(-50, 50)), y_zp=-3, dtype=out))
    x8 = cs.rand_input((3, n))
    cs.op("qcc.igelu", [x8, cs.const(m), cs.const(s)], dict(gc["attrs"], x_zp=5, y_zp=7))
    check_exact(cs, tmp_path / "c")


@SETTINGS
@given(seed=st.integers(0, 2**16), c=st.integers(2, 200), eps=st.sampled_from([0.0, 1e-12, 1e-5, 0.5]),
       spread=st.sampled_from([1, 30, 3000]), x_dt=st.sampled_from([DType.int8, DType.int16]))
def test_ilayernorm_random_exact(tmp_path, seed, c, eps, spread, x_dt):
    cs = Cases(seed)
    rng = cs.rng
    lim = min(spread, x_dt.max)
    x = cs.input(rng.integers(-lim, lim + 1, (3, c)).astype(x_dt.np), x_dt)
    x.type  # noqa: B018
    k = itx.ilayernorm_consts(rng.normal(1, 0.2, c), rng.normal(0, 0.1, c), 0.01, 0.03, c, eps)
    ins = [x, cs.const(k["gamma"]), cs.const(k["bias"]), cs.const(np.array([k["mult"]], np.int32)),
           cs.const(np.array([k["shift"]], np.int32))]
    cs.op("qcc.ilayernorm", ins, dict(axis=-1, x_zp=int(rng.integers(-20, 20)), y_zp=2,
                                      eps_q=k["eps_q"], eps_frac=k["eps_frac"]))
    row = cs.input(np.full((2, c), 7, x_dt.np), x_dt)  # constant rows: variance 0 (eps only)
    cs.op("qcc.ilayernorm", [row] + ins[1:], dict(axis=-1, x_zp=0, eps_q=k["eps_q"],
                                                  eps_frac=k["eps_frac"]))
    check_exact(cs, tmp_path / "c")


def test_ilayernorm_outlier_rows_exact(tmp_path):
    """Rows dominated by one value take the refined (smaller) row shift: same in C."""
    cs = Cases(5)
    c = 257
    xs = np.full((3, c), -537, np.int16)
    xs[0, 100], xs[1, 3], xs[2, :] = 32767, -32768, np.arange(c) % 7
    k = itx.ilayernorm_consts(np.ones(c), np.zeros(c), 0.01, 17.0 / 32767, c, 1e-5)  # int16 out: fine steps
    ins = [cs.input(xs, DType.int16), cs.const(k["gamma"]), cs.const(k["bias"]),
           cs.const(np.array([k["mult"]], np.int32)), cs.const(np.array([k["shift"]], np.int32))]
    cs.op("qcc.ilayernorm", ins, dict(axis=-1, x_zp=0, eps_q=k["eps_q"], eps_frac=k["eps_frac"],
                                      dtype="i16"))
    check_exact(cs, tmp_path / "c")


def test_mixed_dtype_dense_and_add(tmp_path):
    """linear with int16 / uint8 output and uint8 input, matmul of uint8 x int8 and int8 x
    uint8, add int8+int8 -> int16."""
    cs = Cases(3)
    x = cs.rand_input((4, 24))
    w = cs.const(cs.rng.integers(-127, 128, (24, 10)).astype(np.int8))
    m, s = cs.mult(1, 1e-3, 1e-1)
    cs.op("qcc.linear", [x, w, None, m, s], {"x_zp": 3, "y_zp": 100, "dtype": "i16"})
    h = cs.op("qcc.linear", [x, w, None, m, s], {"x_zp": 3, "y_zp": 100, "dtype": "u8"})
    w2 = cs.const(cs.rng.integers(-127, 128, (10, 6)).astype(np.int8))
    m2, s2 = cs.mult(6, 1e-5, 1e-3)
    cs.op("qcc.linear", [h, w2, None, m2, s2], {"x_zp": 100, "y_zp": -4})
    p = cs.rand_input((2, 5, 7), DType.uint8)
    v = cs.rand_input((2, 7, 9))
    m3, s3 = cs.mult(1, 1e-4, 1e-2)
    cs.op("qcc.matmul", [p, v, m3, s3], {"a_zp": 0, "b_zp": -2, "y_zp": 4})
    cs.op("qcc.matmul", [v, cs.rand_input((2, 9, 3), DType.uint8)], {"b_zp": 128})
    big = cs.rand_input((2, 160, 120))  # 2*(K + K*N) > 32 KiB: the unpacked row-wise path
    cs.op("qcc.matmul", [cs.rand_input((2, 3, 160), DType.uint8), big], {"a_zp": 9, "b_zp": -1})
    a, b = cs.rand_input((3, 8)), cs.rand_input((3, 8))
    ms, sh = arith.quantize_multipliers_shared([30.0, 45.0])
    cs.op("qcc.add", [a, b, cs.const(ms.astype(np.int32)), cs.const(np.array([sh], np.int32))],
          {"a_zp": 1, "b_zp": -3, "y_zp": -700, "dtype": "i16"})
    check_exact(cs, tmp_path / "c")


@pytest.mark.parametrize("dt", [DType.int64, DType.int32, DType.int8])
def test_float_mask_chain_thresholds(tmp_path, dt):
    """Cast -> Sub(1, .) -> Mul(-10000) -> qcc.quantize on an integer input becomes a
    threshold search that equals the float chain for every input value tried."""
    cs = Cases(0)
    info = np.iinfo(dt.np)
    vals = np.array([0, 1, 2, -1, -5, 3, info.max, info.min, 100, -100, 7, 0], dt.np)
    x = cs.input(vals, dt)
    cast = cs.op("onnx.Cast", [x], {"to": 1}, output=False)
    one = cs.const(np.array(1.0, np.float32))
    sub = cs.op("onnx.Sub", [one, cast], output=False)
    big = cs.const(np.array([-10000.0], np.float32))
    mul = cs.op("onnx.Mul", [sub, big], output=False)
    cs.op("qcc.quantize", [mul], {"scale": 27.7, "zero_point": 0, "dtype": "i8"})
    half = cs.op("onnx.Div", [cast, cs.const(np.array(3.0, np.float32))], output=False)
    cs.op("qcc.quantize", [half], {"scale": 0.5, "zero_point": 3, "dtype": "i16"})
    chain = Interpreter(cs.g).run(cs.feeds)
    for name in ("lower-thresholds", "dce"):
        get_pass(name).fn(cs.g, PassContext())
    assert sorted(n.op for n in cs.g.nodes) == ["qcc.threshold"] * 2
    manifest = check_exact(cs, tmp_path / "c")   # C == the interpreter on qcc.threshold
    assert {r["kernel"] for r in manifest["layers"]} == {"qcc_threshold"}
    thr = Interpreter(cs.g).run(cs.feeds)
    for k, v in chain.items():   # == the interpreter on the float chain
        np.testing.assert_array_equal(thr[k], v)
