"""The eight-channel band depthwise kernel (qcc_conv2d_dws, kernels/conv2d_dw_simd.c) on the
host builds, bit for bit with the interpreter: the AVX2 / AVX-512 builds take it on rows
narrower than 16 and on strided rows (the flat kernel elsewhere). Its int8 epilogue gathers a
whole band's results and writes them channel by channel through an 8 x 8 byte transpose, so
small planes (<= 1024 positions, x86) are centred and transposed plane-wide once per block
of eight channels; the cases cover channel counts that are not a multiple of eight (partial lane blocks),
planes whose position count is not a multiple of eight (the transpose's tail), planes of
more than one band, batches, strides, 5x5 taps, per-tensor scales and int32 outputs (the
unfused path); int32 edges with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c_testlib import Cases, add_depthwise, add_depthwise_edges, check_exact, needs_gcc
from simd_testlib import X86, need

pytestmark = needs_gcc
# sse2: the baseline alone, where the band kernel takes the strided rows; the default build is
# the same one here (the suite builds without run-time dispatch, tests/conftest.py), and the
# dispatched program's AVX2 / AVX-512 variants are the avx2 and native builds' kernels
# (the dispatch itself: test_c_dispatch)
BUILDS = {"sse2": ("-O3", "-DQCC_NO_DISPATCH"), "avx2": X86["avx2"], "native": ("-O2", "-march=native")}


_dw = add_depthwise


def _band_cases(cs: Cases) -> Cases:
    _dw(cs, 1, 13, (25, 5), (3, 3), (1, 1), [1, 1, 1, 1], relu=True)        # 125 positions, 8 + 5 lanes
    _dw(cs, 2, 8, (7, 7), (3, 3), (1, 1), [1, 1, 1, 1], wvals=[-128, 127])  # batch 2, 49 positions
    _dw(cs, 1, 11, (6, 6), (5, 5), (1, 1), [2, 2, 2, 2], per_channel=False)
    _dw(cs, 1, 5, (120, 9), (3, 3), (1, 1), [1, 1, 1, 1])                   # two bands, plane > 1024
    _dw(cs, 1, 10, (250, 4), (3, 3), (1, 1), [1, 1, 1, 1])                  # two bands, plane-wide build
    _dw(cs, 1, 9, (17, 40), (3, 3), (2, 2), [1, 1, 1, 1])                   # strided rows
    _dw(cs, 1, 3, (3, 3), (3, 3), (1, 1), [1, 1, 1, 1])                     # 9 positions, 3 lanes
    _dw(cs, 1, 6, (10, 6), (3, 3), (1, 1), [0, 1, 2, 0], acc_out=True)      # int32 out: unfused
    return cs


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_band_depthwise_bit_exact(tmp_path, build):
    if build == "avx2":
        need("avx2")
    check_exact(_band_cases(Cases(0)), tmp_path / "c", cflags=BUILDS[build])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(c=st.integers(1, 19), h=st.integers(1, 30), w=st.integers(1, 12),
       k=st.sampled_from([(3, 3), (5, 5), (3, 5)]), s=st.integers(1, 2), side=st.sampled_from([-1, 1]),
       build=st.sampled_from(["sse2", "native"]), seed=st.integers(0, 2**16))
def test_band_depthwise_int32_edges(tmp_path, c, h, w, k, s, side, build, seed):
    """Biases +-(2^31 - 1) minus the products' room, extreme weights and zero points,
    multipliers from 2^-31 to 0.99 across the lanes, any channel count and plane size."""
    cs = Cases(seed)
    add_depthwise_edges(cs, c, (h, w), k, s, side)
    check_exact(cs, tmp_path / "c", cflags=BUILDS[build])
