"""Which SIMD variant a build takes is decided by the compiler's macros alone (kernels/simd.h):
the default x86-64 build is SSE2, -mavx2 the AVX2 path, -mavxvnni the VNNI path without
AVX-512, +dotprod the AArch64 NEON path, and -DQCC_PORTABLE the portable C everywhere."""

from __future__ import annotations

import subprocess

import pytest

from c_testlib import Cases, emit_c, needs_gcc
from simd_cases import linear_cases
from simd_testlib import FLAGS, KDIR, SIMD_INCLUDES, a64_missing

pytestmark = needs_gcc


def test_aarch64_dotprod_macros_select_the_neon_path(tmp_path):
    """The variant is chosen by the compiler's macros alone: with +dotprod QCC_SIMD_NEON is on,
    without it (plain armv8-a) and with -DQCC_PORTABLE it is off."""
    why = a64_missing()
    if why:
        pytest.skip(why)
    src = tmp_path / "t.c"
    src.write_text(SIMD_INCLUDES)

    def on(*flags):
        out = subprocess.run(["aarch64-linux-gnu-gcc", "-std=c99", "-dM", "-E", *flags, f"-I{KDIR}", str(src)],
                             capture_output=True, text=True, check=True).stdout
        return "#define QCC_SIMD_NEON 1" in out
    assert on("-march=armv8.2-a+dotprod")
    assert not on("-march=armv8-a")
    assert not on("-march=armv8.2-a+dotprod", "-DQCC_PORTABLE")


def test_avxvnni_build_selects_vnni_and_compiles(tmp_path):
    """-mavx2 -mavxvnni (Alder Lake and later: VNNI without AVX-512) takes the VNNI path through
    _mm256_dpbusd_avx_epi32 and compiles warning-free. Compiled only, not run: a CPU without
    avx_vnni cannot run it (the VNNI arithmetic itself is run by the avx512_vnni tests)."""
    emit_c(linear_cases(Cases(0)).g, str(tmp_path))
    cmd = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-mavx2", "-mavxvnni"]
    macros = subprocess.run(cmd + ["-dM", "-E", str(tmp_path / "t.c")], capture_output=True, text=True,
                            check=True).stdout
    assert "#define QCC_SIMD_VNNI 1" in macros and "__AVX512VNNI__" not in macros
    subprocess.run(cmd + ["-c", str(tmp_path / "t.c"), "-o", str(tmp_path / "t.o")], check=True)


def test_default_x86_build_selects_sse2(tmp_path):
    """The default build (-O3, no -march: x86-64's baseline SSE2) takes the SSE2 path and
    compiles warning-free; -DQCC_PORTABLE forces the portable C, and -mavx2 the AVX2 path."""
    if "sse2" not in FLAGS:
        pytest.skip("SKIPPED, NOT PASSED: not an x86 host with SSE2")
    emit_c(linear_cases(Cases(0)).g, str(tmp_path))
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
