"""The typed host rows of the generic add (binary.c, QCC_TYPED_ROWS: contiguous int16 / int8
mixes, the int16 residual stream's adds) bit for bit with the interpreter in the default
build (SSE2), with -march=native and with -DQCC_PORTABLE, hypothesis over the multipliers,
shifts and zero points at the int16 edges; broadcast rows and subtractions (the generic
loop) alongside."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.ir import DType

from c_testlib import Cases, check_exact, needs_gcc

pytestmark = needs_gcc
BUILDS = {"sse2": ("-O2",), "native": ("-O2", "-march=native"), "portable": ("-O2", "-DQCC_PORTABLE")}
MIXES = [(DType.int16, DType.int16, "i16"), (DType.int16, DType.int8, "i16"),
         (DType.int8, DType.int16, "i16"), (DType.int8, DType.int8, "i16"),
         (DType.int16, DType.int16, "i8")]


def _edge(rng, dt: DType, shape):
    x = rng.integers(dt.min, dt.max + 1, shape)
    x.reshape(-1)[:3] = [dt.min, dt.max, 0]
    return x.astype(dt.np)


def _cases(seed: int, ra: float, rb: float, zps) -> Cases:
    cs = Cases(seed)
    rng = cs.rng
    ms, s = arith.quantize_multipliers_shared(np.array([ra, rb]))
    for i, (da, db, out) in enumerate(MIXES):
        y_dt = DType.int16 if out == "i16" else DType.int8
        attrs = {"a_zp": int(np.clip(zps[0], da.min, da.max)), "b_zp": int(np.clip(zps[1], db.min, db.max)),
                 "y_zp": int(np.clip(zps[2], y_dt.min, y_dt.max)), "dtype": out}
        for op, shape_b in (("qcc.add", (3, 67)), ("qcc.add", (1, 67)), ("qcc.sub", (3, 67))):
            a = cs.input(_edge(rng, da, (3, 67)), da)
            b = cs.input(_edge(rng, db, shape_b), db)
            cs.op(op, [a, b, cs.const(np.asarray(ms, np.int32).reshape(2)),
                       cs.const(np.asarray(s, np.int32).reshape(1))], attrs)
    return cs


def _host(variant: str):
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"SKIPPED, NOT PASSED: the {variant} build needs an x86-64 host")
    return BUILDS[variant]


@pytest.mark.parametrize("variant", sorted(BUILDS))
def test_wide_adds_bit_exact(variant, tmp_path):
    check_exact(_cases(5, 0.7, 0.35, (-1610, -6, 354)), tmp_path, _host(variant))


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ra=st.floats(1e-6, 2.0), rb=st.floats(1e-6, 2.0),
       zps=st.tuples(*[st.sampled_from([-32768, -128, -1, 0, 127, 32767]) for _ in range(3)]),
       seed=st.integers(0, 2**16))
def test_wide_adds_hypothesis(ra, rb, zps, seed, tmp_path_factory):
    check_exact(_cases(seed, ra, rb, zps), tmp_path_factory.mktemp("add"), _host("native"))
