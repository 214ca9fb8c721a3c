"""Host SIMD variants of the C kernels (kernels/simd.h, docs/target_c.md "ISA variants"), bit for
bit with the interpreter: the AVX2 path (-mavx2), the AVX-512 VNNI path (-march=native on a CPU
with avx512_vnni; an explicit skip elsewhere, never a pass) and the portable reference
(-DQCC_PORTABLE), on cases chosen to hit the bodies, the K tails, the partial lane blocks, both
activation dtypes, per-tensor and per-channel requantization and int32 accumulator outputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.ir.types import DType

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc


def _cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


FLAGS = _cpu_flags()
X86 = {"sse2": ("-O3",),  # the default build: x86-64's baseline (SSE2), no -march
       "avx2": ("-O2", "-mavx2"),
       "vnni": ("-O2", "-mavx2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni"),
       "portable": ("-O2", "-march=native", "-DQCC_PORTABLE")}
NEEDS = {"sse2": {"sse2"}, "avx2": {"avx2"}, "vnni": {"avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"},
         "portable": set()}


def _need(variant: str):
    missing = NEEDS[variant] - FLAGS
    if missing:
        pytest.skip(f"SKIPPED, NOT PASSED: this CPU lacks {sorted(missing)} for the {variant} variant")


def _params(cs: Cases, m: int, small_shift: bool, per_channel: bool = True):
    mm, ss = cs.mult(m if per_channel else 1, 0.6, 4.0) if small_shift else cs.mult(m if per_channel else 1, 1e-5, 3e-2)
    return [mm, ss], {"x_zp": int(cs.rng.choice([-128, 127, int(cs.rng.integers(-128, 128))])),
                      "y_zp": int(cs.rng.integers(-128, 128))}


def _linear(cs: Cases, lead, k, nn, small_shift=False, acc_out=False, u8=False, per_channel=True,
            wvals=None):
    x = cs.rand_input(lead + (k,), DType.uint8 if u8 else DType.int8)
    wv = cs.rng.integers(-128, 128, (k, nn)) if wvals is None else cs.rng.choice(wvals, (k, nn))
    w = cs.const(wv.astype(np.int8))
    b = cs.const(cs.rng.integers(-5000, 5000, nn).astype(np.int32))
    ms, attrs = _params(cs, nn, small_shift, per_channel)
    if u8:
        attrs["x_zp"] = int(cs.rng.choice([0, 255, int(cs.rng.integers(0, 256))]))
    if acc_out:
        cs.op("qcc.linear", [x, w], {"x_zp": attrs["x_zp"]})
    else:
        cs.op("qcc.linear", [x, w, b] + ms, attrs)


def _linear_cases(cs: Cases) -> Cases:
    for k, nn in ((1, 3), (16, 8), (31, 9), (32, 16), (33, 7), (64, 17), (100, 24)):
        _linear(cs, (3,), k, nn)
    _linear(cs, (2, 5), 19, 6, small_shift=True)
    _linear(cs, (4,), 48, 10, u8=True)
    _linear(cs, (2,), 40, 8, per_channel=False, wvals=[-128, 127])
    _linear(cs, (4,), 23, 5, acc_out=True)
    _linear(cs, (3,), 70, 9, acc_out=True, u8=True)
    # SSE2 takes the interleaved kernel for two rows or more: K with odd tails, one row, 8
    # rows of 1000 (the x batches), extreme weights at the int16 pairs
    _linear(cs, (5,), 37, 13)
    _linear(cs, (1,), 64, 8)
    _linear(cs, (8,), 1000, 9, u8=True)
    _linear(cs, (3,), 35, 8, wvals=[-128, 127], small_shift=True)
    return cs


def _conv(cs: Cases, n, c, hw, m, k, s, pads, group, small_shift=False, relu=False,
          wvals=None, acc_out=False, per_channel=True, dil=(1, 1)):
    x = cs.rand_input((n, c, hw[0], hw[1]))
    shape = (m, c // group, k[0], k[1])
    wv = cs.rng.integers(-128, 128, shape) if wvals is None else cs.rng.choice(wvals, shape)
    w = cs.const(wv.astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, m).astype(np.int32))
    ms, attrs = _params(cs, m, small_shift, per_channel)
    if relu:
        attrs.update(act_min=attrs["y_zp"], act_max=127)
    attrs.update(strides=list(s), dilations=list(dil), pads=list(pads), group=group)
    if acc_out:
        ms, attrs = [], {k2: v for k2, v in attrs.items() if k2 not in ("y_zp", "act_min", "act_max")}
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def _conv_cases(cs: Cases) -> Cases:
    # im2col: K = 27 (one tail step), 45, 90 (body + tail), 64 (no tail), groups, dilation,
    # planes not a multiple of 8, padding (the zero point's byte)
    _conv(cs, 1, 3, (10, 9), 9, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    _conv(cs, 1, 10, (7, 7), 6, (3, 3), (2, 2), [1, 1, 0, 0], 2, small_shift=True)
    _conv(cs, 2, 10, (6, 5), 5, (3, 3), (1, 1), [1, 1, 1, 1], 1, relu=True, per_channel=False)
    _conv(cs, 1, 16, (5, 5), 8, (2, 2), (1, 1), [0, 0, 1, 1], 1, wvals=[-128, 127])
    _conv(cs, 1, 4, (9, 9), 6, (3, 3), (1, 1), [2, 2, 2, 2], 1, dil=(2, 2))
    _conv(cs, 1, 3, (6, 7), 4, (3, 3), (1, 1), [1, 1, 1, 1], 1, acc_out=True)
    # pointwise: im2col on small planes (< 64), the portable direct kernel on larger ones
    _conv(cs, 1, 13, (7, 9), 7, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, -127, 127])
    _conv(cs, 1, 33, (5, 5), 9, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 64, (9, 8), 16, (1, 1), (1, 1), [0, 0, 0, 0], 1, small_shift=True)
    _conv(cs, 2, 2, (11, 11), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 40, (8, 10), 6, (1, 1), (1, 1), [0, 0, 0, 0], 1)
    _conv(cs, 1, 70, (8, 8), 3, (1, 1), (1, 1), [0, 0, 0, 0], 1, per_channel=False)
    _conv(cs, 1, 8, (8, 8), 4, (1, 1), (1, 1), [0, 0, 0, 0], 2, acc_out=True)
    # pointwise on planes >= 64 (qcc_conv2d_pws: positions in lanes, channel pairs): an odd
    # channel count, several position blocks with a partial last one, M not a multiple of 4,
    # extreme weights, int32 outputs, a block of few positions (many channels)
    _conv(cs, 2, 5, (17, 17), 7, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, 127])
    _conv(cs, 1, 3, (9, 10), 6, (1, 1), (1, 1), [0, 0, 0, 0], 1, acc_out=True)
    _conv(cs, 1, 601, (8, 9), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1, small_shift=True)
    # other one-group convs on planes >= 64 (the same GEMM over K-major im2col rows): stride 2
    # (gathered rows), asymmetric pads, non-square kernels, K = 576 (blocks of 48 positions
    # that split output rows), a batch of 2 with int32 outputs
    _conv(cs, 1, 5, (20, 18), 8, (3, 3), (2, 2), [1, 1, 1, 1], 1, relu=True)
    _conv(cs, 1, 6, (9, 16), 5, (1, 5), (1, 1), [0, 3, 0, 1], 1, wvals=[-128, 127])
    _conv(cs, 1, 64, (8, 12), 9, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    _conv(cs, 2, 7, (4, 32), 6, (4, 1), (1, 1), [2, 0, 1, 0], 1, acc_out=True)
    # depthwise (qcc_conv2d_dws: channels in lanes, tap pairs): fewer than 8 channels, more
    # than 8 and not a multiple, strides 1 and 2, 5x5, even and non-square kernels,
    # asymmetric pads, extreme weights and zero points, per-tensor, int32 outputs, several
    # bands of rows (wide input), and a channel multiplier (the portable kernel)
    _conv(cs, 1, 6, (13, 11), 6, (3, 3), (1, 1), [1, 1, 1, 1], 6)
    _conv(cs, 1, 20, (9, 9), 20, (5, 5), (2, 2), [2, 2, 2, 2], 20, relu=True)
    _conv(cs, 2, 13, (6, 7), 13, (2, 4), (1, 2), [0, 1, 1, 2], 13, wvals=[-128, 127])
    _conv(cs, 1, 16, (4, 4), 16, (3, 3), (1, 1), [1, 1, 1, 1], 16, per_channel=False, small_shift=True)
    _conv(cs, 1, 9, (5, 6), 9, (3, 3), (2, 1), [1, 0, 1, 0], 9, acc_out=True)
    _conv(cs, 1, 8, (40, 300), 8, (3, 3), (1, 1), [1, 1, 1, 1], 8)
    _conv(cs, 1, 4, (7, 7), 8, (3, 3), (1, 1), [1, 1, 1, 1], 4)
    return cs


def test_vnni_offset_correction_wraps_exactly(tmp_path):
    """K = 70000 with x = zp = 127 and w = 127: the VNNI sum of w * (x + 128) leaves int32
    (70000 * 127 * 255 > 2^31) while the true accumulator is small; the modulo-2^32
    correction must still give it exactly (int32 accumulator outputs and requantized ones)."""
    _need("vnni")
    cs = Cases(5)
    k = 70000
    xv = np.full((2, k), 127, np.int8)
    xv[1, :50] = -128
    x = cs.input(xv)
    w = cs.const(np.full((k, 9), 127, np.int8))
    cs.op("qcc.linear", [x, w], {"x_zp": 127})
    b = cs.const(np.arange(9, dtype=np.int32) * 1000)
    mm, ss = cs.mult(9, 1e-4, 1e-3)
    cs.op("qcc.linear", [x, w, b, mm, ss], {"x_zp": 127, "y_zp": 3})
    check_exact(cs, tmp_path / "c", cflags=X86["vnni"])


_REQ = r"""
#include "common.h"
#include "simd.h"
#include "simd_sse2.h"
#include "simd_neon.h"
#include "simd_common.h"
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
    import subprocess
    from pathlib import Path

    import qcc.backends.c as cb

    kdir = Path(cb.__file__).parent / "templates" / "kernels"
    d = tmp_path_factory.mktemp("req")
    (d / "t.c").write_text(_REQ)
    bins = {}
    for v in ("sse2", "avx2", "vnni"):
        if NEEDS[v] - FLAGS:
            continue
        bins[v] = str(d / f"t_{v}")
        subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *X86[v], f"-I{kdir}", "-o",
                        bins[v], str(d / "t.c")], check=True)
    return bins


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_I32, _M, _S), min_size=8, max_size=8), st.integers(-128, 127),
       st.sampled_from([(-128, 127), (0, 127), (-32768, 32767), (-2**31, 2**31 - 1)]))
def test_requant8_int32_edges(requant_bins, lanes, zp, lohi):
    """The 8-lane requantization equals arith.requantize (and the scalar C) at the int32 edges,
    for every multiplier in [0, 2^31) and shift in [1, 62]."""
    import subprocess

    from qcc import arith

    if not requant_bins:
        pytest.skip("SKIPPED, NOT PASSED: this CPU has no AVX2")
    lo, hi = lohi
    text = f"{zp} {lo} {hi}\n" + "\n".join(f"{a} {m} {s}" for a, m, s in lanes) + "\n"
    acc, m, s = (np.array(c, np.int64) for c in zip(*lanes))
    want = arith.requantize(acc, m, s, zp, lo, hi)
    for v, b in requant_bins.items():
        out = subprocess.run([b], input=text, capture_output=True, text=True, check=True).stdout.split()
        got = np.array(out, np.int64).reshape(8, 2)
        assert np.array_equal(got[:, 1], want), (v, "scalar")
        assert np.array_equal(got[:, 0], want), (v, got[:, 0], want)


_MADD = r"""
#include "common.h"
#include "simd.h"
#include "simd_sse2.h"
#include "simd_neon.h"
#include "simd_common.h"
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
    cross tools are installed, on AArch64 under qemu-aarch64 (a command list per variant)."""
    import subprocess
    from pathlib import Path

    import qcc.backends.c as cb

    kdir = Path(cb.__file__).parent / "templates" / "kernels"
    d = tmp_path_factory.mktemp("madd")
    (d / "t.c").write_text(_MADD)
    bins = {}
    for v in ("sse2", "avx2", "vnni"):
        if not NEEDS[v] - FLAGS:
            subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *X86[v], f"-I{kdir}", "-o",
                            str(d / v), str(d / "t.c")], check=True)
            bins[v] = [str(d / v)]
    if not _a64_missing():
        subprocess.run(["aarch64-linux-gnu-gcc", "-std=c99", "-Wall", "-Wextra", "-Werror",
                        *A64["neon_dot"], f"-I{kdir}", "-o", str(d / "a64"), str(d / "t.c")], check=True)
        bins["neon_dot"] = ["qemu-aarch64", "-cpu", "max", str(d / "a64")]
    return bins


_X16 = st.one_of(st.sampled_from([-255, -128, 0, 127, 255]), st.integers(-255, 255))
_W16 = st.one_of(st.sampled_from([-128, 0, 127]), st.integers(-128, 127))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_I32, min_size=8, max_size=8), st.lists(st.tuples(_X16, _W16), min_size=16, max_size=16))
def test_madd16_int32_edges(madd_bins, acc, pairs):
    """qcc_v8_madd16 (VPMADDWD; NEON LD2 + SMLAL) adds each lane's two products (centred
    activations |x - zp| <= 255, int8 weights) to an accumulator at the int32 edges exactly,
    wrapping modulo 2^32 as the portable kernels' int32 sums do."""
    import subprocess

    if not madd_bins:
        pytest.skip("SKIPPED, NOT PASSED: no AVX2 here and no AArch64 cross tools")
    text = " ".join(map(str, acc)) + "\n" + "\n".join(f"{x} {w}" for x, w in pairs) + "\n"
    prod = [x * w for x, w in pairs]
    want = [((a + prod[2 * i] + prod[2 * i + 1] + 2**31) % 2**32) - 2**31 for i, a in enumerate(acc)]
    for v, cmd in madd_bins.items():
        out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=True).stdout.split()
        assert [int(o) for o in out] == want, v


_DOT4 = r"""
#include "common.h"
#include "simd.h"
#include "simd_sse2.h"
#include "simd_neon.h"
#include "simd_common.h"
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
    import subprocess
    from pathlib import Path

    import qcc.backends.c as cb

    kdir = Path(cb.__file__).parent / "templates" / "kernels"
    d = tmp_path_factory.mktemp("dot4")
    (d / "t.c").write_text(_DOT4)
    bins = {}
    if not NEEDS["vnni"] - FLAGS:
        subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *X86["vnni"], f"-I{kdir}", "-o",
                        str(d / "vnni"), str(d / "t.c")], check=True)
        bins["vnni"] = ([str(d / "vnni")], False)
    if not _a64_missing():
        subprocess.run(["aarch64-linux-gnu-gcc", "-std=c99", "-Wall", "-Wextra", "-Werror",
                        *A64["neon_dot"], f"-I{kdir}", "-o", str(d / "a64"), str(d / "t.c")], check=True)
        bins["neon_dot"] = (["qemu-aarch64", "-cpu", "max", str(d / "a64")], True)
    return bins


_B8 = st.one_of(st.sampled_from([0, 127, 128, 255]), st.integers(0, 255))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_I32, min_size=8, max_size=8), st.lists(_B8, min_size=32, max_size=32),
       st.lists(_W16, min_size=4, max_size=4))
def test_dot4b_int32_edges(dot4_bins, acc, xb, wb):
    """qcc_v8_dot4b adds each lane's four byte products (VNNI: x bytes as u8, SDOT: as s8;
    int8 weights) to an accumulator at the int32 edges, wrapping modulo 2^32."""
    import subprocess

    if not dot4_bins:
        pytest.skip("SKIPPED, NOT PASSED: no AVX-512 VNNI here and no AArch64 cross tools")
    text = " ".join(map(str, acc)) + "\n" + " ".join(map(str, xb)) + "\n" + " ".join(map(str, wb)) + "\n"
    for v, (cmd, signed) in dot4_bins.items():
        xv = [b - 256 if signed and b > 127 else b for b in xb]
        want = [((a + sum(xv[4 * i + t] * wb[t] for t in range(4)) + 2**31) % 2**32) - 2**31
                for i, a in enumerate(acc)]
        out = subprocess.run(cmd, input=text, capture_output=True, text=True, check=True).stdout.split()
        assert [int(o) for o in out] == want, v


# ---- AArch64 NEON dot product: Debian's cross gcc, run under qemu-aarch64 user mode ----------
A64 = {"neon_dot": ("-O2", "-march=armv8.2-a+dotprod", "-static"),
       "neon_portable": ("-O2", "-march=armv8.2-a+dotprod", "-static", "-DQCC_PORTABLE")}


def _a64_missing() -> str:
    import shutil

    tools = [t for t in ("aarch64-linux-gnu-gcc", "qemu-aarch64") if shutil.which(t) is None]
    return f"SKIPPED, NOT PASSED: {', '.join(tools)} not installed (.ci/setup installs them)" if tools else ""


def _check_a64(cs: Cases, out_dir, variant: str):
    import subprocess

    from qcc.backends.c.build import build, pack_inputs, unpack_outputs
    from qcc.interp import Interpreter
    from qcc.ir.verifier import verify

    from c_testlib import emit_c

    verify(cs.g)
    want = Interpreter(cs.g).run(cs.feeds)
    manifest = emit_c(cs.g, str(out_dir))
    binary = build(str(out_dir), cc="aarch64-linux-gnu-gcc", extra_cflags=A64[variant])
    fin, fout = out_dir / "in.bin", out_dir / "out.bin"
    fin.write_bytes(pack_inputs(manifest, [cs.feeds]))
    subprocess.run(["qemu-aarch64", "-cpu", "max", binary, str(fin), str(fout)], check=True,
                   capture_output=True, timeout=300)
    got = unpack_outputs(manifest, fout.read_bytes(), 1)[0]
    for name, w in want.items():
        assert np.array_equal(got[name], w), (variant, name)


def test_aarch64_dotprod_macros_select_the_neon_path(tmp_path):
    """The variant is chosen by the compiler's macros alone: with +dotprod QCC_SIMD_NEON is on,
    without it (plain armv8-a) and with -DQCC_PORTABLE it is off."""
    import subprocess
    from pathlib import Path

    import qcc.backends.c as cb

    why = _a64_missing()
    if why:
        pytest.skip(why)
    kdir = Path(cb.__file__).parent / "templates" / "kernels"
    src = tmp_path / "t.c"
    src.write_text('#include "common.h"\n#include "simd.h"\n#include "simd_sse2.h"\n#include "simd_neon.h"\n#include "simd_common.h"\n')
    def on(*flags):
        out = subprocess.run(["aarch64-linux-gnu-gcc", "-std=c99", "-dM", "-E", *flags, f"-I{kdir}", str(src)],
                             capture_output=True, text=True, check=True).stdout
        return "#define QCC_SIMD_NEON 1" in out
    assert on("-march=armv8.2-a+dotprod")
    assert not on("-march=armv8-a")
    assert not on("-march=armv8.2-a+dotprod", "-DQCC_PORTABLE")


def test_avxvnni_build_selects_vnni_and_compiles(tmp_path):
    """-mavx2 -mavxvnni (Alder Lake and later: VNNI without AVX-512) takes the VNNI path through
    _mm256_dpbusd_avx_epi32 and compiles warning-free. Compiled only, not run: a CPU without
    avx_vnni cannot run it (the VNNI arithmetic itself is run by the avx512_vnni tests)."""
    import subprocess

    from c_testlib import emit_c

    emit_c(_linear_cases(Cases(0)).g, str(tmp_path))
    cmd = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-mavx2", "-mavxvnni"]
    macros = subprocess.run(cmd + ["-dM", "-E", str(tmp_path / "t.c")], capture_output=True, text=True,
                            check=True).stdout
    assert "#define QCC_SIMD_VNNI 1" in macros and "__AVX512VNNI__" not in macros
    subprocess.run(cmd + ["-c", str(tmp_path / "t.c"), "-o", str(tmp_path / "t.o")], check=True)


def test_default_x86_build_selects_sse2(tmp_path):
    """The default build (-O3, no -march: x86-64's baseline SSE2) takes the SSE2 path and
    compiles warning-free; -DQCC_PORTABLE forces the portable C, and -mavx2 the AVX2 path."""
    import subprocess

    from c_testlib import emit_c

    if "sse2" not in FLAGS:
        pytest.skip("SKIPPED, NOT PASSED: not an x86 host with SSE2")
    emit_c(_linear_cases(Cases(0)).g, str(tmp_path))
    cmd = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O3"]

    def macros(*flags):
        return subprocess.run(cmd + [*flags, "-dM", "-E", str(tmp_path / "t.c")], capture_output=True,
                              text=True, check=True).stdout

    default = macros()
    assert "#define QCC_SIMD_SSE2 1" in default and "__AVX2__" not in default
    assert "#define QCC_SIMD " not in macros("-DQCC_PORTABLE")
    avx2 = macros("-mavx2")
    assert "#define QCC_SIMD_X86 1" in avx2 and "QCC_SIMD_SSE2" not in avx2
    subprocess.run(cmd + ["-c", str(tmp_path / "t.c"), "-o", str(tmp_path / "t.o")], check=True)


def _packed_cases(cs: Cases) -> Cases:
    """Packed int4/int2 linear layers, with and without per-group scales: K with and without a
    tail, K > 1024 (several unpacked chunks), group sizes 16/32/64/96 (16: VNNI's steps are 32,
    so it runs portable there), a last group shorter than the others, uint8 x, int32 and int16
    outputs."""
    for k, nn, bits, gsz, lead, u8, out in (
            (64, 8, 4, 32, (3,), False, "i8"), (100, 11, 4, 32, (2,), True, "i8"),
            (70, 9, 2, 64, (3,), False, "i16"), (48, 5, 4, 16, (2,), False, "i8"),
            (1300, 10, 4, 32, (2,), False, "i8"), (1100, 9, 2, 0, (2,), True, "i8"),
            (40, 6, 4, 0, (4,), False, "i8"), (200, 13, 2, 96, (2,), False, "acc"),
            # the interleaved x86 kernel (linear_simd_il.c): groups padded to the step (18, 9:
            # odd groups start mid-byte, 10 for int2), x prepared in several batches of rows
            # (20 rows x 1000), an odd row count (pairs of rows and one left), u8 with groups
            (100, 12, 4, 18, (3,), False, "i8"), (50, 9, 4, 9, (3,), True, "i16"),
            (64, 10, 2, 10, (2,), False, "acc"), (1000, 9, 4, 0, (20,), False, "i8"),
            (96, 17, 4, 32, (5,), True, "i8"), (130, 8, 2, 16, (3,), False, "i8"),
            # groups of 40 / 48 (no multiple of any step): whole-register unpacking of the first
            # 32 of each group, tables for the rest; int8 weights with groups of 24 (pairs)
            (120, 9, 4, 40, (3,), False, "i8"), (150, 11, 4, 48, (2,), True, "i16"),
            (100, 10, 8, 24, (3,), False, "i8")):
        lim = 1 << (bits - 1)
        x = cs.rand_input(lead + (k,), DType.uint8 if u8 else DType.int8)
        w = cs.const(cs.rng.integers(-lim, lim, (k, nn)).astype(np.int8), {4: DType.int4, 2: DType.int2, 8: DType.int8}[bits])
        b = cs.const(cs.rng.integers(-3000, 3000, nn).astype(np.int32))
        mm, ss = cs.mult(nn, 1e-4, 3e-2)
        zp = int(cs.rng.integers(0, 256)) if u8 else int(cs.rng.integers(-128, 128))
        attrs = {"x_zp": zp, "y_zp": int(cs.rng.integers(-100, 100))}
        gm = []
        if gsz:
            gm = [cs.const(cs.rng.integers(0, (1 << 16) + 1, (nn, -(-k // gsz))).astype(np.int32))]
            attrs.update(group_size=gsz, group_shift=16)
        if out == "acc":
            cs.op("qcc.linear", [x, w, None, None, None] + gm,
                  {a: v for a, v in attrs.items() if a != "y_zp"})
            continue
        if out == "i16":
            attrs.update(dtype="i16", y_zp=attrs["y_zp"] * 100)
        cs.op("qcc.linear", [x, w, b, mm, ss] + gm, attrs)
    # convs (all im2col with packed weights): general, grouped, pointwise, depthwise
    # (group sizes 36 and 9 are whole 3x3 kernels, as the quantizer cuts them; 20: a pointwise
    # group that is no multiple of the step: each group starts on a step of the columns)
    for c, m, kk, group, bits, gsz, hw in ((8, 6, 3, 1, 4, 32, (6, 5)), (16, 8, 3, 2, 2, 64, (5, 5)),
                                           (40, 5, 1, 1, 4, 32, (4, 6)), (6, 6, 3, 6, 4, 0, (7, 7)),
                                           (12, 9, 3, 1, 2, 0, (5, 4)), (16, 7, 3, 1, 4, 36, (5, 6)),
                                           (10, 4, 3, 1, 2, 9, (4, 4)), (50, 6, 1, 1, 4, 20, (3, 5)),
                                           # depthwise, per channel: the int8 depthwise kernel
                                           # on unpacked weights (stride 1 and 2, multiplier 2)
                                           (16, 16, 3, 16, 4, 0, (16, 15)), (8, 8, 5, 8, 2, 0, (12, 12)),
                                           (6, 12, 3, 6, 4, 0, (9, 10)),
                                           # one group, per channel, planes >= 64: the int8
                                           # GEMM on weights unpacked once (pointwise, 3x3)
                                           (20, 7, 1, 1, 4, 0, (9, 9)), (6, 5, 3, 1, 2, 0, (10, 10))):
        lim = 1 << (bits - 1)
        xc = cs.rand_input((1, c, hw[0], hw[1]))
        wc = cs.const(cs.rng.integers(-lim, lim, (m, c // group, kk, kk)).astype(np.int8),
                      DType.int4 if bits == 4 else DType.int2)
        mc, sc = cs.mult(m, 1e-4, 3e-2)
        st_ = 2 if kk == 5 else 1
        ac = {"x_zp": int(cs.rng.integers(-128, 128)), "y_zp": 5, "strides": [st_, st_],
              "dilations": [1, 1], "pads": [kk // 2] * 4, "group": group}
        gm = []
        if gsz:
            kr = c // group * kk * kk
            gm = [cs.const(cs.rng.integers(0, (1 << 16) + 1, (m, -(-kr // gsz))).astype(np.int32))]
            ac.update(group_size=gsz, group_shift=16)
        cs.op("qcc.conv2d", [xc, wc, None, mc, sc] + gm, ac)
    return cs



def _all_cases(seed: int) -> Cases:
    cs = Cases(seed)
    for add in (_linear_cases, _conv_cases, _packed_cases):
        add(cs)
    return cs


@pytest.mark.parametrize("variant", ["sse2", "avx2", "vnni", "portable", "neon_dot", "neon_portable"])
def test_variant_bit_exact(tmp_path, variant):
    """Every linear, conv and packed/per-group case in one program per variant, equal to the
    interpreter bit for bit (x86 variants natively, AArch64 ones under qemu-aarch64)."""
    if variant.startswith("neon"):
        why = _a64_missing()
        if why:
            pytest.skip(why)
        _check_a64(_all_cases(7), tmp_path / "c", variant)
        return
    _need(variant)
    check_exact(_all_cases(7), tmp_path / "c", cflags=X86[variant])


_ILMAC = r"""
#include "common.h"
#include "simd.h"
#include "simd_sse2.h"
#include "simd_neon.h"
#include "simd_common.h"
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
    import subprocess
    from pathlib import Path

    import qcc.backends.c as cb

    kdir = Path(cb.__file__).parent / "templates" / "kernels"
    d = tmp_path_factory.mktemp("ilmac")
    (d / "t.c").write_text(_ILMAC)
    bins = {}
    for v in ("sse2", "avx2", "vnni"):
        if not NEEDS[v] - FLAGS:
            subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *X86[v], f"-I{kdir}", "-o",
                            str(d / v), str(d / "t.c")], check=True)
            bins[v] = str(d / v)
    return bins


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_I32, min_size=8, max_size=8), st.lists(st.sampled_from([0, 1, 127, 128, 254, 255]) | st.integers(0, 255),
                                                        min_size=4, max_size=4),
       st.lists(_W16, min_size=32, max_size=32))
def test_il_mac_int32_edges(ilmac_bins, acc, xs, ws):
    """qcc_simd_il_mac adds to lane i the products of the broadcast step activations with lane
    i's own weights, from accumulators at the int32 edges, wrapping modulo 2^32 (VNNI: u8
    activations 0..255 x s8 weights; pairs: centred activations -255..255 as int16)."""
    import subprocess

    if not ilmac_bins:
        pytest.skip("SKIPPED, NOT PASSED: this CPU has no SSE2")
    for v, b in ilmac_bins.items():
        n = 4 if v == "vnni" else 2
        x = xs[:n] if v == "vnni" else [xs[0] - xs[1], xs[2] - 255]  # centred: -255 .. 255
        w = ws[:8 * n]
        text = " ".join(map(str, acc)) + "\n" + " ".join(map(str, x)) + "\n" + " ".join(map(str, w)) + "\n"
        out = [int(o) for o in subprocess.run([b], input=text, capture_output=True, text=True,
                                             check=True).stdout.split()]
        assert out[0] == n, v
        want = [((a + sum(x[t] * w[i * n + t] for t in range(n)) + 2**31) % 2**32) - 2**31
                for i, a in enumerate(acc)]
        assert out[1:] == want, v
