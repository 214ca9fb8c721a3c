"""Generated code that explains itself: DIR/README.md (files, build, API with this model's
names and shapes, memory figures, a firmware example that compiles and runs bit-exactly),
DIR/NAME_io.c/.h (float <-> integer with the model's scales, used by the runner), and
every CMake target and external symbol prefixed by --name (two models in one project)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


def qcc(*args) -> subprocess.CompletedProcess:
    exe = shutil.which("qcc")
    assert exe, "the qcc console script is not on PATH"
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=600)


def assert_ok(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr


ROOT = Path(__file__).resolve().parents[3]
EX = ROOT / "examples" / "digits_cnn"
TEST = EX / "test.npz"


@pytest.fixture(scope="module")
def digits(tmp_path_factory, digits_c):
    return digits_c(tmp_path_factory.mktemp("explain") / "digits", "digits")


def test_readme_names_this_model_files_shapes_and_memory(digits):
    text = (digits / "README.md").read_text()
    man = json.loads((digits / "manifest.json").read_text())
    assert man["files"]["readme"] == "README.md"
    for f in man["files"].values():
        assert f == "README.md" or f"`{f}`" in text, f
    assert "int digits_run(const int8_t *in0, int8_t *out0, uint8_t *arena);" in text
    assert re.search(r"`input` \| `int8_t in0\[DIGITS_IN0_COUNT\]` \(64\) \| \[1, 1, 8, 8\]", text)
    assert re.search(r"`logits` \| `int8_t out0\[DIGITS_OUT0_COUNT\]` \(10\) \| \[1, 10\]", text)
    assert f"{man['memory']['arena_bytes']:,} bytes" in text
    assert f"{man['memory']['weight_bytes']:,} bytes of weights" in text
    for how in ("make", "cmake -S . -B build", "arm-none-eabi-gcc", "add_subdirectory(digits)"):
        assert how in text, how


def _firmware(readme: str) -> str:
    m = re.search(r"## Minimal firmware\n\n```c\n(.*?)```", readme, re.S)
    assert m
    return m.group(1)


def test_readme_firmware_example_compiles_and_matches_qcc_run(digits, tmp_path):
    """The README's example, with a main that feeds test images, gives exactly the outputs
    of 'qcc run' (same quantize/dequantize helpers, same model code)."""
    x = np.load(TEST)["input"][:8]
    main = _firmware((digits / "README.md").read_text()) + r"""
#include <stdio.h>
#include <string.h>
int main(void)
{
    int s;
    for (s = 0; s < 8; s++) {
        if (fread(fin0, sizeof fin0, 1, stdin) != 1 || infer() != 0)
            return 2;
        fwrite(fout0, sizeof fout0, 1, stdout);
    }
    return 0;
}
"""
    (tmp_path / "app.c").write_text(main)
    exe = tmp_path / "app"
    srcs = [str(digits / f) for f in ("digits.c", "digits_weights.c", "digits_io.c")]
    r = subprocess.run(["gcc", "-std=gnu99", "-Wall", "-Wextra", "-Werror", "-O2", "-I", str(digits),
                        str(tmp_path / "app.c"), *srcs, "-o", str(exe), "-lm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([str(exe)], input=x.astype("<f4").tobytes(), capture_output=True)
    assert r.returncode == 0
    got = np.frombuffer(r.stdout, "<f4").reshape(8, 10)
    np.savez(tmp_path / "in.npz", input=x)
    assert_ok(qcc("run", digits, "--inputs", tmp_path / "in.npz", "-o", tmp_path / "o.npz"))
    assert np.array_equal(got, np.load(tmp_path / "o.npz")["logits"])


def test_io_helpers_use_the_manifest_scales(digits):
    man = json.loads((digits / "manifest.json").read_text())
    h = (digits / "digits_io.h").read_text()
    assert "void digits_quantize_in0(const float *x, int8_t *q);" in h
    assert "void digits_dequantize_out0(const int8_t *q, float *y);" in h
    assert "digits_quantize_in0" in (digits / "qcc_run.c").read_text()  # the runner uses them
    hdr = (digits / "digits.h").read_text()
    for io, tag in ((man["c"]["inputs"][0], "IN0"), (man["c"]["outputs"][0], "OUT0")):
        scale = float(re.search(rf"#define DIGITS_{tag}_SCALE (\S+)f", hdr).group(1))
        assert np.float32(scale) == np.float32(io["scale"])
        zp = int(re.search(rf"#define DIGITS_{tag}_ZERO_POINT \((-?\d+)\)", hdr).group(1))
        assert zp == io["zero_point"]


def _globals(obj: Path) -> list[str]:
    r = subprocess.run(["nm", "-g", "--defined-only", str(obj)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [ln.split()[-1] for ln in r.stdout.splitlines() if ln.strip()]


def test_every_external_symbol_starts_with_the_name(digits, tmp_path):
    syms = []
    for src in ("digits.c", "digits_weights.c", "digits_io.c"):
        obj = tmp_path / (src[:-2] + ".o")
        r = subprocess.run(["gcc", "-std=c99", "-O2", "-c", str(digits / src), "-I", str(digits),
                            "-o", str(obj)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        syms += _globals(obj)
    assert syms and all(s.startswith("digits_") for s in syms), syms


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_two_models_in_one_cmake_project(digits, digits_c, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copytree(digits, proj / "digits")
    digits_c(proj / "other", "other")
    (proj / "main.c").write_text(r"""
#include "digits_io.h"
#include "other_io.h"
static uint8_t a1[DIGITS_ARENA_SIZE], a2[OTHER_ARENA_SIZE];
int main(void)
{
    static float x[DIGITS_IN0_COUNT], y1[DIGITS_OUT0_COUNT], y2[OTHER_OUT0_COUNT];
    int8_t q1[DIGITS_IN0_COUNT], q2[OTHER_IN0_COUNT], o1[DIGITS_OUT0_COUNT], o2[OTHER_OUT0_COUNT];
    digits_quantize_in0(x, q1);
    other_quantize_in0(x, q2);
    if (digits_run(q1, o1, a1) || other_run(q2, o2, a2))
        return 2;
    digits_dequantize_out0(o1, y1);
    other_dequantize_out0(o2, y2);
    return y1[0] == y2[0] ? 0 : 1;
}
""")
    (proj / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(app C)\n"
        "add_subdirectory(digits)\nadd_subdirectory(other)\n"
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE digits_io other_io)\n")
    b = tmp_path / "build"
    r = subprocess.run(["cmake", "-S", str(proj), "-B", str(b)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run(["cmake", "--build", str(b)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert subprocess.run([str(b / "app")]).returncode == 0
    assert (b / "digits" / "qcc_run").is_file() and (b / "other" / "qcc_run").is_file()


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc")
def test_readme_embedded_command_compiles(digits, tmp_path):
    text = (digits / "README.md").read_text()
    m = re.search(r"```sh\n(arm-none-eabi-gcc .*?)\n```", text, re.S)
    assert m
    cmd = m.group(1).replace("\\\n", " ")
    r = subprocess.run(cmd, shell=True, cwd=digits, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    for f in ("digits.o", "digits_weights.o", "digits_io.o"):
        assert (digits / f).is_file()
        os.unlink(digits / f)


@pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"), reason="no arm-none-eabi-gcc")
def test_stack_bound_macro_is_the_m4_bound_and_holds_under_qemu(digits):
    from qcc.backends.c import arm

    hdr = (digits / "digits.h").read_text()
    m = re.search(r"#define DIGITS_ARENA_ALIGN 16u\n(?:/\*.*?\*/\n)#define DIGITS_STACK_BOUND (\d+)u",
                  hdr, re.S)
    assert m, hdr[:1500]
    bound = int(m.group(1))
    man = json.loads((digits / "manifest.json").read_text())
    assert man["memory"]["stack_bound_m4"] == bound
    assert f"`DIGITS_STACK_BOUND` = {bound:,} bytes" in (digits / "README.md").read_text()
    if not arm.available():
        pytest.skip(arm.missing_tools())
    assert arm.size(arm.build(digits))["model_stack_bytes"] == bound  # the linked ELF agrees
    x = np.load(TEST)["input"][:2]
    used = arm.measure_stack(digits, [{"input": x[i:i + 1]} for i in range(2)])
    assert 0 < used <= bound + 64, (used, bound)  # 64: a SysTick frame taken during the run


def test_without_the_cross_compiler_the_header_says_why(tmp_path):
    exe = shutil.which("qcc")
    env = dict(os.environ, PATH=os.path.dirname(exe))  # no arm-none-eabi-gcc on PATH
    r = subprocess.run([exe, "compile", str(EX / "digits_cnn.onnx"), "--calib", str(EX / "calib.npz"),
                        "--target", "c", "--name", "nostack", "-o", str(tmp_path / "c")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    hdr = (tmp_path / "c" / "nostack.h").read_text()
    assert "NOSTACK_STACK_BOUND: not measured (arm-none-eabi-gcc was not installed" in hdr
    assert "#define NOSTACK_STACK_BOUND" not in hdr
