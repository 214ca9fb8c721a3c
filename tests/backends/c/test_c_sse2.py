"""The x86 host kernels of the default build (SSE2, no -march; docs/target_c.md "ISA
variants"), bit for bit with the interpreter, each also built with -mavx2, with
-march=native and with -DQCC_PORTABLE (the reference): the SSE2 im2col-free one-group conv
(qcc_conv2d_pds: bands, channel pairs, stride phases, output channel chunks), the one-group
conv GEMM (qcc_conv2d_pws: many output channel blocks, the stride-2 row gather of its im2col
rows), the SSE2 requantization of their epilogue, the int8 add / sub / mul of binary_host.c (tables;
exact products and the vector requantization) and the int8 requant op; hypothesis over the
multipliers, shifts and zero points, including multipliers the vector requantization
declines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.ir.types import DType

from c_testlib import Cases, add_global_avgpools, check_exact, needs_gcc

pytestmark = needs_gcc
BUILDS = {"sse2": ("-O3",), "avx2": ("-O2", "-mavx2"), "native": ("-O2", "-march=native"),
          "portable": ("-O2", "-DQCC_PORTABLE")}


def _cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and flag in line.split() for line in f)
    except OSError:
        return False


def _build(variant: str):
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"SKIPPED, NOT PASSED: the {variant} build needs an x86-64 host")
    if variant == "avx2" and not _cpu_has("avx2"):
        pytest.skip("SKIPPED, NOT PASSED: this CPU lacks avx2")
    return BUILDS[variant]


def _conv(cs: Cases, c, hw, m, k, s, pads, wvals=None, acc_out=False, per_channel=True):
    x = cs.rand_input((1, c, hw[0], hw[1]))
    shape = (m, c, k[0], k[1])
    wv = cs.rng.integers(-128, 128, shape) if wvals is None else cs.rng.choice(wvals, shape)
    w = cs.const(wv.astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, m).astype(np.int32))
    mm, ss = cs.mult(m if per_channel else 1, 1e-5, 3e-2)
    attrs = {"x_zp": int(cs.rng.choice([-128, 127, int(cs.rng.integers(-128, 128))])),
             "y_zp": int(cs.rng.integers(-128, 128)), "strides": list(s), "dilations": [1, 1],
             "pads": list(pads), "group": 1}
    ms = [mm, ss]
    if acc_out:
        ms, attrs = [], {k2: v for k2, v in attrs.items() if k2 != "y_zp"}
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def _gemm_cases(cs: Cases) -> Cases:
    # K = 576: blocks of few positions that split output rows, M = 40 (ten channel blocks)
    _conv(cs, 64, (8, 12), 40, (3, 3), (1, 1), [1, 1, 1, 1])
    # stride 2 on wide rows: the 16-byte even-byte gather stops inside the row (odd width,
    # asymmetric pads on either side), then the scalar tail; stride (1, 2) and (2, 1)
    _conv(cs, 3, (11, 41), 6, (3, 3), (2, 2), [1, 0, 1, 2], wvals=[-128, 127])
    _conv(cs, 5, (9, 64), 9, (3, 3), (2, 2), [1, 1, 1, 1], per_channel=False)
    _conv(cs, 4, (8, 70), 5, (1, 3), (1, 2), [0, 1, 0, 0], acc_out=True)
    _conv(cs, 4, (20, 9), 7, (3, 1), (2, 1), [0, 0, 1, 0])
    # SSE2's im2col-free kernel (qcc_conv2d_pds): several bands of rows (C = 64) and two chunks
    # of output channels (12 + 8), 5x5 stride 2 with odd C (a channel pair of one), stride
    # (2, 1) with a 2x2 kernel, rows that end inside a tile (ow = 30, 20, 14), int32 outputs;
    # narrow rows (ow = 19, 9) stay on the GEMM above (its stride-2 gather included)
    _conv(cs, 64, (24, 24), 20, (3, 3), (1, 1), [1, 1, 1, 1])
    _conv(cs, 5, (40, 41), 7, (5, 5), (2, 2), [2, 2, 2, 1], wvals=[-128, 127])
    _conv(cs, 3, (16, 30), 6, (2, 2), (2, 1), [0, 1, 0, 0])
    _conv(cs, 6, (12, 14), 9, (3, 3), (1, 1), [1, 1, 1, 1], acc_out=True, per_channel=False)
    _conv(cs, 3, (30, 37), 5, (3, 3), (2, 2), [1, 1, 1, 1])
    # M = 1 and 2 (tiles of zero weights past M), plane not a multiple of 16
    _conv(cs, 7, (9, 11), 1, (3, 3), (1, 1), [1, 1, 1, 1])
    _conv(cs, 2, (10, 10), 2, (2, 2), (1, 1), [0, 0, 0, 0], acc_out=True)
    return cs


@pytest.mark.parametrize("variant", ["sse2", "avx2", "native", "portable"])
def test_conv_gemm_tiles_bit_exact(tmp_path, variant):
    check_exact(_gemm_cases(Cases(11)), tmp_path / "c", cflags=_build(variant))


_RATIO = st.one_of(st.floats(1e-3, 4.0), st.sampled_from([1e-9, 1e-7, 0.5, 1.0, 3.99]))


def _elem_cases(cs: Cases, ra, rb, rm, rq, zps, n: int) -> Cases:
    a, b = cs.rand_input((3, n)), cs.rand_input((3, n))
    # the extreme values of both operands in every row
    cs.feeds[a.name][:, :4] = [[-128, 127, -128, 127]] * 3
    cs.feeds[b.name][:, :4] = [[-128, -128, 127, 127]] * 3
    for op, relu in (("qcc.add", False), ("qcc.sub", True)):
        ms, s = arith.quantize_multipliers_shared([ra, rb])
        attrs = {"a_zp": zps[0], "b_zp": zps[1], "y_zp": zps[2]}
        if relu:
            attrs.update(act_min=zps[2], act_max=127)
        cs.op(op, [a, b, cs.const(ms.astype(np.int32)), cs.const(np.array([s], np.int32))], attrs)
    m, s = arith.quantize_multiplier(np.array([rm]))
    mc, sc = cs.const(np.atleast_1d(m).astype(np.int32)), cs.const(np.atleast_1d(s).astype(np.int32))
    cs.op("qcc.mul", [a, b, mc, sc], {"a_zp": zps[0], "b_zp": zps[1], "y_zp": zps[2]})
    # int16 operand constant along each row (a per-channel slope, as in a decomposed PReLU)
    slope = cs.const(cs.rng.integers(-32768, 32768, (3, 1)).astype(np.int16), DType.int16)
    cs.op("qcc.mul", [a, slope, mc, sc], {"a_zp": zps[0], "b_zp": 0, "y_zp": zps[2]})
    m, s = arith.quantize_multiplier(np.array([rq]))
    cs.op("qcc.requant", [a, cs.const(np.atleast_1d(m).astype(np.int32)),
                          cs.const(np.atleast_1d(s).astype(np.int32))], {"x_zp": zps[0], "y_zp": zps[2]})
    pm, ps = cs.mult(3, 1e-3, 2.0)
    cs.op("qcc.requant", [a, pm, ps], {"x_zp": zps[1], "axis": 0, "y_zp": zps[0]})
    return cs


_ZP = st.one_of(st.sampled_from([-128, 0, 127]), st.integers(-128, 127))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ra=_RATIO, rb=_RATIO, rm=_RATIO, rq=_RATIO, zps=st.tuples(_ZP, _ZP, _ZP),
       n=st.sampled_from([16, 23, 300, 1030]), seed=st.integers(0, 2**16))
def test_int8_elementwise_host_paths_exact(tmp_path, ra, rb, rm, rq, zps, n, seed):
    """add / sub / mul / requant on rows long enough for the host paths (16 or more), the
    default build, equal to the interpreter."""
    check_exact(_elem_cases(Cases(seed), ra, rb, rm, rq, zps, n), tmp_path / "c", cflags=_build("sse2"))


_MULT = st.one_of(st.integers(0, 2**31 - 1),
                  st.sampled_from([0, 1, 2**15, 2**31 - 2**15 - 1, 2**31 - 2**15, 2**31 - 1]))


def _add_cases(cs: Cases, ma, mb, s, zps, lo, n: int) -> Cases:
    """add and sub with the given raw multipliers and shift; both operands' extremes in every row."""
    a, b = cs.rand_input((2, n)), cs.rand_input((2, n))
    cs.feeds[a.name][:, :4] = [[-128, 127, -128, 127]] * 2
    cs.feeds[b.name][:, :4] = [[-128, -128, 127, 127]] * 2
    for op in ("qcc.add", "qcc.sub"):
        attrs = {"a_zp": zps[0], "b_zp": zps[1], "y_zp": zps[2], "act_min": lo, "act_max": 127}
        cs.op(op, [a, b, cs.const(np.array([ma, mb], np.int32)), cs.const(np.array([s], np.int32))], attrs)
    return cs


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ma=_MULT, mb=_MULT, s=st.one_of(st.integers(1, 62), st.sampled_from([15, 16, 17, 31, 47, 48, 62])),
       zps=st.tuples(_ZP, _ZP, _ZP), lo=st.sampled_from([-128, -5]), n=st.sampled_from([16, 31, 64, 97]),
       variant=st.sampled_from(["sse2", "avx2", "native"]), seed=st.integers(0, 2**16))
# ties of the rounding: (A + 1)*2^30 - A, (A + 1)*2^16 - B, the rounding constant in L (s = 16)
@example(ma=2**30 - 1, mb=2**30, s=31, zps=(0, 0, 0), lo=-128, n=97, variant="native", seed=1)
@example(ma=2**16, mb=2**16 - 1, s=17, zps=(127, -128, 3), lo=-128, n=64, variant="sse2", seed=2)
@example(ma=2**15 - 1, mb=2**15, s=16, zps=(-128, 127, -3), lo=-5, n=31, variant="avx2", seed=3)
def test_int8_add_int16_lanes_exact(tmp_path, ma, mb, s, zps, lo, n, variant, seed):
    """The x86 add / sub in int16 / int32 lanes (binary_x86.c: multipliers split at 2^16, the
    shift in two) over the multipliers [0, 2^31) and shifts 1-62 the IR allows, including the
    ones it declines (shift below 16 or above 47, a high half past int16: the tables; a
    subtracted multiplier's high half is negative), every x86 build and the
    vector and scalar tails of the rows, equal to the interpreter."""
    check_exact(_add_cases(Cases(seed), ma, mb, s, zps, lo, n), tmp_path / "c", cflags=_build(variant))


def _requant_cases(cs: Cases, m, s, bias, zp, n_hw) -> Cases:
    """Pointwise convs (16 inputs, 3 outputs: the GEMM's epilogue; |dot| < 2^20) whose
    accumulators reach the int32 edges through the bias, with the given multiplier and shift on
    every channel, with and without a ReLU's clamp."""
    x = cs.rand_input((1, 16, n_hw[0], n_hw[1]))
    x_zp = int(cs.rng.integers(-128, 128))
    w = cs.const(cs.rng.choice([-128, 127, -1, 0, 1], (3, 16, 1, 1)).astype(np.int8))
    b = cs.const(np.array([bias, -bias, 0], np.int32))
    ms = [cs.const(np.full(3, m, np.int32)), cs.const(np.full(3, s, np.int32))]
    attrs = {"x_zp": x_zp, "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0], "group": 1}
    cs.op("qcc.conv2d", [x, w, b] + ms, dict(attrs, y_zp=zp))
    cs.op("qcc.conv2d", [x, w, b] + ms, dict(attrs, y_zp=zp, act_min=zp, act_max=127))
    return cs


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=_MULT, s=st.one_of(st.integers(1, 62), st.sampled_from([1, 31, 32, 33, 62])),
       bias=st.one_of(st.integers(-2**31 + 2**20, 2**31 - 2**20), st.sampled_from([2**31 - 2**20, 0])),
       zp=_ZP, n_hw=st.sampled_from([(4, 4), (3, 7), (8, 9)]), variant=st.sampled_from(["native", "avx2", "sse2"]),
       seed=st.integers(0, 2**16))
@example(m=2**31 - 1, s=32, bias=2**31 - 2**20, zp=-128, n_hw=(3, 7), variant="native", seed=1)
@example(m=2**30 + 12345, s=33, bias=-2**31 + 2**20, zp=127, n_hw=(8, 9), variant="native", seed=2)
@example(m=2**31 - 1, s=31, bias=2**31 - 2**20, zp=5, n_hw=(4, 4), variant="native", seed=3)
def test_conv_requant_int32_edges_exact(tmp_path, m, s, bias, zp, n_hw, variant, seed):
    """The conv epilogue's int8 requantization (common.h: AVX-512's int64 lanes without set-up,
    their int32 form for shifts of 32 or more; the unsigned form elsewhere) on accumulators near
    the int32 limits, any multiplier and shift, planes that are and are not multiples of 16
    (the masked last step), equal to the interpreter."""
    check_exact(_requant_cases(Cases(seed), m, s, bias, zp, n_hw), tmp_path / "c", cflags=_build(variant))


@pytest.mark.parametrize("variant", ["sse2", "avx2", "native", "portable"])
def test_global_avgpool_x86_exact(tmp_path, variant):
    """The x86 global average pool (pool.c: PSADBW plane sums, requantized 256 planes at a
    time): 300 planes (a second chunk) of 16 bytes, planes of 7 (no 16-byte step), 49 and
    1000 bytes (steps and tails), bytes at the extremes, shifts below and above 32."""
    cs = Cases(17)
    add_global_avgpools(cs, (((1, 300, 4, 4), 1e-3, 0.1), ((2, 3, 1, 7), 0.3, 0.9),
                             ((1, 5, 7, 7), 1e-2, 0.5), ((1, 2, 25, 40), 1e-5, 1e-4)))
    check_exact(cs, tmp_path / "c", cflags=_build(variant))


@pytest.mark.parametrize("variant", ["sse2", "avx2", "portable"])
def test_int8_elementwise_other_builds_exact(tmp_path, variant):
    check_exact(_elem_cases(Cases(5), 0.7, 1.3, 0.01, 0.3, (-3, 100, -128), 1030), tmp_path / "c",
                cflags=_build(variant))
