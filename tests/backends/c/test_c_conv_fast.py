"""The speed paths of qcc_conv2d, bit for bit at -O3 (vectorized): the phase-plane depthwise
kernel, the four-channel pointwise kernel (zero point folded out or not), and the
vectorizable int8 requantization of common.h (qcc_requant_i8_u64: its SSE2, AVX2, AVX-512
and scalar loops, one after the other on a row's tail) against the golden
``arith.requantize`` on accumulators that straddle the saturation and rounding edges, with
the cases it must refuse (returning 0 so the kernel falls back to scalar int64)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc import arith

from c_testlib import Cases, check_exact, needs_gcc
from simd_testlib import FLAGS
from test_c_kernels_nn import add_conv

pytestmark = needs_gcc
KERNELS = Path(__file__).resolve().parents[3] / "backends" / "c" / "templates" / "kernels"
COMMON_H = KERNELS / "common.h"

HARNESS = r"""
#include <stdio.h>
#include "common.h"
/* records on stdin: int32 n, m, s, zp, lo, hi, then n int32 accumulators;
 * stdout per record: int8 used flag, then n int8 outputs (zeros when not used). */
int main(void)
{
    static int32_t acc[4096];
    static int8_t y[4096];
    int32_t h[6];
    while (fread(h, sizeof h, 1, stdin) == 1) {
        int8_t used;
        if (h[0] < 0 || h[0] > 4096 || fread(acc, 4, (size_t)h[0], stdin) != (size_t)h[0])
            return 2;
        memset(y, 0, sizeof y);
        used = (int8_t)qcc_requant_i8_u64(acc, h[0], h[1], h[2], h[3], h[4], h[5], y);
        fwrite(&used, 1, 1, stdout);
        fwrite(y, 1, (size_t)h[0], stdout);
    }
    return 0;
}
"""


# the builds of the requantization loop: SSE2 intrinsics (the default x86-64 build), AVX2
# intrinsics (-mavx2), AVX-512 (qcc_requant_i8_s64_avx512: int64 lanes for every multiplier and
# shift 1..62, int32 lanes from shift 32, a masked last step: the dispatch build's avx512
# variant's flags, and -march=native where the CPU has it), the scalar loop (-DQCC_PORTABLE)
AVX512 = ("-mavx2", "-mavx512f", "-mavx512bw", "-mavx512vl")
REQUANT_BUILDS = {"sse2": (), "avx2": ("-mavx2",), "avx512": AVX512, "native": ("-march=native",),
                  "portable": ("-march=native", "-DQCC_PORTABLE")}


@pytest.fixture(scope="module", params=sorted(REQUANT_BUILDS))
def harness(tmp_path_factory, request) -> Path:
    flags = REQUANT_BUILDS[request.param]
    need = {"-mavx2": "avx2", "-mavx512f": "avx512f", "-mavx512bw": "avx512bw", "-mavx512vl": "avx512vl"}
    missing = sorted(need[f] for f in flags if f in need and need[f] not in FLAGS)
    if missing:
        pytest.skip(f"SKIPPED, NOT PASSED: this CPU lacks {missing}")
    d = tmp_path_factory.mktemp("requant_fast")
    (d / "h.c").write_text(HARNESS)
    exe = d / f"h_{request.param}"
    subprocess.run(["gcc", "-std=c99", "-O3", *flags, "-Wall", "-Wextra", "-Werror", "-pedantic",
                    f"-I{COMMON_H.parent}", "-o", str(exe), str(d / "h.c")], check=True)
    return exe


def _takes_all_shifts(exe: Path) -> bool:
    """The build has AVX-512 (F, BW, VL), whose loop takes every multiplier and shift 1..62."""
    need = {"avx512f", "avx512bw", "avx512vl"}
    return exe.name == "h_avx512" or (exe.name == "h_native" and need <= FLAGS)


def _run(exe: Path, records: list) -> list:
    blob = b"".join(np.array([len(a), m, s, zp, lo, hi], np.int32).tobytes()
                    + np.asarray(a, np.int32).tobytes() for a, m, s, zp, lo, hi in records)
    out = subprocess.run([str(exe)], input=blob, capture_output=True, check=True).stdout
    res, at = [], 0
    for a, *_ in records:
        res.append((out[at] == 1, np.frombuffer(out[at + 1:at + 1 + len(a)], np.int8)))
        at += 1 + len(a)
    return res


def _edge_accs(rng, m: int, s: int, zp: int, n: int = 256) -> np.ndarray:
    """Accumulators near the rounding ties (k + 1/2) * 2^s / m and the saturation points."""
    k = rng.integers(-300, 300, n)
    near = (((2 * k + 1) << s) // (2 * m)) + rng.integers(-2, 3, n)
    wild = rng.integers(-2**31, 2**31, n // 4)
    ext = np.array([-2**31, 2**31 - 1, 0, -1, 1])
    return np.clip(np.concatenate([near, wild, ext]), -2**31, 2**31 - 1).astype(np.int64)


def _check(records, got):
    used = 0
    for (a, m, s, zp, lo, hi), (ok, y) in zip(records, got):
        if ok:
            used += 1
            want = arith.requantize(a, m, s, zp, lo, hi)
            np.testing.assert_array_equal(y, want, err_msg=f"m={m} s={s} zp={zp} [{lo}, {hi}]")
    return used


def test_requant_u64_matches_golden_sweep(harness):
    """Typical (m in [2^30, 2^31), s 20..43) and odd (small m, small s) per-channel params."""
    rng = np.random.default_rng(5)
    records = []
    for _ in range(300):
        s = int(rng.integers(1, 44))
        m = int(rng.integers(2**30, 2**31)) if rng.random() < 0.7 else int(rng.integers(1, 5000))
        zp = int(rng.integers(-128, 128))
        lo, hi = (-128, 127) if rng.random() < 0.6 else (zp, 127)
        n = 256 if rng.random() < 0.5 else int(rng.integers(1, 80))  # every length mod 16
        records.append((_edge_accs(rng, m, s, zp, n), m, s, zp, lo, hi))
    used = _check(records, _run(harness, records))
    assert used >= 200  # the fast path is really taken for ordinary multipliers


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 2**31 - 1), s=st.integers(1, 62), zp=st.integers(-128, 127),
       relu=st.booleans(), seed=st.integers(0, 2**16))
def test_requant_u64_matches_golden_random(harness, m, s, zp, relu, seed):
    rng = np.random.default_rng(seed)
    acc = _edge_accs(rng, m, min(s, 40), zp, 64)
    lo = zp if relu else -128
    rec = [(acc, m, s, zp, lo, 127)]
    (ok, _), = _run(harness, rec)
    _check(rec, [(ok, _)])
    if _takes_all_shifts(harness):
        assert ok
    elif s > 43:
        assert not ok  # 2^(s+20) would not fit 64 bits: scalar fallback


def test_requant_u64_refuses_unsupported(harness):
    """Shift 0 and lo > hi everywhere; m = 0 and shift 50 except on AVX-512 (which computes them)."""
    acc = np.arange(-5, 5, dtype=np.int64)
    records = [(acc, 0, 31, 0, -128, 127), (acc, 2**30, 0, 0, -128, 127),
               (acc, 2**30, 50, 0, -128, 127), (acc, 2**30, 31, 0, 5, 4)]
    got = _run(harness, records)
    both = _takes_all_shifts(harness)
    assert [ok for ok, _ in got] == [both, False, both, False]
    _check(records, got)


def test_depthwise_phase_and_pointwise_paths_o3(tmp_path):
    """Strides 1-3, asymmetric pads, channel multiplier, batch 2, a 1-channel first layer,
    large planes (the vector loops' bodies and tails); pointwise with and without -128
    weights (folded and centred forms) on extreme inputs; a dilated depthwise (old path)."""
    cs = Cases(7)
    add_conv(cs, 2, 6, (23, 19), 12, (3, 3), (2, 2), (1, 1), [1, 0, 2, 1], 6)
    add_conv(cs, 1, 5, (17, 33), 5, (5, 5), (1, 1), (1, 1), [2, 2, 2, 2], 5, relu=True)
    add_conv(cs, 1, 4, (14, 14), 4, (3, 4), (3, 2), (1, 1), [0, 1, 1, 0], 4)
    add_conv(cs, 1, 1, (32, 32), 8, (3, 3), (2, 2), (1, 1), [1, 1, 1, 1], 1)
    add_conv(cs, 1, 4, (12, 12), 4, (3, 3), (1, 1), (2, 2), [2, 2, 2, 2], 4, acc_out=True)
    x = cs.input(np.where(cs.rng.random((1, 12, 20, 20)) < 0.5, -128, 127).astype(np.int8))
    for wv in (np.full((16, 12, 1, 1), 127), np.full((16, 12, 1, 1), -128),
               cs.rng.choice([-128, -127, 127], (16, 12, 1, 1))):
        w = cs.const(wv.astype(np.int8))
        b = cs.const(np.zeros(16, np.int32))
        cs.op("qcc.conv2d", [x, w, b], {"x_zp": 127, "strides": [1, 1], "dilations": [1, 1],
                                        "pads": [0, 0, 0, 0], "group": 1})
    check_exact(cs, tmp_path / "c", cflags=("-O3",))
