"""The C target in the benchmark: compile, build (host, -O3), check, time, size.

Imports the C backend lazily: when it is missing from this build every C
column says "not available" and the reason is recorded.
"""

from __future__ import annotations

import os
import time

import numpy as np

from . import memory, speed
from .models import BenchModel


M4_FLASH_BYTES = 2 * 1024 * 1024  # the largest flash of common Cortex-M4 parts (e.g. STM32F429)


def too_big_for_c(mem: dict, st: dict):
    """Why the C target is skipped for a model this large (None: build it)."""
    wb = mem.get("weight_bytes")
    mib = st.get("c_max_weight_mib", 256.0)
    if isinstance(wb, int) and wb > mib * 2**20:
        return (f"{memory.NA}: {wb / 2**20:.3g} MiB of integer weights exceed "
                f"--c-max-weight-mib {mib:g} (C array literals that "
                f"size take long and much memory to compile; raise the limit to build it)")
    return None


def m4_skip_reason(mem: dict):
    """Why no Cortex-M4 build is attempted (None: build it)."""
    wb = mem.get("weight_bytes")
    if isinstance(wb, int) and wb > M4_FLASH_BYTES:
        return (f"{memory.NA}: {wb / 2**20:.3g} MiB of weights do not fit a Cortex-M4's flash "
                f"(at most {M4_FLASH_BYTES // 2**20} MiB on common parts); no M4 build")
    return None


def compile_c(m: BenchModel, work: str) -> tuple[str, dict]:
    """qcc compile --target c with the benchmark's calibration data; returns (dir, manifest)."""
    import qcc
    from qcc.frontend.onnx_import import parse_input_shapes

    calib = os.path.join(work, "calib.npz")
    if not os.path.isfile(calib):
        np.savez(calib, **m.calib)
    out = os.path.join(work, "qcc_c")
    art = qcc.compile(m.path, calib=calib, target="c", out_dir=out, quiet=True,
                      input_shapes=parse_input_shapes(m.input_shapes), allow_float=m.allow_float)
    return out, art.manifest


def check_bit_exact(c_dir: str, sample: dict) -> bool:
    """The C runner's output on one sample equals qcc's interpreter bit for bit."""
    import qcc

    art = qcc.load(c_dir)
    ref = art.run(sample, engine="reference")
    got = art.run(sample, engine="target")
    return all(np.array_equal(ref[k], got[k]) for k in ref)


def c_latency_adaptive(c_dir: str, sample: dict, st: dict) -> dict:
    """Probe one run, then size the runs so the measurement fits the time budget."""
    from qcc.backends.c import build as cbuild

    probe_us = max(float(cbuild.bench_latency(c_dir, sample, 1)), 1.0)
    budget_us = st["budget_s"] * 1e6
    # at least MIN_RUNS calls, so the spread is never one number; each call also runs
    # the runner's 3 warm-up inferences, slow models get one timed run per call
    reps = max(speed.MIN_RUNS, min(st["c_repeats"], int(budget_us / (probe_us * (3 + speed.MIN_RUNS)))))
    runs = max(1, min(st["runs"], int(budget_us / probe_us / reps) - 3))
    return speed.c_latency(c_dir, sample, runs, reps)


def bench_c(m: BenchModel, work: str, st: dict, sample: dict, lat: dict, compile_s: dict,
            mem: dict) -> None:
    """Fill the C columns of one model's record (in place)."""
    na = memory.NA
    try:
        c_dir, manifest = compile_c(m, work)
    except Exception as e:  # noqa: BLE001 - recorded, the other columns go on
        why = f"{na}: C compile failed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        lat["qcc_c"] = {"error": why}
        mem["c"] = why
        return
    from qcc.driver import load_timings

    from .run import split_timings

    compile_s.clear()
    compile_s.update(split_timings(load_timings(c_dir), "c"))
    mem.update(memory.from_manifest(manifest))
    try:
        from qcc.backends.c import build as cbuild

        t0 = time.perf_counter()
        cbuild.build(c_dir)
        compile_s["c_build"] = round(time.perf_counter() - t0, 3)
    except Exception as e:  # noqa: BLE001
        lat["qcc_c"] = {"error": f"{na}: C build failed: {type(e).__name__}: {e}"[:300]}
        return
    try:
        mem["c_bit_exact"] = check_bit_exact(c_dir, sample)
    except Exception as e:  # noqa: BLE001
        mem["c_bit_exact"] = f"{na}: {type(e).__name__}: {e}"[:300]
    try:
        lat["qcc_c"] = c_latency_adaptive(c_dir, sample, st)
    except Exception as e:  # noqa: BLE001
        lat["qcc_c"] = {"error": f"{na}: {type(e).__name__}: {e}"[:300]}
    why = m4_skip_reason(mem)
    if why:
        mem["m4"] = why
        return
    try:
        mem.update(memory.cortex_m4(c_dir))
    except Exception as e:  # noqa: BLE001
        mem["m4"] = f"{na}: {type(e).__name__}: {e}"[:300]
