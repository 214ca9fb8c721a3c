"""The host form of the int8 max pool (pool.c, QCC_TYPED_ROWS: each output row's window rows
reduced to one column-max row, then the windows along it) bit for bit with the interpreter
in the default build (SSE2), with -march=native and with -DQCC_PORTABLE (the window loop):
kernels 1x1 to 3x3 and 2x3, strides 1 and 2, padding, ceil-mode windows that hang past the
input, planes of 1x1 to 46x46 and rows past the column buffer (the window loop)."""

from __future__ import annotations

import pytest

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc
BUILDS = {"sse2": ("-O2",), "native": ("-O2", "-march=native"), "portable": ("-O2", "-DQCC_PORTABLE")}


@pytest.mark.parametrize("variant", sorted(BUILDS))
def test_maxpool_rows_bit_exact(variant, tmp_path):
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"SKIPPED, NOT PASSED: the {variant} build needs an x86-64 host")
    cs = Cases(4)
    for hw, k, s, pads, ceil in (((46, 46), (3, 3), (2, 2), [0, 0, 0, 0], 1), ((21, 21), (3, 3), (2, 2), [0, 0, 0, 0], 1),
                                 ((8, 8), (2, 2), (2, 2), [0, 0, 0, 0], 0), ((7, 9), (2, 3), (1, 2), [1, 0, 0, 2], 0),
                                 ((1, 1), (1, 1), (1, 1), [0, 0, 0, 0], 0), ((5, 5), (3, 3), (1, 1), [1, 1, 1, 1], 0),
                                 ((3, 4200), (2, 2), (2, 2), [0, 0, 0, 0], 1)):
        x = cs.rand_input((1, 3) + hw)
        cs.feeds[x.name].reshape(-1)[:2] = [-128, 127]
        cs.op("onnx.MaxPool", [x], {"kernel_shape": list(k), "strides": list(s), "pads": pads,
                                    "ceil_mode": ceil})
    check_exact(cs, tmp_path, BUILDS[variant])
