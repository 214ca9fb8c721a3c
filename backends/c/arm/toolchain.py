"""Build side of the Cortex-M toolchain: the harness description of a compiled model
(:class:`HarnessSpec`), rendering the semihosting harness (templates/arm/) and compiling and
linking it with the model's sources into ``out_dir/<core subdir>/NAME.elf``
(``arm-none-eabi-gcc``).  Running the ELF is :mod:`.qemu`, measuring it :mod:`.elf`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np

from qcc.errors import BuildError

from ..cores import core_of

GCC = "arm-none-eabi-gcc"
SIZE = "arm-none-eabi-size"
NM = "arm-none-eabi-nm"
QEMU = "qemu-system-arm"
CFLAGS = ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
          "-ffunction-sections", "-fdata-sections"]
LDFLAGS = ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
           "-Wl,--gc-sections"]
BUILD_SUBDIR = "arm_m4"
TEMPLATE_DIR = Path(__file__).parent.parent / "templates" / "arm"
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
             *Path(__file__).parent.glob("*.py"), *TEMPLATE_DIR.iterdir()]
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
