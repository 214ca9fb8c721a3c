"""The table-lookup kernel (qcc_lut, and the int8 parts of qcc_concat_part, which use the same
row lookup) bit for bit with the interpreter: one table or one per
channel ([C, 256], made by the fuse-tables pass), int8 and uint8 input, rows shorter than,
equal to and longer than one 64-byte vector step (tails), channels last (one row per
element) and in place; each in the default build (SSE2, scalar loop), the AVX-512 VBMI build
(VPERMI2B, where this CPU has it), -march=native and -DQCC_PORTABLE.  Also: a target whose
lookup kernel takes one table refuses a per-channel one with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from qcc import arith
from qcc.backends.c import arm
from qcc.ir import DType

from c_testlib import Cases, check_exact, check_exact_qemu, needs_arm, needs_gcc
from simd_testlib import FLAGS

pytestmark = needs_gcc
BUILDS = {"sse2": ("-O3",), "vbmi": ("-O2", "-mavx512f", "-mavx512bw", "-mavx512vbmi"),
          "native": ("-O2", "-march=native"), "portable": ("-O2", "-DQCC_PORTABLE")}


def _cases(seed: int) -> Cases:
    cs = Cases(seed)
    rng = cs.rng
    for dt in (DType.int8, DType.uint8):
        for shape in ((1, 3, 1, 5), (2, 4, 8, 8), (1, 3, 9, 15), (1, 2, 13, 13), (1, 1, 1, 1)):
            x = cs.rand_input(shape, dt)
            t = cs.const(rng.integers(-128, 128, (shape[1], 256)).astype(np.int8))
            cs.op("qcc.lut", [x, t], {"axis": 1})
        for n in (1, 63, 64, 65, 300):  # one table: the vector loop and its masked tail
            x = cs.rand_input((1, n), dt)
            cs.op("qcc.lut", [x, cs.const(rng.integers(0, 256, 256).astype(np.uint8))])
        x = cs.rand_input((7, 6), dt)  # channels last: each element its own row
        cs.op("qcc.lut", [x, cs.const(rng.integers(-128, 128, (6, 256)).astype(np.int8))], {"axis": -1})
    # int8 concat parts of 1024 or more elements (a table of the 256 requantized values),
    # several outer rows, rows not a multiple of 64, an identity part and a saturating one
    for shape, ratios, axis in (((2, 3, 13, 31), (1.0, 7.5), 1), ((1, 40, 29), (0.013, 1.0), 2)):
        a, b = cs.rand_input(shape), cs.rand_input(shape)
        mm, ss = arith.quantize_multiplier(np.array(ratios))
        cs.op("qcc.concat", [a, b, cs.const(mm.astype(np.int32)), cs.const(ss.astype(np.int32))],
              {"axis": axis, "zps": [-128, int(rng.integers(-128, 128))],
               "y_zp": int(rng.integers(-128, 128))})
    # in place: the lookup's input is read by nothing else
    x = cs.rand_input((1, 2, 10, 10))
    m = cs.const(np.array([1 << 30], np.int32))
    s = cs.const(np.array([30], np.int32))
    r = cs.op("qcc.requant", [x, m, s], {"x_zp": 0, "y_zp": 0}, output=False)
    cs.op("qcc.lut", [r, cs.const(rng.integers(-128, 128, (2, 256)).astype(np.int8))], {"axis": 1})
    return cs


@pytest.mark.parametrize("variant", sorted(BUILDS))
def test_lut_kernel_bit_exact(variant, tmp_path):
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"SKIPPED, NOT PASSED: the {variant} build needs an x86-64 host")
    if variant == "vbmi" and not {"avx512f", "avx512bw", "avx512vbmi"} <= FLAGS:
        pytest.skip("SKIPPED, NOT PASSED: this CPU lacks avx512vbmi")
    check_exact(_cases(3), tmp_path, BUILDS[variant])


def test_per_channel_table_needs_a_target_that_takes_it():
    from qcc.errors import LoweringError
    from qcc.lower import lower
    from qcc.lower.target import DEFAULT

    cs = Cases(0)
    x = cs.rand_input((1, 3, 4, 4))
    cs.op("qcc.lut", [x, cs.const(np.zeros((3, 256), np.int8))], {"axis": 1})
    with pytest.raises(LoweringError, match="one table per channel"):
        lower(cs.g, "t", DEFAULT)


@needs_arm
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m55"])
def test_lut_kernel_bit_exact_cortex_m(core, tmp_path):
    """The Arm form (four lookups per word, qcc_lut_row_dsp): int8 and uint8 input, rows of
    1..300 (tails of one to three bytes), per-channel tables, in place, under QEMU."""
    if not arm.available(core):
        pytest.skip(f"SKIPPED, NOT PASSED: no QEMU board for {core}")
    cs = _cases(3)
    check_exact_qemu(cs, tmp_path / "c", core=core)
