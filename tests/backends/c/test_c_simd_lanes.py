"""The SIMD lane primitives of kernels/simd*.h, each driven by a small C program per variant
(x86 natively, AArch64 under qemu-aarch64 where the cross tools are installed) and checked with
hypothesis at the int32 edges against Python's exact arithmetic: the 8-lane requantization
(vs arith.requantize), the int16-pair multiply-accumulate, the byte-quad dot product and the
interleaved kernel's step, all wrapping modulo 2^32 as the portable kernels' int32 sums do."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc import arith

from c_testlib import needs_gcc
from simd_testlib import SIMD_INCLUDES, driver_bins

pytestmark = needs_gcc


REQUANT_SRC = SIMD_INCLUDES + r"""
#include <stdio.h>
int main(void)
{
    int32_t a[8], m[8], s[8], r[8], zp, lo, hi, i;
    while (scanf("%d %d %d", &zp, &lo, &hi) == 3) {
        for (i = 0; i < 8; i++)
            if (scanf("%d %d %d", &a[i], &m[i], &s[i]) != 3)
                return 1;
        qcc_v8_store(r, qcc_v8_requant(qcc_v8_load(a), qcc_v8_load(m), qcc_v8_load(s), zp, lo, hi));
        for (i = 0; i < 8; i++)
            printf("%d %d\n", r[i], qcc_requant(a[i], m[i], s[i], zp, lo, hi));
    }
    return 0;
}
"""


_I32 = st.one_of(st.sampled_from([-2**31, -2**31 + 1, -1, 0, 1, 2**31 - 2, 2**31 - 1]),
                 st.integers(-2**31, 2**31 - 1))
_M = st.one_of(st.sampled_from([0, 1, 2**30, 2**31 - 1]), st.integers(0, 2**31 - 1))
_S = st.one_of(st.sampled_from([1, 31, 32, 62]), st.integers(1, 62))


@pytest.fixture(scope="module")
def requant_bins(tmp_path_factory):
    """The 8-lane requantization per x86 variant."""
    return driver_bins(tmp_path_factory.mktemp("requant_bins"), REQUANT_SRC, ("sse2", "avx2", "vnni"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_I32, _M, _S), min_size=8, max_size=8), st.integers(-128, 127),
       st.sampled_from([(-128, 127), (0, 127), (-32768, 32767), (-2**31, 2**31 - 1)]))
def test_requant8_int32_edges(requant_bins, lanes, zp, lohi):
    """The 8-lane requantization equals arith.requantize (and the scalar C) at the int32 edges,
    for every multiplier in [0, 2^31) and shift in [1, 62]."""
    if not requant_bins:
        pytest.skip("SKIPPED, NOT PASSED: this CPU has no AVX2")
    lo, hi = lohi
    text = f"{zp} {lo} {hi}\n" + "\n".join(f"{a} {m} {s}" for a, m, s in lanes) + "\n"
    acc, m, s = (np.array(c, np.int64) for c in zip(*lanes))
    want = arith.requantize(acc, m, s, zp, lo, hi)
    for v, cmd in requant_bins.items():
        out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=True).stdout.split()
        got = np.array(out, np.int64).reshape(8, 2)
        assert np.array_equal(got[:, 1], want), (v, "scalar")
        assert np.array_equal(got[:, 0], want), (v, got[:, 0], want)


MADD_SRC = SIMD_INCLUDES + r"""
#include "simd_conv.h"
#include <stdio.h>
int main(void)
{
    int32_t a[8], xp[8], wp[8], r[8], i;
    int xs[16], ws[16];
    while (scanf("%d", &a[0]) == 1) {
        for (i = 1; i < 8; i++)
            if (scanf("%d", &a[i]) != 1)
                return 1;
        for (i = 0; i < 16; i++)
            if (scanf("%d %d", &xs[i], &ws[i]) != 2)
                return 1;
        for (i = 0; i < 8; i++) {  /* lane i = the int16 pair (2i, 2i + 1) */
            xp[i] = (int32_t)((uint32_t)(uint16_t)xs[2 * i] | (uint32_t)(uint16_t)xs[2 * i + 1] << 16);
            wp[i] = (int32_t)((uint32_t)(uint16_t)ws[2 * i] | (uint32_t)(uint16_t)ws[2 * i + 1] << 16);
        }
        qcc_v8_store(r, qcc_v8_madd16(qcc_v8_load(a), xp, wp));
        for (i = 0; i < 8; i++)
            printf("%d\n", r[i]);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def madd_bins(tmp_path_factory):
    """The depthwise kernel's pair multiply-accumulate, per x86 variant natively and, where the
    cross tools are installed, on AArch64 under qemu-aarch64."""
    return driver_bins(tmp_path_factory.mktemp("madd_bins"), MADD_SRC, ("sse2", "avx2", "vnni", "neon_dot"))


_X16 = st.one_of(st.sampled_from([-255, -128, 0, 127, 255]), st.integers(-255, 255))
_W16 = st.one_of(st.sampled_from([-128, 0, 127]), st.integers(-128, 127))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_I32, min_size=8, max_size=8), st.lists(st.tuples(_X16, _W16), min_size=16, max_size=16))
def test_madd16_int32_edges(madd_bins, acc, pairs):
    """qcc_v8_madd16 (VPMADDWD; NEON LD2 + SMLAL) adds each lane's two products (centred
    activations |x - zp| <= 255, int8 weights) to an accumulator at the int32 edges exactly,
    wrapping modulo 2^32 as the portable kernels' int32 sums do."""
    if not madd_bins:
        pytest.skip("SKIPPED, NOT PASSED: no AVX2 here and no AArch64 cross tools")
    text = " ".join(map(str, acc)) + "\n" + "\n".join(f"{x} {w}" for x, w in pairs) + "\n"
    prod = [x * w for x, w in pairs]
    want = [((a + prod[2 * i] + prod[2 * i + 1] + 2**31) % 2**32) - 2**31 for i, a in enumerate(acc)]
    for v, cmd in madd_bins.items():
        out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=True).stdout.split()
        assert [int(o) for o in out] == want, v


DOT4_SRC = SIMD_INCLUDES + r"""
#include "simd_conv.h"
#include <stdio.h>
int main(void)
{
    int32_t a[8], xq[8], r[8], i;
    unsigned xb[32];
    int wb[4];
    uint32_t wq = 0;
    while (scanf("%d", &a[0]) == 1) {
        for (i = 1; i < 8; i++)
            if (scanf("%d", &a[i]) != 1)
                return 1;
        for (i = 0; i < 32; i++)
            if (scanf("%u", &xb[i]) != 1)
                return 1;
        for (i = 0; i < 4; i++)
            if (scanf("%d", &wb[i]) != 1)
                return 1;
        for (i = 0, wq = 0; i < 4; i++)
            wq |= (uint32_t)(uint8_t)wb[i] << (8 * i);
        for (i = 0; i < 8; i++)  /* lane i = operand bytes 4i .. 4i + 3 */
            xq[i] = (int32_t)(xb[4 * i] | xb[4 * i + 1] << 8 | xb[4 * i + 2] << 16 | (uint32_t)xb[4 * i + 3] << 24);
        qcc_v8_store(r, qcc_v8_dot4b(qcc_v8_load(a), xq, (int32_t)wq));
        for (i = 0; i < 8; i++)
            printf("%d\n", r[i]);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def dot4_bins(tmp_path_factory):
    """The conv GEMM's byte-quad step (VPDPBUSD: u8 operands; SDOT: s8), where it exists."""
    return driver_bins(tmp_path_factory.mktemp("dot4_bins"), DOT4_SRC, ("vnni", "neon_dot"))


_B8 = st.one_of(st.sampled_from([0, 127, 128, 255]), st.integers(0, 255))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_I32, min_size=8, max_size=8), st.lists(_B8, min_size=32, max_size=32),
       st.lists(_W16, min_size=4, max_size=4))
def test_dot4b_int32_edges(dot4_bins, acc, xb, wb):
    """qcc_v8_dot4b adds each lane's four byte products (VNNI: x bytes as u8, SDOT: as s8;
    int8 weights) to an accumulator at the int32 edges, wrapping modulo 2^32."""
    if not dot4_bins:
        pytest.skip("SKIPPED, NOT PASSED: no AVX-512 VNNI here and no AArch64 cross tools")
    text = " ".join(map(str, acc)) + "\n" + " ".join(map(str, xb)) + "\n" + " ".join(map(str, wb)) + "\n"
    for v, cmd in dot4_bins.items():
        signed = v == "neon_dot"  # SDOT: s8 bytes; VPDPBUSD: u8
        xv = [b - 256 if signed and b > 127 else b for b in xb]
        want = [((a + sum(xv[4 * i + t] * wb[t] for t in range(4)) + 2**31) % 2**32) - 2**31
                for i, a in enumerate(acc)]
        out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=True).stdout.split()
        assert [int(o) for o in out] == want, v


ILMAC_SRC = SIMD_INCLUDES + r"""
#include <stdio.h>
int main(void)
{
    int32_t a[8], r[8], i, v;
    qcc_il_x x[QCC_SIMD_IL];
    qcc_il_w w[8 * QCC_SIMD_IL];
    printf("%d\n", QCC_SIMD_IL);
    while (scanf("%d", &a[0]) == 1) {
        for (i = 1; i < 8; i++)
            if (scanf("%d", &a[i]) != 1)
                return 1;
        for (i = 0; i < QCC_SIMD_IL; i++)
            if (scanf("%d", &v) != 1)
                return 1;
            else
                x[i] = (qcc_il_x)v;
        for (i = 0; i < 8 * QCC_SIMD_IL; i++)
            if (scanf("%d", &v) != 1)
                return 1;
            else
                w[i] = (qcc_il_w)v;
        qcc_v8_store(r, qcc_simd_il_mac(qcc_v8_load(a), x, w));
        for (i = 0; i < 8; i++)
            printf("%d\n", r[i]);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def ilmac_bins(tmp_path_factory):
    """The interleaved step of linear_simd_il.c per x86 variant (VNNI: u8 quads x s8; AVX2 and
    SSE2: int16 pairs)."""
    return driver_bins(tmp_path_factory.mktemp("ilmac_bins"), ILMAC_SRC, ("sse2", "avx2", "vnni"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_I32, min_size=8, max_size=8), st.lists(st.sampled_from([0, 1, 127, 128, 254, 255]) | st.integers(0, 255),
                                                        min_size=4, max_size=4),
       st.lists(_W16, min_size=32, max_size=32))
def test_il_mac_int32_edges(ilmac_bins, acc, xs, ws):
    """qcc_simd_il_mac adds to lane i the products of the broadcast step activations with lane
    i's own weights, from accumulators at the int32 edges, wrapping modulo 2^32 (VNNI: u8
    activations 0..255 x s8 weights; pairs: centred activations -255..255 as int16)."""
    if not ilmac_bins:
        pytest.skip("SKIPPED, NOT PASSED: this CPU has no SSE2")
    for v, cmd in ilmac_bins.items():
        n = 4 if v == "vnni" else 2
        x = xs[:n] if v == "vnni" else [xs[0] - xs[1], xs[2] - 255]  # centred: -255 .. 255
        w = ws[:8 * n]
        text = " ".join(map(str, acc)) + "\n" + " ".join(map(str, x)) + "\n" + " ".join(map(str, w)) + "\n"
        out = [int(o) for o in subprocess.run(cmd, input=text, capture_output=True, text=True,
                                             check=True).stdout.split()]
        assert out[0] == n, v
        want = [((a + sum(x[t] * w[i * n + t] for t in range(n)) + 2**31) % 2**32) - 2**31
                for i, a in enumerate(acc)]
        assert out[1:] == want, v
