"""Comparisons, logic, bitwise, integer Add/Sub/Mul, Not, Where and integer Cast in C
(the ops of attention masks) vs the interpreter, bit for bit; and the mask forms of
torch exports (masked_fill, scaled_dot_product_attention) compiled whole."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.ir import DType

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc
SETTINGS = settings(max_examples=4, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
INTS = [DType.int8, DType.uint8, DType.int16, DType.int32, DType.int64]
SHAPES = st.sampled_from([((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (3, 1)), ((1, 5), (4, 1)),
                          ((3, 4, 5), ()), ((2, 1, 3, 1), (1, 4, 1, 5)), ((6,), (6,))])
ONNX_DT = {DType.int8: 3, DType.uint8: 2, DType.int16: 5, DType.int32: 6, DType.int64: 7,
           DType.bool: 9}


def _ints(cs: Cases, shape, dt: DType):
    """Random values with the dtype's extremes and small values mixed in (equalities occur)."""
    info = np.iinfo(dt.np)
    v = cs.rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt.np)
    pick = cs.rng.integers(0, 3, size=shape)
    small = cs.rng.integers(-2, 3, size=shape).clip(info.min, info.max).astype(dt.np)
    ext = np.where(cs.rng.integers(0, 2, size=shape) == 1, info.max, info.min).astype(dt.np)
    return cs.input(np.where(pick == 0, v, np.where(pick == 1, small, ext)).astype(dt.np), dt)


def _bools(cs: Cases, shape):
    return cs.input(cs.rng.integers(0, 2, size=shape).astype(bool), DType.bool)


@SETTINGS
@given(shapes=SHAPES, seed=st.integers(0, 2**16), dt=st.sampled_from(INTS))
def test_compare_bitwise_and_wrapping_arith_exact(tmp_path, shapes, seed, dt):
    cs = Cases(seed)
    a, b = _ints(cs, shapes[0], dt), _ints(cs, shapes[1], dt)
    for op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "BitwiseAnd",
               "BitwiseOr", "BitwiseXor", "Add", "Sub", "Mul"):
        cs.op(f"onnx.{op}", [a, b])
    cs.op("onnx.Equal", [a, cs.const(np.array(0, dt.np), dt)])   # the mask == 0 form
    cs.op("onnx.BitwiseNot", [a])
    pa, pb = _bools(cs, shapes[0]), _bools(cs, shapes[1])
    for op in ("And", "Or", "Xor"):
        cs.op(f"onnx.{op}", [pa, pb])
    cs.op("onnx.Not", [pa])
    cs.op("onnx.Where", [pa, b, cs.const(np.array(7, dt.np), dt)])
    cs.op("onnx.Where", [cs.op("onnx.Equal", [a, b], output=False), a, b])
    check_exact(cs, tmp_path / "c")


@SETTINGS
@given(seed=st.integers(0, 2**16), src=st.sampled_from(INTS + [DType.bool]))
def test_integer_cast_wraps_like_numpy(tmp_path, seed, src):
    cs = Cases(seed)
    x = _bools(cs, (3, 5)) if src is DType.bool else _ints(cs, (3, 5), src)
    for dst in INTS + [DType.bool]:
        cs.op("onnx.Cast", [x], {"to": ONNX_DT[dst]})
    check_exact(cs, tmp_path / "c")


def test_mask_chain_to_int8_softmax_mask_in_place(tmp_path):
    """Equal(mask, 0) -> Not -> Cast(int8) on an int64 input, as the quantizer leaves it."""
    cs = Cases(1)
    m = cs.input(np.array([[1, 1, 0, 1, 0, 0, 1, 1]], np.int64), DType.int64)
    e = cs.op("onnx.Equal", [m, cs.const(np.array(0, np.int64))], output=False)
    n = cs.op("onnx.Not", [e], output=False)
    cs.op("onnx.Cast", [n], {"to": 3})
    manifest = check_exact(cs, tmp_path / "c")
    assert [r["kernel"] for r in manifest["layers"]] == ["qcc_logic"] * 3
    assert manifest["memory"]["inplace"], "Not and Cast run in place of their bool input"


def test_float_operands_are_refused_with_the_node_named(tmp_path):
    from qcc.errors import LoweringError
    from c_testlib import emit_c

    cs = Cases(2)
    c = cs.input(np.array([True, False]), DType.bool)
    f = cs.op("onnx.Where", [c, cs.const(np.float32(1.5)), cs.const(np.float32(-2.0))],
              output=False)
    cs.op("qcc.quantize", [f], {"scale": 0.1, "zero_point": 0, "dtype": "i8"})
    with pytest.raises(LoweringError, match=r"Where node '.*' has tensor '.*' of dtype float32"):
        emit_c(cs.g, str(tmp_path / "c"))


@pytest.mark.parametrize("kind", ["where", pytest.param("sdpa_bool", marks=pytest.mark.slow)])
def test_torch_mask_forms_compile_to_c_bit_exact(tmp_path, kind):
    import json

    from qcc.backends.c.build import run_samples
    from qcc.bench.transformer_models import encoder_data, encoder_onnx
    from qcc.cli import main
    from qcc.interp import Interpreter
    from qcc.ir.serialize import load

    path = encoder_onnx(str(tmp_path / "m.onnx"), seq=8, hidden=16, heads=2, layers=2, mask=kind)
    np.savez(tmp_path / "calib.npz", **encoder_data(16))
    out = tmp_path / "c"
    assert main(["compile", path, "--calib", str(tmp_path / "calib.npz"), "--target", "c",
                 "-o", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert "qcc_logic" in {r["kernel"] for r in manifest["layers"]}
    data = encoder_data(6, seed=4)
    samples = [{k: v[i:i + 1] for k, v in data.items()} for i in range(6)]
    got = run_samples(str(out), samples, manifest)
    it = Interpreter(load(str(out / "model.qcc")))
    for s, g in zip(samples, got):
        want = it.run(s)["y"]
        assert np.array_equal(g["y"], want)
