"""Running a Cortex-M ELF under ``qemu-system-arm``: the harness reads every sample's input
bytes from a host file through semihosting, runs the model once per sample and writes the
raw outputs back (one emulator start for all samples).  The same run gives instruction
counts (``-icount shift=0`` and SysTick), per-step ticks of a profiling build and the stack
the run actually used (painted stack)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from qcc import arith
from qcc.errors import BuildError

from ..cores import core_of
from .toolchain import (IN_FILE, OUT_FILE, PROF_FILE, QEMU, SPIN_INSNS, TICKS_FILE, HarnessSpec,
                        Tensor, _manifest, build, spec_from_dir)


def run_qemu(out_dir: str | os.PathLike, samples: list[dict], timeout: float = 300,
             core: str = "cortex-m4", extra_cflags: list[str] | None = None) -> list[dict]:
    """Run samples (name -> array, as for the host runner) on Cortex-M4 under QEMU.

    Float inputs are quantized and outputs dequantized exactly as the host
    runner ``qcc_run`` does (``qcc.arith.quantize`` / ``dequantize``: float32
    division, round half to even; ``float32(q - zp) * scale``), so the results
    compare bit for bit with ``qcc run DIR``. ``extra_cflags``: passed to ``build``.
    """
    out_dir = Path(out_dir)
    if not samples:
        return []
    m = _manifest(out_dir)
    spec = spec_from_dir(out_dir)
    elf = build(out_dir, extra_cflags, core=core)
    raw = raw_inputs(m, spec, samples)
    outs = run_elf(elf, spec, raw, timeout=timeout, core=core)
    return [{e["name"]: _from_c(e, a) for e, a in zip(m["c"]["outputs"], row)} for row in outs]


def raw_inputs(manifest: dict, spec: HarnessSpec, samples: list[dict]) -> list[list[np.ndarray]]:
    """Each sample's inputs as the harness reads them: quantized as ``qcc_run`` does, flat,
    in the harness's order and dtypes."""
    return [[_to_c(e, t, s) for e, t in zip(manifest["c"]["inputs"], spec.inputs)]
            for s in samples]


def _to_c(entry: dict, t: Tensor, sample: dict) -> np.ndarray:
    if entry["name"] not in sample:
        raise BuildError(f"sample has no input '{entry['name']}' (has: {', '.join(sample)})")
    x = np.asarray(sample[entry["name"]])
    if entry.get("scale") is not None:
        info = np.iinfo(t.dtype)
        x = arith.quantize(x.astype(np.float32), np.float32(entry["scale"]),
                           int(entry["zero_point"]), info.min, info.max)
    return x.reshape(-1).astype(t.dtype)


def _from_c(entry: dict, a: np.ndarray) -> np.ndarray:
    shape = entry["shape"]
    if entry.get("scale") is None:
        return a.reshape(shape)
    y = arith.dequantize(a, np.float32(entry["scale"]), int(entry["zero_point"]))
    return y.astype(np.float32).reshape(shape)


def run_elf(elf: Path, spec: HarnessSpec, raw_inputs: list[list[np.ndarray]],
            timeout: float = 300, core: str = "cortex-m4") -> list[list[np.ndarray]]:
    """Run ``elf`` on QEMU over the given per-sample input arrays; raw outputs back."""
    return run_harness(elf, spec, raw_inputs, timeout, icount=False, core=core)[0]


def measure_stack(out_dir: str | os.PathLike, samples: list[dict], timeout: float = 300) -> int:
    """Stack bytes one model run actually used on QEMU (max over samples).

    The harness paints the free stack before each run and finds the deepest
    overwritten word afterwards; SysTick interrupt frames taken during the run
    are included.  Compare with the static bound ``size(elf)["model_stack_bytes"]``.
    """
    out_dir = Path(out_dir)
    m, spec = _manifest(out_dir), spec_from_dir(out_dir)
    raw = raw_inputs(m, spec, samples)
    stack = run_harness(build(out_dir), spec, raw, timeout, icount=False)[2]
    if stack is None:
        raise BuildError(f"{spec.name}.elf did not report its stack use (QCC_ARM_STACK)")
    return stack


def count_instructions(out_dir: str | os.PathLike, samples: list[dict],
                       timeout: float = 600, core: str = "cortex-m4",
                       extra_cflags: list[str] | None = None) -> list[int]:
    """Cortex-M4 instructions executed by one model run, per sample (``-icount shift=0``).

    The harness reads SysTick around each run; under ``-icount shift=0`` QEMU's
    virtual clock advances one nanosecond per instruction, so tick counts are
    exact instruction counts up to the tick length, which the harness calibrates
    against a loop of known length.  Deterministic across runs and machines; not
    cycles (QEMU models no pipeline, wait states or caches). ``extra_cflags``: passed to
    ``build``.
    """
    out_dir = Path(out_dir)
    m, spec = _manifest(out_dir), spec_from_dir(out_dir)
    raw = raw_inputs(m, spec, samples)
    _, ticks, _ = run_harness(build(out_dir, extra_cflags, core=core), spec, raw, timeout,
                              icount=True, core=core)
    if len(ticks) != len(samples) + 1 or ticks[0] <= 0:
        raise BuildError(f"{spec.name}.elf: SysTick did not advance under {QEMU} -icount; "
                         "cannot count instructions")
    per_tick = SPIN_INSNS / ticks[0]
    return [int(round(t * per_tick)) for t in ticks[1:]]


def run_harness(elf: Path, spec: HarnessSpec, raw_inputs, timeout: float, icount: bool,
                prof: list | None = None, core: str = "cortex-m4"):
    """One QEMU start for every sample: (outputs per sample, the SysTick readings -- the
    spin loop's, then one per sample --, the painted stack's high-water mark or None);
    ``icount`` runs QEMU with ``-icount shift=0``; ``prof`` receives a profiling build's
    per-step ticks."""
    machine = core_of(core).machine
    if not shutil.which(QEMU):  # a cached ELF needs no compiler, but QEMU to run
        raise BuildError(f"{QEMU} not found: --engine {core} runs {elf.name} under QEMU; "
                         f"install it (Debian/Ubuntu: sudo apt-get install qemu-system-arm)")
    with tempfile.TemporaryDirectory(prefix="qcc_qemu_") as tmp:
        tmp = Path(tmp)
        _write_inputs(tmp / IN_FILE, spec, raw_inputs)
        cmd = [QEMU, "-M", machine, "-nographic", "-monitor", "none", "-serial", "null",
               "-semihosting-config", "enable=on,target=native", "-kernel", str(elf.resolve())]
        if icount:
            cmd[1:1] = ["-icount", "shift=0"]
        from qcc.progress import step

        try:
            with step(f"running {len(raw_inputs)} samples under {QEMU} -M {machine}"):
                res = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BuildError(f"{QEMU} timed out after {timeout:.0f} s running {elf.name}") from None
        marker = f"QCC_ARM_OK {len(raw_inputs)}"
        if res.returncode != 0 or marker not in res.stdout + res.stderr:
            tail = " | ".join((res.stdout + res.stderr).strip().splitlines()[-5:])
            raise BuildError(f"{elf.name} failed under {QEMU} -M {machine} "
                             f"(exit {res.returncode}): {tail or 'no output'}")
        data = (tmp / OUT_FILE).read_bytes()
        ticks = np.frombuffer((tmp / TICKS_FILE).read_bytes(), dtype="<u8").tolist()
        if prof is not None and (tmp / PROF_FILE).exists():
            prof.extend(np.frombuffer((tmp / PROF_FILE).read_bytes(), dtype="<u8").tolist())
    stack = re.search(r"QCC_ARM_STACK (\d+)", res.stdout + res.stderr)
    return _read_outputs(data, spec, len(raw_inputs), elf.name), ticks, \
        int(stack[1]) if stack else None


def _write_inputs(path: Path, spec: HarnessSpec, raw_inputs) -> None:
    with open(path, "wb") as f:
        for arrays in raw_inputs:
            for t, a in zip(spec.inputs, arrays):
                a = np.ascontiguousarray(a, dtype=np.dtype(t.dtype).newbyteorder("<"))
                if a.size != t.count:
                    raise BuildError(f"input '{t.name}' of model '{spec.name}' needs "
                                     f"{t.count} elements, got {a.size}")
                f.write(a.tobytes())


def _read_outputs(data: bytes, spec: HarnessSpec, n: int, what: str) -> list[list[np.ndarray]]:
    per_sample = sum(t.nbytes for t in spec.outputs)
    if len(data) != per_sample * n:
        raise BuildError(f"{what} wrote {len(data)} output bytes, expected {per_sample * n}")
    outs, pos = [], 0
    for _ in range(n):
        row = []
        for t in spec.outputs:
            row.append(np.frombuffer(data, dtype=np.dtype(t.dtype).newbyteorder("<"),
                                     count=t.count, offset=pos).astype(t.dtype))
            pos += t.nbytes
        outs.append(row)
    return outs
