"""Convolutions along rows on the host builds, bit for bit with the interpreter: the flat
phase-plane depthwise kernel (qcc_conv2d_dwf, kernels/conv2d_dwf_simd.c: the default SSE2
build on every row width, AVX2 / AVX-512 VNNI on rows of 16 and more or dilated; strides
along H, dilation, odd and even tap counts, channel multipliers, planes of several
accumulator bands), and H x 1
planes under kH x 1 kernels, which the lowering hands to the kernels as one-row planes
(rules_nn.as_row: a 1-D conv exported along H), and one-row planes of 32-63 outputs at
stride 1 (the GEMM, qcc_pws_min_plane); int32 edges with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.lower.kernels import ConvGeometry
from qcc.lower.rules_nn import as_row

from c_testlib import Cases, add_conv_op, check_exact, needs_gcc
from simd_testlib import X86

pytestmark = needs_gcc
BUILDS = {"portable": X86["portable"], "default": ("-O3",), "native": ("-O2", "-march=native")}


def _conv(cs: Cases, n, c, hw, m, k, s, pads, group, d=(1, 1), **kw):
    add_conv_op(cs, "qcc.conv2d", (n, c, hw[0], hw[1]), (m, c // group, k[0], k[1]), m,
                {"strides": list(s), "pads": list(pads), "dilations": list(d), "group": group}, **kw)


def _depthwise(cs: Cases) -> Cases:
    # rows of 16 and more (every x86 build) and narrower (SSE2 only): 3x3 / 5x5, the stride
    # (2, 1) of text recognisers, asymmetric pads, kernels of 1x3, 3x1, 2x2 and 1x1 taps
    _conv(cs, 1, 9, (6, 96), 9, (5, 5), (1, 1), [2, 2, 2, 2], 9)
    _conv(cs, 1, 8, (7, 40), 8, (5, 5), (2, 1), [2, 2, 2, 2], 8, relu=True)
    _conv(cs, 2, 5, (17, 18), 5, (3, 3), (1, 1), [1, 0, 1, 2], 5, per_channel=False)
    _conv(cs, 1, 6, (25, 5), 6, (3, 3), (1, 1), [1, 1, 1, 1], 6, wvals=[-128, 127])
    _conv(cs, 1, 4, (3, 33), 4, (1, 3), (1, 1), [0, 1, 0, 1], 4)
    _conv(cs, 1, 4, (21, 17), 4, (3, 1), (3, 1), [1, 0, 1, 0], 4, acc_out=True)
    _conv(cs, 1, 3, (6, 6), 3, (2, 2), (1, 1), [0, 0, 1, 1], 3)
    _conv(cs, 1, 5, (9, 20), 5, (1, 1), (1, 1), [0, 0, 0, 0], 5)
    # channel multiplier 2 and a 1-channel stem (not the flat kernel: the GEMM / band kernel)
    _conv(cs, 1, 3, (8, 24), 6, (3, 3), (1, 1), [1, 1, 1, 1], 3)
    _conv(cs, 1, 1, (12, 19), 4, (3, 3), (2, 1), [1, 1, 1, 1], 1)
    # dilation (no band kernel: the flat one on every row width), with a stride along H
    _conv(cs, 1, 4, (16, 16), 4, (5, 5), (1, 1), [4, 4, 4, 4], 4, d=(2, 2))
    _conv(cs, 1, 3, (13, 9), 3, (3, 3), (2, 1), [2, 3, 1, 3], 3, d=(2, 3), acc_out=True)
    # one row 300 wide over 22 rows: more than one band of accumulators per channel
    _conv(cs, 1, 2, (22, 300), 2, (3, 3), (1, 1), [1, 1, 1, 1], 2)
    return cs


def _one_column(cs: Cases) -> Cases:
    # H x 1 planes, kH x 1 kernels: one group and depthwise, strides, dilation, pads top and
    # bottom, one-tap kernels (pointwise), int32 outputs
    _conv(cs, 1, 16, (40, 1), 12, (5, 1), (1, 1), [0, 0, 0, 0], 1)
    _conv(cs, 1, 8, (33, 1), 8, (3, 1), (2, 1), [1, 0, 2, 0], 1, relu=True)
    _conv(cs, 2, 6, (29, 1), 6, (3, 1), (1, 1), [2, 0, 2, 0], 6, d=(2, 1))
    _conv(cs, 1, 12, (70, 1), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, 127])
    _conv(cs, 1, 4, (19, 1), 7, (4, 1), (1, 1), [1, 0, 2, 0], 1, acc_out=True)
    # one-row planes of 32-63 outputs (the GEMM at stride 1, im2col dot products strided)
    _conv(cs, 1, 40, (1, 49), 32, (1, 3), (1, 1), [0, 1, 0, 1], 1)
    _conv(cs, 1, 12, (1, 40), 9, (1, 3), (1, 2), [0, 1, 0, 1], 1, relu=True)
    _conv(cs, 1, 9, (1, 37), 6, (1, 5), (1, 1), [0, 2, 0, 2], 1, acc_out=True)
    return cs


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_depthwise_rows_bit_exact(tmp_path, build):
    check_exact(_one_column(_depthwise(Cases(0))), tmp_path / "c", cflags=BUILDS[build])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from([(3, 3), (5, 5), (1, 3), (3, 1)]), sh=st.integers(1, 2), dil=st.integers(1, 2),
       ow=st.sampled_from([5, 16, 37]), side=st.sampled_from([-1, 1]),
       build=st.sampled_from(["default", "native"]), seed=st.integers(0, 2**16))
def test_depthwise_rows_int32_edges(tmp_path, k, sh, dil, ow, side, build, seed):
    """Biases +-(2^31 - 1) minus the products' room, extreme weights and zero points,
    multipliers from 2^-31 to 0.99, int32 accumulator outputs."""
    cs = Cases(seed)
    edge = side * (2**31 - 1 - k[0] * k[1] * 128 * 255)
    pads = [k[0] // 2 * dil, k[1] // 2 * dil] * 2
    for zp in (-128, 127):
        _conv(cs, 1, 3, (9, ow), 3, k, (sh, 1), pads, 3, d=(dil, dil), wvals=[-128, 127],
              bias=[edge, -edge, 0], ratios=[2.0**-31, 0.99, 2.0**-12], x_zp=zp)
    _conv(cs, 1, 2, (7, ow), 2, k, (sh, 1), pads, 2, d=(dil, dil), wvals=[-128, 127],
          bias=[edge, -edge], acc_out=True, x_zp=127)
    check_exact(cs, tmp_path / "c", cflags=BUILDS[build])


def test_as_row_maps_one_column_planes_only():
    """H x 1 under kH x 1 becomes 1 x H under 1 x kH with H's stride, dilation and top pad;
    a plane with a second column, a kernel with a second column or a left pad is unchanged."""
    g = ConvGeometry(1, 8, 40, 1, 4, 19, 1, 5, 1, 2, 1, 1, 1, 1, 0, 1)
    r = as_row(g)
    assert (r.h, r.w, r.oh, r.ow, r.kh, r.kw, r.sh, r.sw, r.dh, r.dw, r.pt, r.pl) == \
        (1, 40, 1, 19, 1, 5, 1, 2, 1, 1, 0, 1)
    assert (r.n, r.c, r.m, r.group) == (g.n, g.c, g.m, g.group)
    for other in (ConvGeometry(1, 8, 40, 2, 4, 38, 2, 3, 1, 1, 1, 1, 1, 0, 0, 1),
                  ConvGeometry(1, 8, 40, 1, 4, 38, 1, 3, 1, 1, 1, 1, 1, 0, 1, 1),
                  ConvGeometry(1, 8, 1, 40, 4, 1, 38, 1, 3, 1, 1, 1, 1, 0, 0, 1)):
        assert as_row(other) is other
