"""One-group stride-1 convs of more than one tap on the host SIMD builds through the
im2col-free GEMM over the padded plane (qcc_conv2d_pwt, kernels/conv2d_pwt_simd.c), bit for
bit with the interpreter (taken on the AVX2 and AVX-512 builds; the SSE2 build checks the
kernels it keeps for the same convs): 3x3 / 5x5 / 1x3 / 3x1 kernels, dilation, asymmetric pads, input
channels not a multiple of the tuple (4 bytes or 2 int16), output channels not a multiple of
four, several row blocks, weights packed once per call or per block, batches, int32 outputs; the int32 edges with hypothesis; and which
geometries the kernel takes (a C driver of qcc_pwt_rows)."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c_testlib import Cases, add_conv_op, check_exact, emit_c, needs_gcc
from simd_testlib import X86, check_variant, need

pytestmark = needs_gcc
BUILDS = ("sse2", "avx2", "vnni")  # (the portable build has no SIMD kernels)


def _conv(cs: Cases, n, c, hw, m, k, pads, d=(1, 1), s=(1, 1), group=1, **kw):
    add_conv_op(cs, "qcc.conv2d", (n, c, hw[0], hw[1]), (m, c // group, k[0], k[1]), m,
                {"strides": list(s), "pads": list(pads), "dilations": list(d), "group": group}, **kw)


def _cases(cs: Cases) -> Cases:
    # a U-Net decoder layer (48 -> 16 channels, 32x32, 3x3): five blocks of whole rows
    _conv(cs, 1, 48, (32, 32), 16, (3, 3), [1, 1, 1, 1])
    # channels 5 and 7 (a partial tuple), 6 and 3 outputs (a partial group of four), pads
    # asymmetric and larger than the kernel's reach on one side, ReLU, per-tensor
    _conv(cs, 2, 5, (13, 17), 6, (3, 3), [1, 0, 2, 2], relu=True)
    _conv(cs, 1, 7, (9, 24), 3, (5, 5), [2, 2, 2, 2], per_channel=False)
    # dilation 2 and (2, 3); a 1x3 over one 49-wide row (a temporal conv); a 3x1 column kernel
    _conv(cs, 1, 8, (16, 20), 5, (3, 3), [2, 2, 2, 2], d=(2, 2), wvals=[-128, 127])
    _conv(cs, 1, 6, (14, 30), 4, (3, 3), [1, 3, 3, 0], d=(2, 3), acc_out=True)
    _conv(cs, 1, 40, (1, 49), 32, (1, 3), [0, 1, 0, 1])
    _conv(cs, 1, 9, (20, 12), 10, (3, 1), [1, 0, 1, 0])
    # 160 channels on 16x16: the tuples of a block fill the buffer (AVX2: 8 rows per block)
    _conv(cs, 1, 160, (16, 16), 4, (3, 3), [1, 1, 1, 1])
    # 224 channels x 3x3 into 36 outputs: more weight tuples than the buffer packed once per
    # call holds (QCC_PWT_W), packed per block instead
    _conv(cs, 1, 224, (8, 8), 36, (3, 3), [1, 1, 1, 1])
    # int32 accumulators out, no padding (the padded width is the input's)
    _conv(cs, 1, 12, (10, 18), 5, (2, 2), [0, 0, 0, 0], acc_out=True)
    return cs


@pytest.mark.parametrize("build", BUILDS)
def test_taps_gemm_bit_exact(tmp_path, build):
    check_variant(_cases(Cases(0)), tmp_path / "c", build)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from([(3, 3), (5, 5), (1, 3), (3, 1)]), dil=st.integers(1, 2),
       c=st.integers(1, 9), ow=st.sampled_from([9, 16, 37]), side=st.sampled_from([-1, 1]),
       build=st.sampled_from(["avx2", "vnni"]), seed=st.integers(0, 2**16))
def test_taps_gemm_int32_edges(tmp_path, k, dil, c, ow, side, build, seed):
    """Biases +-(2^31 - 1) minus the products' room, extreme weights and zero points,
    multipliers from 2^-31 to 0.99, int32 accumulator outputs."""
    need(build)
    cs = Cases(seed)
    edge = side * (2**31 - 1 - c * k[0] * k[1] * 128 * 255)
    pads = [k[0] // 2 * dil, k[1] // 2 * dil] * 2
    for zp in (-128, 127):
        _conv(cs, 1, c, (9, ow), 3, k, pads, d=(dil, dil), wvals=[-128, 127],
              bias=[edge, -edge, 0], ratios=[2.0**-31, 0.99, 2.0**-12], x_zp=zp)
    _conv(cs, 1, c, (7, ow), 2, k, pads, d=(dil, dil), wvals=[-128, 127], bias=[edge, -edge],
          acc_out=True, x_zp=127)
    check_exact(cs, tmp_path / "c", cflags=X86[build])


DRIVER = r"""
#include <stdio.h>
#include "qcc_kernels.h"
int main(void)
{
    int c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, g;
    while (scanf("%d %d %d %d %d %d %d %d %d %d %d %d %d", &c, &h, &w, &m, &kh, &kw, &sh, &sw,
                 &dh, &dw, &pt, &pl, &g) == 13) {
        qcc_conv2d_p p;
        int32_t wp = 0, qs = 0, tail = 0;
        memset(&p, 0, sizeof p);
        p.n = 1; p.c = c; p.h = h; p.w = w; p.m = m; p.kh = kh; p.kw = kw; p.sh = sh; p.sw = sw;
        p.dh = dh; p.dw = dw; p.pt = pt; p.pl = pl; p.group = g; p.wbits = 8;
        p.oh = (h + 2 * pt - dh * (kh - 1) - 1) / sh + 1;
        p.ow = (w + 2 * pl - dw * (kw - 1) - 1) / sw + 1;
        printf("%d\n", (int)qcc_pwt_rows(&p, &wp, &qs, &tail));
    }
    return 0;
}
"""


def test_taps_gemm_takes_stride_one_group_one_multi_tap_convs(tmp_path):
    """Rows per block for the kernel's geometries, 0 for the convs it leaves to the others:
    strides, groups, 1x1 kernels, rows too narrow for the padded width (ow < 2 (kw-1) dw),
    more reduction tuples than its weight buffer, planes under the GEMM's minimum."""
    need("avx2")
    emit_c(_cases(Cases(0)).g, str(tmp_path))
    (tmp_path / "d.c").write_text(DRIVER)
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *X86["avx2"], f"-I{tmp_path}",
                    "-o", str(tmp_path / "d"), str(tmp_path / "d.c")], check=True)
    geos = {  # c h w m kh kw sh sw dh dw pt pl group -> rows per block
        (48, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1): 7,      # 256 // 34 rows of the padded width
        (40, 1, 49, 32, 1, 3, 1, 1, 1, 1, 0, 1, 1): 1,
        (160, 16, 16, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1): 8,      # AVX2: 80 pair tuples x (8 + 2) rows fill it
        (16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1): 0,      # stride 2
        (16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 2): 0,      # two groups
        (16, 32, 32, 16, 1, 1, 1, 1, 1, 1, 0, 0, 1): 0,      # pointwise
        (16, 25, 3, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1): 0,       # ow 3 < 2 * 2
        (512, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1): 0,     # 128 * 9 tuples > 1024
        (16, 4, 4, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1): 0,        # 16 outputs
    }
    stdin = "\n".join(" ".join(map(str, g)) for g in geos) + "\n"
    out = subprocess.run([str(tmp_path / "d")], input=stdin, capture_output=True, text=True, check=True)
    assert [int(v) for v in out.stdout.split()] == list(geos.values())
