"""The sixteen-channel depthwise kernel (qcc_conv2d_dwc, kernels/conv2d_dwc_simd.c) of the
AVX-512 VNNI + VBMI builds (-march=native on Zen 4 / Ice Lake and later, the default build's
dispatched avx512 variant), bit for bit with the interpreter: channel counts that fill 1-4
blocks of sixteen lanes and partial blocks, the plane-wide transposition (planes up to 1024
positions) and the per-row one, several bands, strides 1 and 2 (also asymmetric pads),
3x3 / 5x5 taps (the unrolled forms) and 7x7 / 1x9 (the generic one: two and three quads
per kernel row), per-tensor scales, batches, extreme weights, a 1x1 plane (all but the
centre tap on padding), int32 outputs (not taken: the band kernel); every dispatch variant
the CPU runs on the same program; int32 edges with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


from c_testlib import (Cases, add_depthwise, add_depthwise_edges, check_exact,
                       check_exact_dispatched, needs_gcc)
from simd_testlib import FLAGS, X86, need

pytestmark = needs_gcc
VBMI = ("-O2", "-mavx2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mavx512vbmi")
VBMI_NEEDS = {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512vbmi"}
DISPATCH = [("sse2", set()), ("avx2", {"avx2", "bmi1", "bmi2", "popcnt"}),
            ("avx512", {"avx2", "bmi1", "bmi2", "popcnt", "avx512f", "avx512bw", "avx512vl", "avx512dq",
                        "avx512cd", "avx512_vnni", "avx512vbmi"})]


def _need_vbmi():
    missing = VBMI_NEEDS - FLAGS
    if missing:
        pytest.skip(f"SKIPPED, NOT PASSED: this CPU lacks {sorted(missing)} for the 16-channel kernel")


_dw = add_depthwise


def _cases(seed: int) -> Cases:
    cs = Cases(seed)
    _dw(cs, 1, 64, (25, 5), (3, 3), (1, 1), [1, 1, 1, 1], relu=True)       # four blocks, plane-wide
    _dw(cs, 1, 33, (7, 9), (3, 3), (2, 2), [1, 1, 1, 1])                   # a 1-lane block, stride 2
    _dw(cs, 2, 20, (6, 6), (5, 5), (1, 1), [2, 2, 2, 2], per_channel=False)  # batch, 5x5, per-tensor
    _dw(cs, 1, 16, (48, 48), (3, 3), (1, 1), [1, 1, 1, 1], wvals=[-128, 127])  # per-row, 3 bands
    _dw(cs, 1, 17, (40, 40), (3, 3), (2, 2), [0, 0, 1, 1])                 # per-row, stride 2, asymmetric
    _dw(cs, 1, 18, (9, 11), (7, 7), (1, 1), [3, 3, 3, 3])                  # generic: 2 quads per row
    _dw(cs, 1, 5, (4, 30), (1, 9), (1, 1), [0, 4, 0, 4])                   # generic: 3 quads, 5 lanes
    _dw(cs, 1, 16, (1, 1), (3, 3), (1, 1), [1, 1, 1, 1])                   # one position
    _dw(cs, 1, 24, (13, 100), (3, 3), (1, 1), [1, 1, 1, 1])                # rows of 100: bands of 10
    _dw(cs, 1, 12, (10, 6), (3, 3), (1, 1), [0, 1, 2, 0], acc_out=True)     # int32 out: not taken
    return cs


def test_dwc_bit_exact_avx512_vbmi(tmp_path):
    _need_vbmi()
    check_exact(_cases(0), tmp_path / "c", cflags=VBMI)


def test_vnni_without_vbmi_bit_exact(tmp_path):
    """AVX-512 VNNI without VBMI (Cascade Lake flags): the band / flat kernels take them."""
    need("vnni")
    check_exact(_cases(1), tmp_path / "c", cflags=X86["vnni"])


def test_dwc_every_dispatch_variant_bit_exact(tmp_path, monkeypatch):
    """One dispatched program (sse2 / avx2 / avx512 objects), every variant the CPU runs."""
    runs = [v for v, needs in DISPATCH if needs <= FLAGS]
    assert "sse2" in runs
    check_exact_dispatched(_cases(2), tmp_path / "c", runs, monkeypatch)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(c=st.integers(1, 40), h=st.integers(1, 40), w=st.integers(1, 40),
       k=st.sampled_from([(3, 3), (5, 5), (3, 5), (7, 7)]), s=st.integers(1, 2), side=st.sampled_from([-1, 1]),
       seed=st.integers(0, 2**16))
def test_dwc_int32_edges(tmp_path, c, h, w, k, s, side, seed):
    """Biases +-(2^31 - 1) minus the products' room (the VNNI correction term wraps), extreme
    weights and zero points, multipliers from 2^-31 to 0.99 across the lanes."""
    _need_vbmi()
    cs = Cases(seed)
    add_depthwise_edges(cs, c, (h, w), k, s, side)
    check_exact(cs, tmp_path / "c", cflags=VBMI)
