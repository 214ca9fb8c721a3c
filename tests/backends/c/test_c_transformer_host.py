"""The host forms of the integer transformer kernels (transformer.c, QCC_TYPED_ROWS: one
inlined loop per input type and softmax variant, the I-BERT exponent's quotient by a
multiply-shift) bit for bit with the interpreter, in the default build (SSE2), with
-march=native and with -DQCC_PORTABLE (the one generic loop): softmax over int32 / int16 /
int8 logits at the type edges, both variants, with and without a mask (the generic loop),
the quotient at divisors from 1 to 2^22 and clipped differences just below and above 2^31
(where the kernel falls back to the division; with the fixed exponent constants of `_cases`,
divisors from about 2^23 make the I-BERT exponent's int32 row sum overflow, which the
interpreter refuses, so the strategy stops at 2^22); GELU from int32 / int16 / int8 (int16 rows
across the AVX-512 form's blocks of 256, and its constants drawn around the 32-bit bound);
layer norm of int8 and int16 rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.ir import DType
from qcc.ops import integer_transformer as itx

from c_testlib import Cases, check_exact, needs_gcc
from test_c_isa_nonmac import igelu, layernorm, softmax

pytestmark = needs_gcc
BUILDS = {"sse2": ("-O2",), "native": ("-O2", "-march=native"), "portable": ("-O2", "-DQCC_PORTABLE")}


def _host(variant: str):
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"SKIPPED, NOT PASSED: the {variant} build needs an x86-64 host")
    return BUILDS[variant]


def _edge_logits(rng, dt: DType, shape):
    x = rng.integers(dt.min, dt.max + 1, shape)
    x.reshape(-1)[:4] = [dt.min, dt.max, dt.max, dt.min + 1]
    return x.astype(dt.np)


def _softmax_raw(cs: Cases, x, q_ln2: int, d_clip: int, ratio: float):
    """An I-BERT softmax with its divisor and clip chosen directly (the compiler's are fixed)."""
    from qcc import arith

    m, s = arith.quantize_multiplier(ratio)
    c = itx.isoftmax_consts(0.01, "ibert")
    attrs = dict(c["attrs"], q_ln2=q_ln2, d_clip=d_clip, axis=-1)
    cs.op("qcc.isoftmax", [x, cs.const(np.array([m], np.int32)), cs.const(np.array([s], np.int32))],
          attrs)


def _cases(seed: int, q_ln2: int, big: bool) -> Cases:
    cs = Cases(seed)
    rng = cs.rng
    for variant in ("ibert", "shiftmax"):
        for dt, scale in ((DType.int32, 1e-4), (DType.int32, 0.3), (DType.int16, 3e-3), (DType.int8, 0.05)):
            x = cs.input(_edge_logits(rng, dt, (2, 3, 13)), dt)
            softmax(cs, x, scale, variant)
            softmax(cs, x, scale, variant, (2, 1, 13))  # a mask: the generic loop
    # the quotient: n = -d up to rshift_round(d_clip * m, s), below or past 2^31
    d_clip = (1 << 31) - 1
    ratio = 1.5 if big else 1.0  # |d| past 2^31: the division; up to 2^31 - 1: the multiply
    xs = rng.integers(-2**31, 2**31, (4, 37))
    xs[:, 0] = 2**31 - 1
    xs[0, 1:] = -2**31
    _softmax_raw(cs, cs.input(xs.astype(np.int32), DType.int32), q_ln2, d_clip, ratio)
    for dt, x_zp in ((DType.int32, 0), (DType.int16, -7), (DType.int8, 3)):
        x = cs.input(_edge_logits(rng, dt, (3, 29)), dt)
        igelu(cs, x, 6.0, x_zp, -5, "i8")
    # 600 elements: two whole blocks of 256 of the AVX-512 form and a tail of 88
    x = cs.input(_edge_logits(rng, DType.int16, (2, 300)), DType.int16)
    igelu(cs, x, 0.7, 11, 3, "i8")
    igelu(cs, x, 3.0, -2000, -128, "i8", act_min=-100, act_max=90)
    for dt in (DType.int8, DType.int16):
        x = cs.input(_edge_logits(rng, dt, (5, 24)), dt)
        layernorm(cs, x, 24, 1e-5, 2, "i8", x_zp=1)
    return cs


@pytest.mark.parametrize("variant", sorted(BUILDS))
def test_transformer_rows_bit_exact(variant, tmp_path):
    check_exact(_cases(7, 2839, False), tmp_path, _host(variant))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q_ln2=st.one_of(st.sampled_from([1, 2, 3, 2839, 2**16 + 1, 2**22]), st.integers(1, 2**22)),
       big=st.booleans(), seed=st.integers(0, 2**16))
def test_softmax_quotient_by_multiply_exact(q_ln2, big, seed, tmp_path_factory):
    check_exact(_cases(seed, q_ln2, big), tmp_path_factory.mktemp("sm"), _host("native"))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_igelu_int32_bound_exact(data, tmp_path_factory):
    """GELU with its constants drawn around the bound of the 32-bit forms (AVX-512 and Arm DSP:
    max(q_l, |x_max|) * (max(2 c1, q_l^2) >> f) < 2^31, q_l <= 46340, 2 c1 < 2^31), on both sides
    of it, int16 inputs at the type's edges, random scales and zero points: bit for bit at
    -march=native (the AVX-512 form on an AVX-512 host, its portable fallback past the bound)."""
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    q_l = data.draw(st.sampled_from([1, 1024, 46340, 46341]), label="q_l")
    c1 = data.draw(st.sampled_from([0, 1160238, 2**30 - 1]), label="c1")
    # f from the least shift at which the interpreter's accumulator fits int32 for |xi| <= q_l
    top = max(2 * c1, q_l * q_l)
    f0 = next(k for k in range(40) if q_l * (top >> k) <= 2**31 - 1)
    f = data.draw(st.integers(f0, f0 + 3), label="f_shift")
    g = top >> f
    edge = (2**31 - 1) // (g + 1)  # the largest max(q_l, |x_max|) the kernels' bound admits
    ok = [v for v in (-q_l, 0, 2539, edge, edge + 1) if max(q_l, abs(v)) * g <= 2**31 - 1]
    x_max = data.draw(st.sampled_from(ok), label="x_max")
    n = data.draw(st.integers(1, 300), label="n")
    x = cs.rng.choice(np.array([-32768, 32767, 0, -1, 1, q_l, -q_l, x_max], np.int64), (2, n))
    igelu(cs, cs.input(np.clip(x, -32768, 32767).astype(np.int16), DType.int16),
          data.draw(st.floats(0.3, 12.0), label="y_hi"), data.draw(st.integers(-3000, 3000), label="x_zp"),
          data.draw(st.integers(-128, 127), label="y_zp"), "i8", q_l=q_l, c1=c1, f_shift=f, x_max=x_max)
    check_exact(cs, tmp_path_factory.mktemp("gelu"), _host("native"))
