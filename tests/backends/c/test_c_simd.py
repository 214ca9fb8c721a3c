"""Host SIMD variants of the C kernels (kernels/simd.h, docs/target_c.md "ISA variants"), bit for
bit with the interpreter: the default SSE2 build, the AVX2 path (-mavx2), the AVX-512 VNNI path
(an explicit skip on a CPU without avx512_vnni, never a pass), the portable reference
(-DQCC_PORTABLE) and the AArch64 NEON builds under qemu-aarch64, each on one program of the
linear, conv and packed cases of simd_cases.py.  The variant selection by compiler macros is
test_c_simd_select.py, the lane primitives at the int32 edges test_c_simd_lanes.py."""

from __future__ import annotations

import numpy as np
import pytest

from c_testlib import Cases, check_exact, needs_gcc
from simd_cases import all_cases
from simd_testlib import X86, check_variant, need

pytestmark = needs_gcc


@pytest.mark.parametrize("variant", ["sse2", "avx2", "vnni", "portable", "neon_dot", "neon_portable"])
def test_variant_bit_exact(tmp_path, variant):
    """Every linear, conv and packed/per-group case in one program per variant, equal to the
    interpreter bit for bit (x86 variants natively, AArch64 ones under qemu-aarch64)."""
    check_variant(all_cases(7), tmp_path / "c", variant)


def test_vnni_offset_correction_wraps_exactly(tmp_path):
    """K = 70000 with x = zp = 127 and w = 127: the VNNI sum of w * (x + 128) leaves int32
    (70000 * 127 * 255 > 2^31) while the true accumulator is small; the modulo-2^32
    correction must still give it exactly (int32 accumulator outputs and requantized ones)."""
    need("vnni")
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
