"""The Arm DSP forms of the non-MAC kernels (docs/target_c.md "ISA variants": the transformer
ops igelu / ilayernorm / isoftmax in 32-bit registers under per-call and per-row bounds,
the elementwise add / mul / requant loops, the max pool, the activation x activation matmul
over the quad-packed second operand) bit for bit with the interpreter under QEMU's Cortex-M4 and Cortex-M55,
on cases that hit each fast form, its tails (lengths not a multiple of four) and its fallback
to the portable int64 code (bounds that fail)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.backends.c import arm
from qcc.ir import DType
from qcc.ops import integer_transformer as itx

from c_testlib import Cases, check_exact_qemu, needs_arm, needs_gcc

pytestmark = needs_gcc


def _mult(x: float):
    m, s = arith.quantize_multiplier(x)
    return np.array([m], np.int32), np.array([s], np.int32)


def softmax(cs: Cases, x, scale: float, variant: str, mask_shape=None):
    c = itx.isoftmax_consts(scale, variant)
    ins = [x, cs.const(np.array([c["mult"]], np.int32)), cs.const(np.array([c["shift"]], np.int32))]
    if mask_shape is not None:
        mk = (cs.rng.random(mask_shape) < 0.3).astype(np.int8)
        mk.reshape(-1)[0] = 1
        ins.append(cs.input(mk, DType.int8))
    cs.op("qcc.isoftmax", ins, dict(c["attrs"], axis=-1))


def igelu(cs: Cases, x, y_hi: float, x_zp: int, y_zp: int, out: str, **over):
    gc = itx.igelu_consts(y_hi)
    m, s = _mult(gc["out_scale"] / (y_hi / 100))
    cs.op("qcc.igelu", [x, cs.const(m), cs.const(s)],
          dict(gc["attrs"], x_zp=x_zp, y_zp=y_zp, dtype=out, **over))


def layernorm(cs: Cases, x, c: int, eps: float, y_zp: int, out: str, x_zp: int, g_scale=1.0,
              b_scale=0.1, out_scale=0.03):
    rng = cs.rng
    k = itx.ilayernorm_consts(rng.normal(1, 0.2, c) * g_scale, rng.normal(0, b_scale, c), 0.01,
                              out_scale, c, eps)
    ins = [x, cs.const(k["gamma"]), cs.const(k["bias"]), cs.const(np.array([k["mult"]], np.int32)),
           cs.const(np.array([k["shift"]], np.int32))]
    cs.op("qcc.ilayernorm", ins, dict(axis=-1, x_zp=x_zp, y_zp=y_zp, eps_q=k["eps_q"],
                                      eps_frac=k["eps_frac"], dtype=out))


def _transformer_cases(seed: int) -> Cases:
    cs = Cases(seed)
    rng = cs.rng
    # softmax: I-BERT and shift-exp, int32 / int16 / int8 logits, rows of 1..37 (not multiples
    # of four), key-padding and per-row masks, fully masked rows, scales whose factor leaves
    # int32 (a row sum below 2^9: the int64 output form) and whose rescale exceeds 2^30 (the
    # portable fallback)
    for variant in ("ibert", "shiftmax"):
        for scale, n in ((1e-4, 37), (0.01, 5), (0.2, 1), (0.05, 32)):
            x = cs.input(rng.integers(-40000, 40001, (2, 3, n)).astype(np.int32), DType.int32)
            softmax(cs, x, scale, variant)
            softmax(cs, x, scale, variant, (1, 1, n))
            softmax(cs, x, scale, variant, (2, 3, 1))
        softmax(cs, cs.rand_input((3, 9)), 0.6, variant)
        softmax(cs, cs.input(rng.integers(-32768, 32768, (2, 6)).astype(np.int16), DType.int16),
                3e-3, variant, (2, 1))
        softmax(cs, cs.input(rng.integers(-20, 20, (2, 7)).astype(np.int32), DType.int32), 40.0,
                variant)
        # int32 logits at the type's edges (x - max beyond int32 before the clip)
        edge = np.array([[2**31 - 1, -2**31, 0, 2**31 - 2, 5], [-2**31, -2**31 + 1, -2**31, 7, -9]],
                        np.int32)
        softmax(cs, cs.input(edge, DType.int32), 1e-5, variant)
        softmax(cs, cs.input(edge, DType.int32), 1e-9, variant)
    # igelu: int16 / int8 in, int8 / int16 out, zero points, narrow bounds, lengths 1..300
    for n, out in ((1, "i8"), (7, "i16"), (300, "i8"), (33, "i16")):
        x = cs.input(rng.integers(-3000, 3000, (2, n)).astype(np.int16), DType.int16)
        igelu(cs, x, 4.0, int(rng.integers(-50, 50)), -3, out)
        igelu(cs, cs.rand_input((3, n)), 0.5, 5, 7, out)
    x = cs.input(np.array([-32768, 32767, -1024, 1024, 0, 1, -1, 2000], np.int16), DType.int16)
    igelu(cs, x, 8.0, 0, -128, "i8", act_min=-100, act_max=90)
    igelu(cs, x, 8.0, 3, -30000, "i16")
    # layer norm: rows of 1, 2, 7, 128, 129 elements, int8 / int16 in and out, eps 0 and large,
    # constant rows (variance 0), outlier rows (the refined shift), int16 zero points far from 0
    for c in (1, 2, 7, 128, 129):
        for eps in (0.0, 1e-5, 0.5):
            x16 = cs.input(rng.integers(-3000, 3001, (3, c)).astype(np.int16), DType.int16)
            layernorm(cs, x16, c, eps, 2, "i8", int(rng.integers(-20, 20)))
            layernorm(cs, cs.rand_input((2, c)), c, eps, -300, "i16", 9)
    xs = np.full((4, 257), -537, np.int16)
    xs[0, 100], xs[1, 3], xs[2, :], xs[3, :] = 32767, -32768, np.arange(257) % 7, 7
    layernorm(cs, cs.input(xs, DType.int16), 257, 1e-5, 0, "i16", 0, out_scale=17.0 / 32767)
    layernorm(cs, cs.input(xs, DType.int16), 257, 0.0, -5, "i8", 2000)
    return cs


def _elementwise_cases(seed: int) -> Cases:
    cs = Cases(seed)
    rng = cs.rng

    def add(op, a, b, ratios, dtype=None, relu=False, **zps):
        ms, sh = arith.quantize_multipliers_shared(list(ratios))
        lim = 127 if dtype in (None, "i8") else 32767
        y_zp = int(rng.integers(-lim // 4, lim // 4))
        attrs = {"a_zp": int(rng.integers(-128, 128)), "b_zp": int(rng.integers(-128, 128)),
                 "y_zp": y_zp, **zps}
        if dtype:
            attrs["dtype"] = dtype
        if relu:
            attrs.update(act_min=y_zp, act_max=lim)
        cs.op(op, [a, b, cs.const(ms.astype(np.int32)), cs.const(np.array([sh], np.int32))], attrs)

    def mul(a, b, r, dtype=None, relu=False):
        m, sh = arith.quantize_multiplier(r)
        y_zp = int(rng.integers(-30, 30))
        attrs = {"a_zp": int(rng.integers(-128, 128)), "b_zp": int(rng.integers(-128, 128)),
                 "y_zp": y_zp, **({"dtype": dtype} if dtype else {})}
        if relu:
            attrs.update(act_min=y_zp, act_max=127)
        ms = [cs.const(np.array([m], np.int32)), cs.const(np.array([sh], np.int32))]
        cs.op("qcc.mul", [a, b] + ms, attrs)

    # add / sub (the split-multiplier SMLAD form): int8 / int16 operands and outputs, shifts
    # 16..46 and below 16 (the SMLAL or portable fallback), zero points far from 0, relu bounds,
    # broadcast operands (the strided form); mul (int8 and int16 operands, broadcast either
    # side); requant (per tensor and per channel, int8 / int16, a tie-heavy factor of 1/2);
    # rows of 1, 3, 5, 17 and 64 elements
    for n in (1, 3, 5, 17, 64):
        a8, b8 = cs.rand_input((2, n)), cs.rand_input((2, n))
        a16 = cs.input(rng.integers(-32768, 32768, (2, n)).astype(np.int16), DType.int16)
        b16 = cs.input(rng.integers(-32768, 32768, (2, n)).astype(np.int16), DType.int16)
        add("qcc.add", a8, b8, (0.7, 1.3))
        add("qcc.sub", a8, b8, (0.02, 0.05), relu=True)
        add("qcc.add", a8, b8, (0.0011, 0.0007), relu=True)
        add("qcc.sub", a8, b8, (3.0, 0.5))
        add("qcc.add", a8, b8, (300.0, 45.0), dtype="i16")
        add("qcc.add", a8, b16, (1.3, 0.004), dtype="i16", b_zp=2824)
        add("qcc.add", b16, a8, (0.004, 1.3), dtype="i16", relu=True, a_zp=-3000)
        add("qcc.sub", a16, b16, (0.7, 0.9), dtype="i16", a_zp=30000, b_zp=-30000)
        add("qcc.add", a16, b16, (0.001, 0.002), dtype="i16")
        add("qcc.add", a8, cs.rand_input((1, 1)), (0.5, 0.25))
        add("qcc.add", a16, cs.rand_input((2, 1)), (0.5, 60.0), dtype="i16")
        mul(a8, b8, 1 / 300)
        mul(a8, b8, 0.004, relu=True)
        mul(a8, b8, 3.0)
        mul(a8, cs.rand_input((2, 1)), 1 / 200)
        mul(cs.rand_input((2, 1)), a8, 1 / 100)
        mul(a8, b16, 1e-4, dtype="i16")
        mul(a16, b8, 1e-6)
        mul(a16, b16, 1e-6)
        slope = cs.input(rng.integers(-32768, 32768, (2, 1)).astype(np.int16), DType.int16)
        mul(a8, slope, 2.0 ** -20)  # PReLU's negative part: int8 times a broadcast int16
        mul(cs.rand_input((2, 1)), b8, 0.01, relu=True)
        for xin, ydt in ((a8, "i8"), (a8, "i16"), (a16, "i8"), (a16, "i16")):
            m, sh = cs.mult(1, 1e-4, 4.0)
            cs.op("qcc.requant", [xin, m, sh], {"x_zp": int(rng.integers(-128, 128)), "dtype": ydt})
            m, sh = cs.mult(n, 1e-3, 2.0)
            cs.op("qcc.requant", [xin, m, sh], {"x_zp": int(rng.integers(-128, 128)), "axis": 1,
                                                "dtype": ydt})
        half = [cs.const(np.array([1 << 30], np.int32)), cs.const(np.array([31], np.int32))]
        cs.op("qcc.requant", [a8] + half, {"x_zp": 0})
    return cs


def _matmul_cases(seed: int) -> Cases:
    """Activation x activation matmuls: M around multiples of four (the last quad of rows),
    K = 1, 3, 7, 21, 32, 33 (the partial chunk), N from 4 (scratch too small: the portable
    path) to 32, int8 / uint8 operands, int8 (wide and narrow bounds) / int16 / int32 outputs,
    a b broadcast over batches."""
    cs = Cases(seed)
    rng = cs.rng
    for m, k, nn in ((3, 7, 9), (2, 16, 4), (5, 21, 8), (32, 32, 32), (1, 1, 8), (7, 3, 16),
                     (9, 33, 12)):
        for adt, bdt in ((DType.int8, DType.int8), (DType.uint8, DType.int8),
                         (DType.int8, DType.uint8)):
            a, b = cs.rand_input((2, m, k), adt), cs.rand_input((2, k, nn), bdt)
            mm, ss = cs.mult(1, 1e-4, 2.0)
            za = int(rng.integers(0, 256)) if adt is DType.uint8 else int(rng.integers(-128, 128))
            zb = int(rng.integers(0, 256)) if bdt is DType.uint8 else int(rng.integers(-128, 128))
            y_zp = int(rng.integers(-128, 128))
            cs.op("qcc.matmul", [a, b, mm, ss], {"a_zp": za, "b_zp": zb, "y_zp": y_zp})
            cs.op("qcc.matmul", [a, b, mm, ss], {"a_zp": za, "b_zp": zb, "y_zp": y_zp,
                                                 "act_min": y_zp, "act_max": 127})
            cs.op("qcc.matmul", [a, b], {"a_zp": za, "b_zp": zb})
            cs.op("qcc.matmul", [a, b, mm, ss],
                  {"a_zp": za, "b_zp": zb, "y_zp": 300, "dtype": "i16"})
        cs.op("qcc.matmul", [cs.rand_input((3, m, k)), cs.rand_input((1, k, nn))],
              {"a_zp": -128, "b_zp": 127})
    return cs


def _maxpool_cases(seed: int) -> Cases:
    """Max pools over the DSP form (windows inside the input: word loads reduced by SSUB8 / SEL)
    and its clipped windows (padding, the row end, ceil mode): kernels 1x1 to 4x4,
    strides 1 and 2, padding on each side, odd widths, one-row planes, width 4 (one word),
    and the window loop alone (width 3, kw 5); the int8 extremes in every plane."""
    cs = Cases(seed)
    for hw, k, s, pads, ceil in (((22, 22), (3, 3), (2, 2), [0, 0, 0, 0], 1),
                                 ((23, 23), (2, 2), (2, 2), [0, 0, 0, 0], 1),
                                 ((7, 9), (2, 3), (1, 2), [1, 0, 0, 2], 0),
                                 ((5, 11), (3, 4), (1, 1), [1, 2, 1, 1], 0),
                                 ((6, 7), (4, 4), (2, 1), [0, 3, 1, 0], 1),
                                 ((1, 13), (1, 3), (1, 2), [0, 1, 0, 1], 0),
                                 ((3, 4), (2, 2), (1, 1), [0, 0, 0, 0], 0),
                                 ((4, 5), (1, 1), (2, 2), [0, 0, 0, 0], 0),
                                 ((4, 3), (2, 2), (1, 1), [0, 0, 0, 0], 0),
                                 ((6, 12), (2, 5), (2, 2), [0, 0, 0, 0], 1)):
        x = cs.rand_input((2, 3) + hw)
        flat = cs.feeds[x.name].reshape(-1)
        flat[:3] = [-128, 127, -128]
        flat[-2:] = [127, -127]
        cs.op("onnx.MaxPool", [x], {"kernel_shape": list(k), "strides": list(s), "pads": pads,
                                    "ceil_mode": ceil})
    xm = cs.rand_input((1, 2, 5, 8))
    cs.feeds[xm.name][...] = -128      # every window's maximum is the int8 minimum
    cs.op("onnx.MaxPool", [xm], {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]})
    return cs


def _run(cs: Cases, tmp_path, core: str):
    check_exact_qemu(cs, tmp_path / "c", core=core)
    # the forms are dispatched by direct calls: the static stack bound stays known
    assert arm.size(arm.build(tmp_path / "c", core=core))["model_stack_bytes"] is not None


@needs_arm
def test_cortex_m4_transformer_kernels_bit_exact(tmp_path):
    _run(_transformer_cases(0), tmp_path, "cortex-m4")


@pytest.mark.skipif(not arm.available("cortex-m55"), reason=arm.missing_tools() or "ok")
def test_cortex_m55_transformer_kernels_bit_exact(tmp_path):
    _run(_transformer_cases(1), tmp_path, "cortex-m55")


@needs_arm
def test_cortex_m4_elementwise_and_matmul_kernels_bit_exact(tmp_path):
    _run(_elementwise_cases(0), tmp_path / "e", "cortex-m4")
    _run(_matmul_cases(0), tmp_path / "m", "cortex-m4")


@needs_arm
def test_cortex_m4_maxpool_bit_exact(tmp_path):
    _run(_maxpool_cases(0), tmp_path, "cortex-m4")


@pytest.mark.skipif(not arm.available("cortex-m55"), reason=arm.missing_tools() or "ok")
def test_cortex_m55_elementwise_kernels_bit_exact(tmp_path):
    """M55 builds take the DSP elementwise and max-pool forms (its matmul keeps the Helium dot
    products)."""
    _run(_elementwise_cases(1), tmp_path / "e", "cortex-m55")
    _run(_maxpool_cases(1), tmp_path / "p", "cortex-m55")


@pytest.mark.slow
@needs_arm
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cortex_m4_transformer_int32_edges(tmp_path, data):
    """Logits, GELU inputs and layer-norm rows at their types' edges, gamma and bias as large
    as the accumulator allows, random scales: the DSP forms (or their fallbacks) bit for bit."""
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    rng = cs.rng
    n = data.draw(st.integers(1, 70), label="n")
    lo32 = data.draw(st.sampled_from([-2**31, -2**20, -40000]), label="lo32")
    x32 = rng.integers(lo32, -lo32, (3, n)).astype(np.int32)
    x32[0, 0] = data.draw(st.sampled_from([-2**31, 2**31 - 1, 0]), label="edge")
    scale = data.draw(st.floats(1e-9, 5.0), label="scale")
    for variant in ("ibert", "shiftmax"):
        softmax(cs, cs.input(x32, DType.int32), scale, variant, (3, n))
    x16 = rng.choice(np.array([-32768, 32767, 0, -1, 1], np.int16), (2, n))
    igelu(cs, cs.input(x16, DType.int16), data.draw(st.floats(0.3, 12.0), label="y_hi"),
          data.draw(st.integers(-2000, 2000), label="x_zp"), 0, "i16")
    c = data.draw(st.integers(1, 300), label="c")
    xl = rng.choice(np.array([-32768, 32767, 0, 100], np.int16), (2, c))
    eps = data.draw(st.sampled_from([0.0, 1e-5, 2.0]), label="eps")
    ln_zp = data.draw(st.integers(-32768, 32767), label="ln_zp")
    layernorm(cs, cs.input(xl, DType.int16), c, eps, 0, "i8", ln_zp,
              g_scale=data.draw(st.floats(0.01, 10.0), label="g"),
              b_scale=data.draw(st.floats(0.0, 100.0), label="b"))
    _run(cs, tmp_path, "cortex-m4")


@pytest.mark.slow
@needs_arm
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cortex_m4_add_mul_matmul_int32_edges(tmp_path, data):
    """Adds at the largest multipliers and zero points the SMLAD form takes (and just past
    them), int16 operands at their extremes, matmuls at the operands' extremes: bit for bit."""
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    n = data.draw(st.integers(1, 40), label="n")
    ext16 = np.array([-32768, 32767, 0, -1], np.int16)
    a16 = cs.input(cs.rng.choice(ext16, (2, n)), DType.int16)
    b8 = cs.input(cs.rng.choice(np.array([-128, 127, 0], np.int8), (2, n)), DType.int8)
    ratios = data.draw(st.lists(st.floats(1e-6, 2.0 ** 15), min_size=2, max_size=2), label="r")
    ms, sh = arith.quantize_multipliers_shared(ratios)
    zps = {"a_zp": data.draw(st.integers(-32768, 32767), label="a_zp"),
           "b_zp": data.draw(st.integers(-128, 127), label="b_zp"),
           "y_zp": data.draw(st.integers(-32768, 32767), label="y_zp"), "dtype": "i16"}
    for op in ("qcc.add", "qcc.sub"):
        cs.op(op, [a16, b8, cs.const(ms.astype(np.int32)), cs.const(np.array([sh], np.int32))], zps)
    # int8 + int8 -> int8 (four elements per word step, the tail per element)
    a8 = cs.input(cs.rng.choice(np.array([-128, 127, 0, -1], np.int8), (2, n)), DType.int8)
    z8 = {k: data.draw(st.integers(-128, 127), label=k) for k in ("a_zp", "b_zp", "y_zp")}
    ms8, sh8 = arith.quantize_multipliers_shared(
        data.draw(st.lists(st.floats(1e-4, 2.0 ** 6), min_size=2, max_size=2), label="r8"))
    for op in ("qcc.add", "qcc.sub"):
        cs.op(op, [a8, b8, cs.const(ms8.astype(np.int32)), cs.const(np.array([sh8], np.int32))], z8)
    # int8 times a broadcast int8 (the squeeze-excitation scale: four elements per word step)
    bb = cs.input(cs.rng.choice(np.array([-128, 127, 0], np.int8), (2, 1)), DType.int8)
    mm, msh = arith.quantize_multiplier(data.draw(st.floats(1e-6, 0.99), label="rm"))
    lo = data.draw(st.sampled_from([-128, z8["y_zp"]]), label="lo")
    cs.op("qcc.mul", [a8, bb, cs.const(np.array([mm], np.int32)), cs.const(np.array([msh], np.int32))],
          {**z8, "act_min": lo, "act_max": 127})
    m, k, nn = data.draw(st.integers(1, 9), label="m"), data.draw(st.integers(1, 40), label="k"), 8
    a = cs.input(cs.rng.choice(np.array([-128, 127], np.int8), (1, m, k)), DType.int8)
    b = cs.input(cs.rng.choice(np.array([-128, 127], np.int8), (1, k, nn)), DType.int8)
    cs.op("qcc.matmul", [a, b], {"a_zp": 127, "b_zp": -128})
    _run(cs, tmp_path, "cortex-m4")
