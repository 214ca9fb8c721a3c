"""Per-layer profile of a compiled C model (``qcc profile DIR --inputs IN.npz``).

A profiling build of the same generated code (``-DQCC_PROFILE``: ``NAME.c`` calls
``qcc_profile_mark(step)`` before every step and after the last one) is timed per step:

* ``host``: ``qcc_run --profile N`` (``CLOCK_MONOTONIC``), the median over N runs of each
  step's nanoseconds, minus the measured cost of one mark;
* ``cortex-m4`` / ``cortex-m55``: the Cortex-M4 (mps2-an386) or Cortex-M55 (mps3-an547, the
  Helium kernels) build under ``qemu-system-arm -icount shift=0`` (backends/c/arm/), the
  SysTick ticks of each step converted to **instructions** (QEMU counts instructions, it
  models no cycles), minus the measured cost of one mark. SysTick's resolution is one tick
  (``instructions_per_tick``, e.g. 40 on mps2-an386), so a step's figure is exact to within
  one tick.

MACs come from the IR (``qcc.analysis.macs_by_node`` of ``model.qcc``) per layer.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from qcc.errors import BuildError, QccError

ENGINES = ("host", "cortex-m4", "cortex-m55")
MARK_LOOP = 256  # the harness times this many marks in a loop to learn the cost of one


def _macs_by_node(out_dir: str) -> dict[str, int]:
    from qcc.analysis import macs_by_node
    from qcc.ir.serialize import load as load_ir

    return macs_by_node(load_ir(os.path.join(out_dir, "model.qcc")))


def host_steps(out_dir: str, sample: dict, manifest: dict, runs: int = 200,
               extra_cflags=()) -> tuple[list, float]:
    """Median ns per step (mark cost subtracted) and the median total, on this machine;
    ``extra_cflags``: the build profiled (e.g. ``-march=native``)."""
    from .build import build, pack_inputs

    binary = build(out_dir, extra_cflags=(*extra_cflags, "-DQCC_PROFILE"))
    with tempfile.TemporaryDirectory(prefix="qcc_prof_") as tmp:
        fin = os.path.join(tmp, "in.bin")
        with open(fin, "wb") as f:
            f.write(pack_inputs(manifest, [sample]))
        r = subprocess.run([binary, "--profile", str(int(runs)), fin], capture_output=True,
                           text=True)
    if r.returncode != 0:
        raise BuildError(f"target c: the profiling run failed: {(r.stderr or r.stdout).strip()[:300]}")
    steps, total = {}, None
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["step"]:
            steps[int(parts[1])] = float(parts[2])
        elif parts[:1] == ["total"]:
            total = float(parts[1])
    return [steps.get(i, 0.0) for i in range(len(manifest["layers"]))], total


def host_isa(out_dir: str, extra_cflags=()) -> str:
    """The instruction-set variant the profiling runner ran (``qcc_run --isa``: sse2, avx2 or
    avx512 with run-time dispatch, else "fixed"; docs/target_c.md "Runtime dispatch")."""
    from .build import build

    binary = build(out_dir, extra_cflags=(*extra_cflags, "-DQCC_PROFILE"))
    r = subprocess.run([binary, "--isa"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def arm_steps(out_dir: str, sample: dict, manifest: dict,
              core: str = "cortex-m4") -> tuple[list, int, float]:
    """Instructions per step (mark cost subtracted) under QEMU icount, their sum, and the
    instructions per SysTick tick."""
    from . import arm

    spec = arm.spec_from_dir(out_dir)
    elf = arm.build(out_dir, profile=True, core=core)
    spec.prof_marks = len(manifest["layers"]) + 1
    raw = arm.raw_inputs(manifest, spec, [sample])
    prof: list[int] = []
    _, ticks, _ = arm.run_harness(elf, spec, raw, timeout=600, icount=True, prof=prof, core=core)
    n = len(manifest["layers"])
    if not ticks or ticks[0] <= 0 or len(prof) != 1 + n:
        raise BuildError(f"{elf.name}: the profiling harness wrote {len(prof)} step counts, "
                         f"expected {1 + n}")
    per_tick = arm.SPIN_INSNS / ticks[0]
    mark = prof[0] * per_tick / MARK_LOOP   # instructions of one mark (and its loop step)
    steps = [max(0, round(t * per_tick - mark)) for t in prof[1:]]
    return steps, sum(steps), per_tick


def profile(out_dir: str, sample: dict, engine: str = "host", runs: int = 200,
            extra_cflags=()) -> dict:
    """The per-layer profile of one sample: ``{"engine", "unit", "total": {unit, "macs"},
    "layers": [{"step", "node", "op", "kernel", "macs", unit, "scratch_bytes"}]}``."""
    import json

    if engine not in ENGINES:
        raise QccError(f"qcc profile: engine '{engine}' is not one of {', '.join(ENGINES)} "
                       "for target c")
    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    macs = _macs_by_node(out_dir)
    res = {"engine": engine}
    if engine == "host":
        unit = "ns"
        steps, total = host_steps(out_dir, sample, manifest, runs, extra_cflags)
        res["runs"] = int(runs)
        res["isa"] = host_isa(out_dir, extra_cflags)
        if extra_cflags:
            res["cflags"] = list(extra_cflags)
    else:
        unit = "instructions"
        steps, total, per_tick = arm_steps(out_dir, sample, manifest, core=engine)
        res["instructions_per_tick"] = per_tick
    layers = [{"step": row["step"], "node": row["node"], "op": row["op"], "kernel": row["kernel"],
               "macs": int(macs.get(row["node"], 0)), unit: steps[i],
               "scratch_bytes": row.get("scratch_bytes", 0)}
              for i, row in enumerate(manifest["layers"])]
    res["unit"] = unit
    res["total"] = {unit: total, "macs": sum(r["macs"] for r in layers)}
    res["layers"] = layers
    return res


def format_table(res: dict) -> str:
    """The profile as a text table: per layer the time or instructions, MACs, per-MAC cost
    and share of the sum of the steps."""
    unit = res["unit"]
    short = "ns" if unit == "ns" else "insns"
    total = sum(r[unit] for r in res["layers"]) or 1
    rows = [f"{'step':>4}  {'op':<18} {'kernel':<20} {short:>12} {'MACs':>11} "
            f"{short + '/MAC':>10} {'share':>6}  node"]
    for r in res["layers"]:
        per = f"{r[unit] / r['macs']:.2f}" if r["macs"] else "-"
        rows.append(f"{r['step']:>4}  {r['op']:<18} {r['kernel']:<20} {r[unit]:>12,.0f} "
                    f"{r['macs']:>11,} {per:>10} {100 * r[unit] / total:5.1f}%  {r['node']}")
    t = res["total"]
    per = f"{t[unit] / t['macs']:.2f}" if t["macs"] else "-"
    rows.append(f"{'':>4}  {'total':<18} {'':<20} {t[unit]:>12,.0f} {t['macs']:>11,} "
                f"{per:>10} {'':>6}  (engine {res['engine']}"
                + (f", isa {res['isa']})" if res.get("isa") else ")"))
    if unit == "instructions":
        core = "Cortex-M55" if res["engine"] == "cortex-m55" else "Cortex-M4"
        rows.append(f"{core} instructions under QEMU -icount shift=0 (instructions, not cycles; "
                    f"resolution {res['instructions_per_tick']:.0f} per step)")
    return "\n".join(rows)
