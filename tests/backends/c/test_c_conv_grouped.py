"""Grouped convolutions (group neither 1 nor the channel count: ResNeXt / RegNet / ShuffleNet
blocks) on the C backend, bit for bit with the interpreter: per group through the same GEMM
as one-group convs (qcc_conv2d_pws on the host SIMD variants, im2col GEMMs in the portable
and the Arm DSP builds), in the portable, default x86 (SSE2) and -march=native builds and on
Cortex-M4 under QEMU; int32 edges with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


from c_testlib import Cases, add_conv_op, check_exact, check_exact_qemu, needs_arm, needs_gcc

pytestmark = needs_gcc
BUILDS = {"portable": ("-O2", "-march=native", "-DQCC_PORTABLE"),
          "default": ("-O3",),                      # x86-64 baseline: the SSE2 variants
          "native": ("-O2", "-march=native")}       # AVX2 / AVX-512 VNNI where the CPU has them


def _conv(cs: Cases, n, c, hw, m, k, s, pads, group, d=(1, 1), **kw):
    add_conv_op(cs, "qcc.conv2d", (n, c, hw[0], hw[1]), (m, c // group, k[0], k[1]), m,
                {"strides": list(s), "pads": list(pads), "dilations": list(d), "group": group}, **kw)


def _cases(seed: int) -> Cases:
    cs = Cases(seed)
    # planes >= 64 (the SIMD GEMM per group): RegNet's 3x3 groups of 16 channels, strides 1
    # and 2, groups 2 and 4, odd channels per group (3, 5), outputs per group not a multiple
    # of four, non-square kernels, asymmetric pads, dilation 2, stride 3
    _conv(cs, 1, 32, (10, 9), 32, (3, 3), (1, 1), [1, 1, 1, 1], 2)
    _conv(cs, 1, 64, (17, 16), 64, (3, 3), (2, 2), [1, 1, 1, 1], 4, relu=True)
    _conv(cs, 2, 6, (9, 11), 10, (3, 3), (1, 1), [1, 1, 1, 1], 2, wvals=[-128, 127])
    _conv(cs, 1, 15, (12, 12), 9, (2, 4), (1, 1), [0, 1, 1, 2], 3)
    _conv(cs, 1, 20, (11, 12), 12, (3, 3), (1, 1), [2, 2, 2, 2], 4, d=(2, 2), per_channel=False)
    _conv(cs, 1, 8, (26, 25), 4, (4, 4), (3, 3), [1, 1, 2, 2], 2, acc_out=True)
    # grouped pointwise (ShuffleNet v1): planes >= 64 and below, odd groups
    _conv(cs, 1, 12, (9, 8), 9, (1, 1), (1, 1), [0, 0, 0, 0], 3)
    _conv(cs, 1, 8, (5, 5), 12, (1, 1), (1, 1), [0, 0, 0, 0], 4, relu=True)
    # one output channel per group or in all, pointwise (the direct kernel) and 3x3 (the GEMM)
    _conv(cs, 1, 12, (9, 8), 3, (1, 1), (1, 1), [0, 0, 0, 0], 3)
    _conv(cs, 1, 16, (9, 9), 1, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, 127])
    _conv(cs, 1, 6, (9, 9), 1, (3, 3), (1, 1), [1, 1, 1, 1], 1, acc_out=True)
    # small planes (the im2col GEMM per group), a kernel of one tap
    _conv(cs, 1, 32, (4, 4), 32, (3, 3), (1, 1), [1, 1, 1, 1], 2)
    _conv(cs, 1, 10, (5, 6), 6, (3, 3), (2, 2), [1, 0, 1, 0], 2, acc_out=True)
    return cs


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_grouped_conv_bit_exact(tmp_path, build):
    check_exact(_cases(0), tmp_path / "c", cflags=BUILDS[build])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cg=st.integers(2, 17), group=st.sampled_from([2, 3, 4]), k=st.integers(1, 3),
       side=st.sampled_from([-1, 1]), build=st.sampled_from(sorted(BUILDS)),
       seed=st.integers(0, 2**16))
def test_grouped_conv_int32_edges(tmp_path, cg, group, k, side, build, seed):
    """Biases +-(2^31 - 1) minus the products' room, extreme weights and zero points,
    multipliers from 2^-31 to 0.99, int32 accumulator outputs, on planes of 64 and more."""
    cs = Cases(seed)
    edge = side * (2**31 - 1 - cg * k * k * 128 * 255)
    for zp in (-128, 127):
        _conv(cs, 1, cg * group, (9, 8), 3 * group, (k, k), (1, 1), [k // 2] * 4, group,
              wvals=[-128, 127], bias=[edge, -edge, 0], ratios=[2.0**-31, 0.99, 2.0**-12], x_zp=zp)
    _conv(cs, 1, cg * group, (8, 9), 2 * group, (k, k), (1, 1), [k // 2] * 4, group,
          wvals=[-128, 127], bias=[edge, -edge], acc_out=True, x_zp=127)
    check_exact(cs, tmp_path / "c", cflags=BUILDS[build])


@needs_arm
def test_grouped_conv_cortex_m4_bit_exact(tmp_path):
    cs = Cases(7)
    _conv(cs, 1, 12, (9, 8), 12, (3, 3), (1, 1), [1, 1, 1, 1], 4, relu=True)
    _conv(cs, 1, 10, (7, 7), 6, (3, 3), (2, 2), [1, 1, 0, 0], 2, acc_out=True)
    _conv(cs, 1, 9, (6, 6), 6, (1, 1), (1, 1), [0, 0, 0, 0], 3)
    check_exact_qemu(cs, tmp_path / "c", feature="__ARM_FEATURE_DSP")
