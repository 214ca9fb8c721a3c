"""The host form of the bilinear resize (resize.c, QCC_TYPED_ROWS: each source row's
horizontal taps once into a cached int32 row, then one vector loop per output row, int32
throughout) bit for bit with the interpreter in the default build (SSE2), with -march=native
and with -DQCC_PORTABLE (the four-tap loop): up- and downsampling, every coordinate mode, zero
points at the int8 edges, and output rows past the cached row's 512 (the four-tap loop)."""

from __future__ import annotations

import numpy as np
import pytest

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc
BUILDS = {"sse2": ("-O2",), "native": ("-O2", "-march=native"), "portable": ("-O2", "-DQCC_PORTABLE")}


@pytest.mark.parametrize("variant", sorted(BUILDS))
def test_linear_resize_rows_bit_exact(variant, tmp_path):
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"SKIPPED, NOT PASSED: the {variant} build needs an x86-64 host")
    cs = Cases(9)
    for hw, out, ctm, zp in (((16, 16), (32, 32), "half_pixel", -128), ((7, 5), (3, 11), "align_corners", 127),
                             ((9, 13), (20, 6), "asymmetric", 0), ((4, 300), (5, 600), "pytorch_half_pixel", -3),
                             ((2, 2), (1, 1), "half_pixel", 5)):
        x = cs.rand_input((1, 3) + hw)
        x_arr = cs.feeds[x.name]
        x_arr.reshape(-1)[:2] = [-128, 127]
        cs.op("qcc.resize", [x], {"sizes": list(out), "mode": "linear", "x_zp": zp,
                                  "coordinate_transformation_mode": ctm})
    check_exact(cs, tmp_path, BUILDS[variant])
