"""The host GEMM's padded-plane tuples and its AVX-512 tile (kernels/conv2d_pw_simd.c), bit for
bit with the interpreter: convs with dilation 1 along the rows on strided or short (< 16)
output rows of 16 positions or more read their tuples from the zero-point-padded channels
(qcc_pws_pad_*): kernel rows of a multiple of the tuple (4 bytes on AVX-512 VNNI, an int16
pair with AVX2 / SSE2), and on VNNI rows padded with zero-weight taps to 4 when that adds at
most a third; on planes below 24 positions with reductions over 72 (rows padded with zero
taps on VNNI, any rows on SSE2, where strided planes below 64 too) the im2col runs instead
(other variants take the older paths on padded-tap cases):
a one-input-channel 10x4 stride-2 first layer (a keyword-spotting CNN's), 1x3 stride-2
rows of 25 and 13 outputs, kw = 3 .. 8, groups, batches,
dilation along H, asymmetric and wide pads, planes of several position blocks; then the int32 edges with hypothesis. Each case runs on
every x86 variant and in the dispatched default build (each variant it can pick)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c_testlib import Cases, add_conv_op, check_exact, check_exact_dispatched, needs_gcc
from simd_testlib import X86, need

pytestmark = needs_gcc


def _conv(cs: Cases, n, c, hw, m, k, s, pads, group=1, d=(1, 1), **kw):
    add_conv_op(cs, "qcc.conv2d", (n, c, hw[0], hw[1]), (m, c // group, k[0], k[1]), m,
                {"strides": list(s), "pads": list(pads), "dilations": list(d), "group": group}, **kw)


def _cases(seed: int = 0) -> Cases:
    cs = Cases(seed)
    # the keyword-spotting stem: 1 x 49 x 10, 10x4 stride 2, pads (5, 1): rows of 5 outputs
    _conv(cs, 1, 1, (49, 10), 12, (10, 4), (2, 2), [5, 1, 5, 1])
    _conv(cs, 2, 1, (49, 10), 5, (10, 4), (2, 2), [5, 1, 5, 1], relu=True, per_channel=False)
    # several channels, asymmetric pads; kw = 8 with dilation along H, stride 3, two groups
    _conv(cs, 1, 3, (24, 12), 6, (3, 4), (2, 2), [1, 2, 0, 1], wvals=[-128, 127])
    _conv(cs, 1, 4, (30, 40), 6, (3, 8), (1, 3), [2, 3, 2, 3], group=2, d=(2, 1))
    # stride 1 on short rows (kw = 2: the pairs of AVX2 / SSE2; kw = 4 everywhere), two
    # blocks of positions; int32 outputs
    _conv(cs, 1, 2, (40, 10), 5, (2, 2), (1, 1), [0, 0, 0, 0])
    _conv(cs, 1, 3, (70, 12), 7, (3, 4), (1, 1), [1, 2, 1, 1], acc_out=True)
    # a long reduction (K = 192), wide pads right and below (a column no output reads)
    _conv(cs, 1, 16, (20, 14), 9, (3, 4), (2, 2), [1, 1, 3, 5])
    _conv(cs, 1, 2, (33, 9), 4, (4, 4), (3, 2), [0, 0, 2, 6], x_zp=-128)
    # kernel rows padded with zero taps (kw = 3, 5, 6, 7): one-row 1x3 stride-2 convs on rows
    # of 25 and 13 outputs (a 1-D keyword-spotting CNN's), planes of 16-63, 3x3 on short rows
    _conv(cs, 1, 32, (1, 49), 20, (1, 3), (1, 2), [0, 1, 0, 1], relu=True)
    _conv(cs, 1, 24, (1, 25), 9, (1, 3), (1, 2), [0, 1, 0, 1], wvals=[-128, 127])
    _conv(cs, 2, 5, (12, 9), 6, (3, 3), (1, 1), [1, 1, 1, 1], per_channel=False)
    _conv(cs, 1, 4, (9, 17), 6, (3, 3), (2, 2), [1, 1, 1, 1], group=2)
    _conv(cs, 1, 3, (14, 21), 7, (2, 5), (2, 2), [0, 2, 1, 2], d=(2, 1))
    _conv(cs, 1, 2, (10, 30), 4, (3, 6), (1, 3), [1, 2, 1, 3], acc_out=True)
    _conv(cs, 1, 3, (8, 20), 5, (2, 7), (2, 2), [0, 3, 0, 3], x_zp=127)
    # the boundaries of the padded-tap rule (QCC_PWS_PAD_SMALL 24, QCC_PWS_PAD_SMALL_K 72): on
    # VNNI K = 72 onto 4x4 and a 24-position plane take the padded path, K = 81 onto 4x4 and a
    # row of 23 with K = 96 the im2col runs
    _conv(cs, 1, 8, (7, 7), 5, (3, 3), (2, 2), [1, 1, 1, 1])
    _conv(cs, 1, 9, (7, 7), 5, (3, 3), (2, 2), [1, 1, 1, 1], x_zp=-128)
    _conv(cs, 1, 16, (7, 11), 6, (3, 3), (2, 2), [1, 1, 1, 1], relu=True)
    _conv(cs, 1, 32, (1, 45), 6, (1, 3), (1, 2), [0, 1, 0, 1], wvals=[-128, 127])
    _conv(cs, 1, 32, (1, 47), 6, (1, 3), (1, 2), [0, 1, 0, 1], acc_out=True)
    # ... and on SSE2 with whole pairs (kw = 4): K = 72 / 84 onto 4x4; strided rows of 64 / 63
    # with K = 128; a stride-1 6x6 plane with K = 96 (padded path)
    _conv(cs, 1, 6, (7, 7), 5, (3, 4), (2, 2), [1, 1, 1, 2])
    _conv(cs, 1, 7, (7, 7), 5, (3, 4), (2, 2), [1, 1, 1, 2], per_channel=False)
    _conv(cs, 1, 32, (1, 127), 5, (1, 4), (1, 2), [0, 1, 0, 2])
    _conv(cs, 1, 32, (1, 125), 5, (1, 4), (1, 2), [0, 1, 0, 2], x_zp=127)
    _conv(cs, 1, 8, (6, 6), 5, (3, 4), (1, 1), [1, 1, 1, 2])
    return cs


@pytest.mark.parametrize("variant", ["sse2", "avx2", "vnni", "portable"])
def test_padded_tuples_bit_exact(tmp_path, variant):
    need(variant)
    check_exact(_cases(), tmp_path / "c", cflags=X86[variant])


def test_padded_tuples_dispatched(tmp_path, monkeypatch):
    need("vnni")
    check_exact_dispatched(_cases(1), tmp_path / "c", ["sse2", "avx2", "avx512"], monkeypatch)


@pytest.mark.slow  # 10 s at load 5 (four builds); test_padded_tuples_bit_exact is the fast smoke
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from([(10, 4), (3, 4), (1, 8), (2, 2), (1, 3), (3, 3)]), s=st.sampled_from([(2, 2), (1, 2), (2, 1)]),
       side=st.sampled_from([-1, 1]), variant=st.sampled_from(["sse2", "vnni"]),
       seed=st.integers(0, 2**16))
def test_padded_tuples_int32_edges(tmp_path, k, s, side, variant, seed):
    """Biases +-(2^31 - 1) minus the products' room, weights -128 / 127, input zero points
    -128 and 127, multipliers 2^-31 .. 0.99, int32 accumulator outputs."""
    need(variant)
    cs = Cases(seed)
    c = 2
    edge = side * (2**31 - 1 - c * k[0] * k[1] * 128 * 255)
    pads = [k[0] // 2, k[1] // 2] * 2
    for zp in (-128, 127):
        _conv(cs, 1, c, (30, 11), 3, k, s, pads, wvals=[-128, 127], bias=[edge, -edge, 0],
              ratios=[2.0**-31, 0.99, 2.0**-12], x_zp=zp)
    _conv(cs, 1, c, (30, 11), 2, k, s, pads, wvals=[-128, 127], bias=[edge, -edge], acc_out=True,
          x_zp=127)
    check_exact(cs, tmp_path / "c", cflags=X86[variant])
