"""Helpers of the host SIMD tests (test_c_simd*.py): which variants this CPU runs, their gcc
flags, the AArch64 cross build under qemu-aarch64, and small C drivers of one SIMD primitive
compiled once per variant."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import qcc.backends.c as cb
from qcc.backends.c.build import build, pack_inputs, unpack_outputs
from qcc.interp import Interpreter
from qcc.ir.verifier import verify

from c_testlib import Cases, check_exact, emit_c

KDIR = Path(cb.__file__).parent / "templates" / "kernels"
SIMD_INCLUDES = ('#include "common.h"\n#include "simd.h"\n#include "simd_sse2.h"\n'
                 '#include "simd_neon.h"\n#include "simd_common.h"\n')


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


def need(variant: str):
    missing = NEEDS[variant] - FLAGS
    if missing:
        pytest.skip(f"SKIPPED, NOT PASSED: this CPU lacks {sorted(missing)} for the {variant} variant")


# ---- AArch64 NEON dot product: Debian's cross gcc, run under qemu-aarch64 user mode ----------
A64 = {"neon_dot": ("-O2", "-march=armv8.2-a+dotprod", "-static"),
       "neon_portable": ("-O2", "-march=armv8.2-a+dotprod", "-static", "-DQCC_PORTABLE")}


def a64_missing() -> str:
    tools = [t for t in ("aarch64-linux-gnu-gcc", "qemu-aarch64") if shutil.which(t) is None]
    return f"SKIPPED, NOT PASSED: {', '.join(tools)} not installed (.ci/setup installs them)" if tools else ""


def check_a64(cs: Cases, out_dir, variant: str):
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


def check_variant(cs: Cases, out_dir, variant: str):
    """``cs`` bit for bit with the interpreter in one build ``variant``: an x86 one (X86) natively,
    an AArch64 one (A64) under qemu-aarch64; skipped, never passed, where the CPU lacks the
    variant's instructions or the cross tools are missing."""
    if variant in A64:
        why = a64_missing()
        if why:
            pytest.skip(why)
        check_a64(cs, out_dir, variant)
        return
    need(variant)
    check_exact(cs, out_dir, cflags=X86[variant])


def driver_bins(d: Path, src: str, variants) -> dict[str, list[str]]:
    """``src`` (a C driver of one primitive reading stdin) built for each of ``variants`` this
    machine runs: x86 ones natively, ``neon_dot`` with the AArch64 cross gcc under
    ``qemu-aarch64`` when installed.  Variant -> command line."""
    (d / "t.c").write_text(src)
    bins = {}
    for v in variants:
        if v in X86 and not NEEDS[v] - FLAGS:
            subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", *X86[v], f"-I{KDIR}",
                            "-o", str(d / v), str(d / "t.c")], check=True)
            bins[v] = [str(d / v)]
        elif v in A64 and not a64_missing():
            subprocess.run(["aarch64-linux-gnu-gcc", "-std=c99", "-Wall", "-Wextra", "-Werror",
                            *A64[v], f"-I{KDIR}", "-o", str(d / v), str(d / "t.c")], check=True)
            bins[v] = ["qemu-aarch64", "-cpu", "max", str(d / v)]
    return bins
