"""The table-lookup kernel of packed int4 / int2 linear layers (kernels/linear_lut.c) and its
compile-time bit planes (qcc.backends.c.lut_pack): the planes read back to the weights, the
kernel driven with hypothesis at the int32 edges (bias, per-group multipliers, group shifts,
extreme activations and weights, group tails) against the interpreter's own per-group
arithmetic, and which builds carry the planes (x86 AVX2 only; the VNNI build without those of
layers of more than 4 rows; none in the portable and -DQCC_NO_LUT builds). Whole programs
through the real backend are in simd_cases.py (_lut_linear) / test_c_simd.py."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.backends.c import lut_pack
from qcc.backends.c.render import env
from qcc.ir import DType
from qcc.lower.rules_nn import pack_rows
from qcc.ops.integer_nn import grouped_acc

from c_testlib import Cases, emit_c, needs_gcc
from simd_testlib import driver_bins

pytestmark = needs_gcc


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 90), st.sampled_from([4, 2]), st.integers(0, 40), st.data())
def test_planes_read_back(n, k, bits, gs, data):
    """lut_planes then lut_reference gives the weights back for any N, K and group size (0:
    per channel), and lut_gmult puts feature 16b + i of group g at [b, g, i]."""
    gs = gs or k
    lim = 1 << (bits - 1)
    seed = data.draw(st.integers(0, 2**32 - 1))
    w = np.random.default_rng(seed).integers(-lim, lim, (n, k)).astype(np.int8)
    planes = lut_pack.lut_planes(w, bits, gs)
    gsp, ng, kp = lut_pack.lut_geometry(k, gs)
    assert planes.size == -(-n // 16) * 16 * kp * bits // 8
    assert np.array_equal(lut_pack.lut_reference(planes, bits, gs, n, k), w)
    assert np.array_equal(lut_pack.unpack_rows(pack_rows(w, bits).ravel(), bits, n, k), w)
    gm = np.arange(n * ng, dtype=np.int32).reshape(n, ng)
    gl = lut_pack.lut_gmult(gm, n).reshape(-1, ng, 16)
    j = data.draw(st.integers(0, n - 1))
    g = data.draw(st.integers(0, ng - 1))
    assert gl[j // 16, g, j % 16] == gm[j, g]


def test_rule():
    """The documented rule: N >= 16, padded K <= 2048, and one row, or groups with <= 4 rows,
    or int2 groups with any rows; int8 never."""
    r = lut_pack.lut_rule
    assert r(4, 1, 128, 16, 128, False) and r(2, 1, 128, 64, 16, True)
    assert not r(4, 1, 128, 15, 128, False)        # N below one block
    assert not r(8, 1, 128, 64, 128, False)        # int8 weights
    assert r(4, 4, 128, 64, 32, True) and not r(4, 5, 128, 64, 32, True)
    assert not r(4, 2, 128, 64, 128, False)        # per channel, several rows
    assert r(2, 32, 128, 64, 16, True)
    assert r(4, 1, 2048, 16, 32, True) and not r(4, 1, 2049, 16, 32, True)
    assert not r(4, 1, 2000, 16, 9, True)          # groups of 9 pad to 16: 3 568 > 2048
    assert lut_pack.lut_guard(4) == "QCC_LUT_WEIGHTS" and lut_pack.lut_guard(5) == "QCC_LUT_WEIGHTS_ROWS"


DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "k.h"
static int rd(int32_t *v, int32_t n) { int32_t i; for (i = 0; i < n; i++) if (scanf("%d", &v[i]) != 1) return 0; return 1; }
int main(void)
{
    qcc_linear_p p;
    int32_t h[8], i;
    memset(&p, 0, sizeof p);
    while (rd(h, 8)) {
        const int32_t nwl = h[6], ngl = h[7];
        int32_t *x = malloc(sizeof(int32_t) * (size_t)(h[0] * h[1])), *b = malloc(sizeof(int32_t) * (size_t)h[2]);
        int32_t *wl = malloc(sizeof(int32_t) * (size_t)nwl), *gl = malloc(sizeof(int32_t) * (size_t)(ngl + 1));
        int32_t *y = malloc(sizeof(int32_t) * (size_t)(h[0] * h[2]));
        uint8_t *xb = malloc((size_t)(h[0] * h[1])), *wb = malloc((size_t)nwl);
        p.rows = h[0], p.k = h[1], p.n = h[2], p.wbits = h[3];
        p.x_dt = h[4] ? QCC_U8 : QCC_I8, p.y_dt = QCC_I32;
        if (!rd(&p.x_zp, 1) || !rd(&p.gsize, 1) || !rd(&p.gshift, 1) || !rd(x, h[0] * h[1]) || !rd(b, h[2])
            || !rd(wl, nwl) || !rd(gl, ngl))
            return 1;
        p.ng = p.gsize ? (p.k + p.gsize - 1) / p.gsize : 0;
        for (i = 0; i < h[0] * h[1]; i++)
            xb[i] = (uint8_t)x[i];
        for (i = 0; i < nwl; i++)
            wb[i] = (uint8_t)wl[i];
        if (!qcc_linear_lut_run(&p, xb, wb, ngl ? gl : NULL, b, NULL, NULL, y))
            return 2;
        for (i = 0; i < h[0] * h[2]; i++)
            printf("%d\n", y[i]);
        free(x), free(b), free(wl), free(gl), free(y), free(xb), free(wb);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def lut_bins(tmp_path_factory):
    """The kernel per x86 variant with AVX2 (the linear group of qcc_kernels.h as k.h)."""
    d = tmp_path_factory.mktemp("lut_bins")
    (d / "k.h").write_text(env().get_template("qcc_kernels.h.j2").render(
        version="test", name="t", guard="T", kernels=["linear"]))
    return driver_bins(d, DRIVER.replace('"k.h"', f'"{d / "k.h"}"'), ("avx2", "vnni"))


_I32 = st.one_of(st.sampled_from([-2**31, -2**31 + 1, -1, 0, 1, 2**31 - 1]), st.integers(-2**31, 2**31 - 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 3), k=st.integers(1, 300), n=st.integers(1, 40), bits=st.sampled_from([4, 2]),
       gs=st.integers(0, 70), u8=st.booleans(), gshift=st.integers(1, 30), data=st.data())
def test_kernel_int32_edges(lut_bins, rows, k, n, bits, gs, u8, gshift, data):
    """The kernel's int32 outputs equal the interpreter's grouped_acc (per group) or exact sum
    (per channel) plus bias, modulo 2^32 as the C int32 store: biases and per-group multipliers
    anywhere in int32 (edges included), group shifts 1..30, zero points and activations at
    their extremes, group sizes that leave a short last group."""
    if not lut_bins:
        pytest.skip("SKIPPED, NOT PASSED: this CPU has no AVX2")
    lim = 1 << (bits - 1)
    gs = min(gs, k)
    extreme = data.draw(st.booleans())
    lo, hi = (0, 255) if u8 else (-128, 127)
    zp = data.draw(st.sampled_from([lo, hi]) if extreme else st.integers(lo, hi))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.choice([lo, hi], (rows, k)) if extreme else rng.integers(lo, hi + 1, (rows, k))
    w = rng.choice([-lim, lim - 1], (n, k)) if extreme else rng.integers(-lim, lim, (n, k))
    bias = np.array(data.draw(st.lists(_I32, min_size=n, max_size=n)), np.int64)
    xc = x.astype(np.int64) - zp
    if gs:
        ng = -(-k // gs)
        gm = np.array(data.draw(st.lists(_I32, min_size=n * ng, max_size=n * ng)), np.int64).reshape(n, ng)
        # |sum| <= 2^31 << 30 plus 300 groups of 2^18 * 2^31: within int64
        want = grouped_acc(xc.reshape(rows, 1, k), w, gm, gs, gshift, bias).reshape(rows, n)
        gl = lut_pack.lut_gmult(gm.astype(np.int32), n)
    else:
        want = xc @ w.T.astype(np.int64) + bias
        gl = np.zeros(0, np.int32)
    wl = lut_pack.lut_planes(w, bits, gs or k)
    head = [rows, k, n, bits, int(u8), 0, wl.size, gl.size, zp, gs, gshift]
    text = " ".join(str(int(v)) for v in [*head, *x.ravel(), *bias, *wl, *gl]) + "\n"
    want32 = ((want + 2**31) % 2**32 - 2**31).astype(np.int64)
    for v, cmd in lut_bins.items():
        r = subprocess.run(cmd, input=text, capture_output=True, text=True)
        assert r.returncode == 0, (v, r.returncode, r.stderr)
        got = np.array(r.stdout.split(), np.int64).reshape(rows, n)
        assert np.array_equal(got, want32), (v, np.argwhere(got != want32)[:4].tolist())


def _weights_c(tmp_path, rows: int) -> str:
    """One grouped linear layer: int4 / groups of 32 for one row, int2 / 16 for more."""
    cs = Cases(3)
    x = cs.rand_input((rows, 64))
    bits, gs = (4, 32) if rows == 1 else (2, 16)
    lim = 1 << (bits - 1)
    w = cs.const(cs.rng.integers(-lim, lim, (64, 32)).astype(np.int8), DType.int4 if bits == 4 else DType.int2)
    g = cs.const(cs.rng.integers(0, 1 << 16, (32, 64 // gs)).astype(np.int32))
    m, s = cs.mult(32)
    cs.op("qcc.linear", [x, w, None, m, s, g], {"x_zp": 3, "y_zp": 0, "group_size": gs, "group_shift": 16})
    emit_c(cs.g, str(tmp_path / f"r{rows}"))
    return str(tmp_path / f"r{rows}")


@pytest.mark.parametrize("rows,flags,present", [
    (1, ("-mavx2",), True), (1, ("-mavx2", "-DQCC_NO_LUT"), False), (1, ("-mavx2", "-DQCC_PORTABLE"), False),
    (1, (), False), (5, ("-mavx2",), True), (5, ("-mavx2", "-mavx512f", "-mavx512vl", "-mavx512vnni"), False),
    (1, ("-mavx2", "-mavx512f", "-mavx512vl", "-mavx512vnni"), True)])
def test_which_builds_carry_the_planes(tmp_path, rows, flags, present):
    """The planes (and the call's pointer to them) exist only where the kernel runs: AVX2 x86
    builds, layers of more than 4 rows not with VNNI; the default (SSE2), portable and
    -DQCC_NO_LUT builds compile them out and pass NULL (the MCU builds likewise)."""
    d = _weights_c(tmp_path, rows)
    name = next(p for p in __import__("os").listdir(d) if p.endswith("_weights.c"))
    r = subprocess.run(["gcc", "-std=c99", *flags, "-c", "-o", f"{d}/w.o", f"{d}/{name}"], capture_output=True,
                       text=True, check=True)
    syms = subprocess.run(["nm", f"{d}/w.o"], capture_output=True, text=True, check=True).stdout
    assert ("_lut" in syms) == present, (r.stderr, syms)
