"""The host SIMD matmul (kernels/matmul_simd.c: b as int16 pairs with the columns in the lanes,
four rows of a per register tile) bit for bit with the interpreter in every x86 variant (the
default SSE2 build, AVX2, AVX-512 VNNI, the portable reference) and the AArch64 NEON build
under qemu-aarch64: M around multiples of four, odd and even K, N around multiples of 16,
int8 / uint8 operands, int8 / int16 / int32 outputs, b broadcast over batches, shapes past
the kernel's limits (the portable loops); and operands at their extremes (centred values of
+-255, products of 65025) with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.ir import DType

from c_testlib import Cases, needs_gcc
from simd_testlib import check_variant
from test_c_isa_nonmac import _matmul_cases

pytestmark = needs_gcc
VARIANTS = ["sse2", "avx2", "vnni", "portable", "neon_dot"]


def _shapes(seed: int) -> Cases:
    cs = _matmul_cases(seed)
    # a transformer's attention shapes (65 tokens, heads of 32) and the kernel's limits: N of
    # 256 (taken) and 257 (not), K of 2048 with N 8 (taken) and of 2049 (not)
    for m, k, nn in ((65, 32, 65), (65, 65, 32), (5, 9, 256), (3, 5, 257), (2, 2048, 8), (2, 2049, 8)):
        a, b = cs.rand_input((1, m, k)), cs.rand_input((1, k, nn), DType.uint8)
        mm, ss = cs.mult(1, 1e-5, 2.0)
        cs.op("qcc.matmul", [a, b, mm, ss], {"a_zp": 5, "b_zp": 130, "y_zp": -3})
        cs.op("qcc.matmul", [a, b], {"a_zp": -7, "b_zp": 0})
    return cs


@pytest.mark.parametrize("variant", VARIANTS)
def test_matmul_host_variants_bit_exact(tmp_path, variant):
    check_variant(_shapes(3), tmp_path / "c", variant)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_matmul_host_extremes(tmp_path, data):
    """Operands at -128 / 127 (int8) or 0 / 255 (uint8) against zero points at the other end:
    every centred value +-255 and every pair product 65025; int32 and requantized outputs."""
    variant = data.draw(st.sampled_from(["sse2", "vnni"]), label="variant")
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    m, k, nn = (data.draw(st.integers(1, 9), label="m"), data.draw(st.integers(1, 600), label="k"),
                data.draw(st.integers(1, 40), label="n"))
    au = data.draw(st.booleans(), label="a uint8")
    av = np.array([0, 255] if au else [-128, 127])
    a = cs.input(cs.rng.choice(av, (2, m, k)).astype(np.uint8 if au else np.int8),
                 DType.uint8 if au else DType.int8)
    b = cs.input(cs.rng.choice(np.array([-128, 127], np.int8), (2, k, nn)), DType.int8)
    za = data.draw(st.sampled_from([0, 255] if au else [-128, 127]), label="a_zp")
    zb = data.draw(st.sampled_from([-128, 127]), label="b_zp")
    mm, ss = cs.mult(1, 1e-7, 1e-3)
    cs.op("qcc.matmul", [a, b], {"a_zp": za, "b_zp": zb})
    cs.op("qcc.matmul", [a, b, mm, ss], {"a_zp": za, "b_zp": zb, "y_zp": 0})
    check_variant(cs, tmp_path / "c", variant)
