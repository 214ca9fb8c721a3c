"""Cortex-M toolchain for the C backend: build with arm-none-eabi-gcc, run on QEMU.

Two cores (``CORES``): ``cortex-m4`` (QEMU ``mps2-an386``, the default everywhere) and
``cortex-m55`` (QEMU ``mps3-an547``, ``-mcpu=cortex-m55 -mfloat-abi=hard``: the DSP and the
Helium/MVE kernel variants); every function below takes ``core=``.

``build(out_dir)`` compiles the generated model sources of a ``qcc compile
--target c`` folder together with a semihosting harness (templates/arm/) into
``out_dir/arm_m4/NAME.elf`` for ``-mcpu=cortex-m4 -mthumb -O2``.
``run_qemu(out_dir, samples)`` runs that ELF on ``qemu-system-arm -M mps2-an386``:
the harness reads the quantized input bytes of all samples from a host file
through semihosting, runs the model once per sample and writes the raw output
bytes back, so one emulator start serves every sample.  ``size(elf)`` reports
flash and RAM from ``arm-none-eabi-size``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from qcc import arith
from qcc.errors import BuildError

from .cores import CORES, CPU_FLAGS, MACHINE, core_of  # noqa: F401  (M4: the default core)

GCC = "arm-none-eabi-gcc"
SIZE = "arm-none-eabi-size"
NM = "arm-none-eabi-nm"
QEMU = "qemu-system-arm"
CFLAGS = ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
          "-ffunction-sections", "-fdata-sections"]
LDFLAGS = ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
           "-Wl,--gc-sections"]
BUILD_SUBDIR = "arm_m4"
TEMPLATE_DIR = Path(__file__).parent / "templates" / "arm"
RUNTIME_SOURCES = ["qcc_startup.c", "qcc_semihost.c", "qcc_timer.c"]
IN_FILE, OUT_FILE, TICKS_FILE = "qcc_in.bin", "qcc_out.bin", "qcc_ticks.bin"
PROF_FILE = "qcc_prof.bin"      # per-step ticks of a profiling build (backends/c/profile.py)
SPIN = 250_000                  # calibration loop iterations, 4 instructions each
SPIN_INSNS = 4 * SPIN

_CTYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
           "int64": "int64_t", "float32": "float"}


@dataclass
class Tensor:
    """One model input or output as the harness sees it (raw C array)."""
    name: str
    dtype: str          # numpy dtype name of the C array
    count: int          # elements

    @property
    def ctype(self) -> str:
        return _CTYPES[self.dtype]

    @property
    def nbytes(self) -> int:
        return self.count * np.dtype(self.dtype).itemsize


@dataclass
class HarnessSpec:
    """What the harness needs to know about a generated model."""
    name: str
    header: str
    arena_expr: str
    run_fn: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    sources: list[Path]
    include_dirs: list[Path] = field(default_factory=list)
    prof_marks: int = 0  # > 0: a profiling build, the model's steps + 1 (QCC_PROFILE)

    @property
    def run_call(self) -> str:
        args = [f"qcc_in{i}" for i in range(len(self.inputs))]
        args += [f"qcc_out{i}" for i in range(len(self.outputs))]
        return f"{self.run_fn}({', '.join(args + ['qcc_arena'])})"


def available(core: str = "cortex-m4") -> bool:
    """True when the cross compiler, its newlib (for ``core``), size and QEMU are installed."""
    if not all(shutil.which(t) for t in (GCC, SIZE, QEMU)):
        return False
    try:
        res = subprocess.run([GCC, *core_of(core).flags, "--specs=nano.specs",
                              "-print-file-name=libc_nano.a"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return os.path.isabs(res.stdout.strip())


def missing_tools() -> str:
    """A one-line reason why :func:`available` is False (for test skips)."""
    absent = [t for t in (GCC, SIZE, QEMU) if not shutil.which(t)]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install gcc-arm-none-eabi " \
               "libnewlib-arm-none-eabi qemu-system-arm)"
    return "" if available() else "newlib for arm-none-eabi (libnewlib-arm-none-eabi) not installed"


def _render_harness(spec: HarnessSpec, path: Path) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    text = env.get_template("qcc_harness.c.j2").render(
        name=spec.name, header=spec.header, arena_expr=spec.arena_expr,
        inputs=spec.inputs, outputs=spec.outputs, run_call=spec.run_call,
        in_file=IN_FILE, out_file=OUT_FILE, ticks_file=TICKS_FILE, spin=SPIN,
        prof_marks=spec.prof_marks, prof_file=PROF_FILE)
    path.write_text(text)


def _tool(cmd: list[str], what: str, timeout: float = 300, cwd: Path | None = None):
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} not found: {missing_tools()}") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{cmd[0]} timed out after {timeout:.0f} s while {what}") from None
    if res.returncode != 0:
        detail = (res.stderr or res.stdout).strip().splitlines()
        raise BuildError(f"{cmd[0]} failed while {what} (exit {res.returncode}): "
                         + " | ".join(detail[:8]))
    return res


def build_spec(spec: HarnessSpec, build_dir: Path, extra_cflags: list[str] | None = None,
               core: str = "cortex-m4") -> Path:
    """Compile ``spec``'s model sources plus the harness into ``build_dir/NAME.elf``."""
    cpu = core_of(core)
    build_dir.mkdir(parents=True, exist_ok=True)
    harness = build_dir / "qcc_harness.c"
    _render_harness(spec, harness)
    runtime = [TEMPLATE_DIR / s for s in RUNTIME_SOURCES]
    includes = [f"-I{d}" for d in [*spec.include_dirs, TEMPLATE_DIR]]
    flags = [*cpu.flags, *CFLAGS, *(extra_cflags or [])]
    objects = []
    for k, src in enumerate([*spec.sources, *runtime, harness]):
        obj = build_dir / (Path(src).stem + ".o")
        ci = ["-fcallgraph-info=su"] if k < len(spec.sources) else []   # -> NAME.ci (stack)
        _tool([GCC, *flags, *ci, *includes, "-c", str(src), "-o", str(obj)],
              f"compiling {Path(src).name} for {cpu.title}")
        objects.append(obj)
    elf = build_dir / f"{spec.name}.elf"
    try:
        _tool([GCC, *cpu.flags, *LDFLAGS, f"-T{TEMPLATE_DIR / cpu.ld}",
               f"-Wl,-Map={build_dir / (spec.name + '.map')}",
               *map(str, objects), "-lc", "-lgcc", "-o", str(elf)],
              f"linking {elf.name}")
    except BuildError as e:
        over = re.findall(r"region `(\w+)' overflowed by (\d+) bytes", str(e))
        if not over:
            raise
        what = ", ".join(f"{r} by {int(n)} bytes" for r, n in over)
        raise BuildError(f"model '{spec.name}' does not fit the {cpu.machine} memory map "
                         f"({cpu.memory}): overflows {what}") from None
    (build_dir / "objects.json").write_text(json.dumps(
        {"model": [str(o) for o in objects[:len(spec.sources)]]}, indent=1))
    return elf


def _manifest(out_dir: Path) -> dict:
    path = out_dir / "manifest.json"
    if not path.is_file():
        raise BuildError(f"'{out_dir}' holds no manifest.json; compile the model with --target c")
    manifest = json.loads(path.read_text())
    if not manifest.get("c") or not manifest.get("files"):
        raise BuildError(f"'{path}' has no 'c' section; recompile the model with --target c")
    return manifest


def spec_from_dir(out_dir: str | os.PathLike) -> HarnessSpec:
    """The harness description of a ``qcc compile --target c`` output folder."""
    out_dir = Path(out_dir)
    m = _manifest(out_dir)
    c, files = m["c"], m["files"]

    def tensors(entries):
        out = []
        for e in entries:
            dtype = next((k for k, v in _CTYPES.items() if v == e["c_type"]), None)
            if dtype is None:
                raise BuildError(f"model I/O '{e['name']}' has C type {e['c_type']}, which the "
                                 "Cortex-M harness does not handle")
            out.append(Tensor(e["name"], dtype, int(np.prod(e["shape"], dtype=np.int64))))
        return out

    name = c["name"]
    return HarnessSpec(name=name, header=files["header"], arena_expr=f"{name.upper()}_ARENA_SIZE",
                       run_fn=f"{name}_run", inputs=tensors(c["inputs"]),
                       outputs=tensors(c["outputs"]),
                       sources=_model_sources(out_dir, files), include_dirs=[out_dir])


def _model_sources(out_dir: Path, files: dict) -> list[Path]:
    """The model's C files: schedule, weights, and any other generated .c but the host runner
    and the optional float I/O helpers (NAME_io.c: not model code)."""
    first = [files["source"], files["weights"]]
    rest = sorted(f for k, f in files.items() if isinstance(f, str) and f.endswith(".c")
                  and k not in ("runner", "io_source") and f not in first)
    return [out_dir / f for f in first + rest]


def _newest_input(out_dir: Path, spec: HarnessSpec) -> float:
    paths = [*spec.sources, *out_dir.glob("*.h"), out_dir / "manifest.json",
             Path(__file__), *TEMPLATE_DIR.iterdir()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def build(out_dir: str | os.PathLike, extra_cflags: list[str] | None = None,
          profile: bool = False, core: str = "cortex-m4") -> Path:
    """Build ``out_dir``'s model with the harness for ``core`` (if out of date); the ELF path.

    ``profile``: the profiling build (``-DQCC_PROFILE``, own folder ``arm_m4_profile``) whose
    harness records SysTick before every step of the model."""
    out_dir = Path(out_dir)
    spec = spec_from_dir(out_dir)
    cpu = core_of(core)
    build_dir = out_dir / cpu.subdir
    if profile:
        spec.prof_marks = len(_manifest(out_dir).get("layers", [])) + 1
        extra_cflags = [*(extra_cflags or []), "-DQCC_PROFILE"]
        build_dir = out_dir / (cpu.subdir + "_profile")
    elf = build_dir / f"{spec.name}.elf"
    stamp = build_dir / "flags.json"
    flags = json.dumps(extra_cflags or [])
    if (elf.exists() and stamp.exists() and stamp.read_text() == flags
            and elf.stat().st_mtime >= _newest_input(out_dir, spec)):
        return elf
    if not available(core):
        raise BuildError(f"cannot build '{out_dir}' for {cpu.title}: {missing_tools()}")
    from qcc.progress import step

    with step(f"building {spec.name}.elf for {cpu.title} with {GCC}"):
        elf = build_spec(spec, build_dir, extra_cflags, core=core)
    stamp.write_text(flags)
    return elf


def run_qemu(out_dir: str | os.PathLike, samples: list[dict], timeout: float = 300,
             core: str = "cortex-m4") -> list[dict]:
    """Run samples (name -> array, as for the host runner) on Cortex-M4 under QEMU.

    Float inputs are quantized and outputs dequantized exactly as the host
    runner ``qcc_run`` does (``qcc.arith.quantize`` / ``dequantize``: float32
    division, round half to even; ``float32(q - zp) * scale``), so the results
    compare bit for bit with ``qcc run DIR``.
    """
    out_dir = Path(out_dir)
    if not samples:
        return []
    m = _manifest(out_dir)
    spec = spec_from_dir(out_dir)
    elf = build(out_dir, core=core)
    raw = [[_to_c(e, t, s) for e, t in zip(m["c"]["inputs"], spec.inputs)] for s in samples]
    outs = run_elf(elf, spec, raw, timeout=timeout, core=core)
    return [{e["name"]: _from_c(e, a) for e, a in zip(m["c"]["outputs"], row)} for row in outs]


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


def size(elf: str | os.PathLike) -> dict:
    """Flash and RAM of an ELF built by :func:`build` (bytes, from ``arm-none-eabi-size -A``).

    ``text`` counts code, constants and the vector table; ``data`` initialised
    variables (stored in flash, copied to RAM); ``bss`` zeroed variables;
    ``arena`` the model's activation arena and ``stack`` the harness stack
    (both NOLOAD sections of their own).  ``flash_bytes = text + data`` and
    ``ram_bytes = data + bss + arena`` (stack excluded).  ``model_*`` repeat the
    numbers for the generated model's object files alone (no harness, no libc), less the
    sections the linker discarded (the map file's list);
    ``model_stack_bytes`` is the worst-case stack of ``NAME_run`` (:func:`stack_usage`),
    which the caller's stack must hold on top of ``ram_bytes``.
    """
    elf = Path(elf)
    sections = _sections([str(elf)])
    out = _classify(sections)
    out["flash_bytes"] = out["text"] + out["data"]
    out["ram_bytes"] = out["data"] + out["bss"] + out["arena"]
    objs = elf.parent / "objects.json"
    if objs.exists():
        model = json.loads(objs.read_text())["model"]
        m = _classify(_sections(model)) if model else {"text": 0, "data": 0, "bss": 0}
        gone = _classify(_discarded(elf.with_suffix(".map"), model))
        out["model_flash_bytes"] = m["text"] + m["data"] - gone["text"] - gone["data"]
        out["model_ram_bytes"] = m["data"] + m["bss"] + out["arena"]
        out["model_stack_bytes"] = stack_usage(elf.parent, f"{elf.stem}_run")
    return out


_CI_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n(\d+) bytes \((\w+)')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def stack_usage(build_dir: str | os.PathLike, entry: str) -> int | None:
    """Worst-case stack bytes of ``entry`` and its callees, from GCC's ``-fcallgraph-info=su``.

    The deepest call chain through the model's own functions (``*.ci`` files of
    the model objects).  Library leaves (memcpy, memset, libgcc helpers) count 0.
    None when unknown: no call graph, a dynamically sized frame, an indirect
    call or recursion.
    """
    frames: dict[str, tuple[int, bool]] = {}
    calls: dict[str, set[str]] = {}
    files = sorted(Path(build_dir).glob("*.ci"))
    for f in files:
        text = f.read_text()
        for title, n, kind in _CI_NODE.findall(text):
            frames[title] = (int(n), kind == "static")
        for src, dst in _CI_EDGE.findall(text):
            calls.setdefault(src, set()).add(dst)
    if entry not in frames:
        return None
    memo: dict[str, int | None] = {}

    def depth(fn: str, path: frozenset) -> int | None:
        if fn in path or fn.startswith("__indirect_call"):
            return None
        if fn not in memo:
            n, static = frames.get(fn, (0, True))
            subs = [depth(c, path | {fn}) for c in calls.get(fn, ())]
            memo[fn] = None if not static or None in subs else n + max(subs, default=0)
        return memo[fn]

    return depth(entry, frozenset())


def model_imports(elf: str | os.PathLike) -> list[str]:
    """Symbols the generated model's objects take from outside them (libc, libgcc).

    For the portable-C contract: expect only ``memcpy``/``memset`` and libgcc's
    integer helpers (``__aeabi_ldivmod`` ...); a ``__aeabi_f*``/``__aeabi_d*``
    would mean float arithmetic, ``malloc``/``printf`` a runtime dependency.
    """
    objs = Path(elf).parent / "objects.json"
    if not objs.exists():
        raise BuildError(f"'{objs}' is missing; build the model with arm.build first")
    model = json.loads(objs.read_text())["model"]
    res = _tool([NM, "-g", *model], "listing the model's symbols")
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3:
            defined.add(parts[2])
    return sorted(undefined - defined)


def _sections(files: list[str]) -> list[tuple[str, int]]:
    res = _tool([SIZE, "-A", *files], "measuring section sizes")
    rows = []
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            rows.append((parts[0], int(parts[1])))
    return rows


def _discarded(map_path: Path, objects: list[str]) -> list[tuple[str, int]]:
    """Sections of ``objects`` that the linker dropped (``--gc-sections``: functions no call
    reaches once inlined), from the map file's "Discarded input sections"."""
    text = map_path.read_text() if map_path.exists() else ""
    if "Discarded input sections" not in text:
        return []
    block = text.split("Discarded input sections", 1)[1].split("Memory Configuration", 1)[0]
    toks, rows, objs = block.split(), [], {os.path.abspath(o) for o in objects}
    for i in range(len(toks) - 3):  # name, address, size, object
        if toks[i].startswith(".") and toks[i + 1].startswith("0x") and toks[i + 2].startswith("0x"):
            if os.path.abspath(toks[i + 3]) in objs:
                rows.append((toks[i], int(toks[i + 2], 16)))
    return rows


def _classify(sections: list[tuple[str, int]]) -> dict:
    out = {"text": 0, "data": 0, "bss": 0, "arena": 0, "stack": 0}
    for name, n in sections:
        if name.startswith((".text", ".rodata", ".vectors", ".ARM.exidx")):
            out["text"] += n
        elif name.startswith(".data"):
            out["data"] += n
        elif name.startswith((".bss", "COMMON")):
            out["bss"] += n
        elif name.startswith(".qcc_arena"):
            out["arena"] += n
        elif name == ".stack":
            out["stack"] += n
    return out


def run_elf(elf: Path, spec: HarnessSpec, raw_inputs: list[list[np.ndarray]],
            timeout: float = 300, core: str = "cortex-m4") -> list[list[np.ndarray]]:
    """Run ``elf`` on QEMU over the given per-sample input arrays; raw outputs back."""
    return _run(elf, spec, raw_inputs, timeout, icount=False, core=core)[0]


def measure_stack(out_dir: str | os.PathLike, samples: list[dict], timeout: float = 300) -> int:
    """Stack bytes one model run actually used on QEMU (max over samples).

    The harness paints the free stack before each run and finds the deepest
    overwritten word afterwards; SysTick interrupt frames taken during the run
    are included.  Compare with the static bound ``size(elf)["model_stack_bytes"]``.
    """
    out_dir = Path(out_dir)
    m, spec = _manifest(out_dir), spec_from_dir(out_dir)
    raw = [[_to_c(e, t, s) for e, t in zip(m["c"]["inputs"], spec.inputs)] for s in samples]
    stack = _run(build(out_dir), spec, raw, timeout, icount=False)[2]
    if stack is None:
        raise BuildError(f"{spec.name}.elf did not report its stack use (QCC_ARM_STACK)")
    return stack


def count_instructions(out_dir: str | os.PathLike, samples: list[dict],
                       timeout: float = 600, core: str = "cortex-m4") -> list[int]:
    """Cortex-M4 instructions executed by one model run, per sample (``-icount shift=0``).

    The harness reads SysTick around each run; under ``-icount shift=0`` QEMU's
    virtual clock advances one nanosecond per instruction, so tick counts are
    exact instruction counts up to the tick length, which the harness calibrates
    against a loop of known length.  Deterministic across runs and machines; not
    cycles (QEMU models no pipeline, wait states or caches).
    """
    out_dir = Path(out_dir)
    m, spec = _manifest(out_dir), spec_from_dir(out_dir)
    raw = [[_to_c(e, t, s) for e, t in zip(m["c"]["inputs"], spec.inputs)] for s in samples]
    _, ticks, _ = _run(build(out_dir, core=core), spec, raw, timeout, icount=True, core=core)
    if len(ticks) != len(samples) + 1 or ticks[0] <= 0:
        raise BuildError(f"{spec.name}.elf: SysTick did not advance under {QEMU} -icount; "
                         "cannot count instructions")
    per_tick = SPIN_INSNS / ticks[0]
    return [int(round(t * per_tick)) for t in ticks[1:]]


def _run(elf: Path, spec: HarnessSpec, raw_inputs, timeout: float, icount: bool,
         prof: list | None = None, core: str = "cortex-m4"):
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
