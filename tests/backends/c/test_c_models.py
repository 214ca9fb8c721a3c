"""Whole models through ``qcc compile --target c``: the host runner's outputs equal the
reference interpreter's bit for bit (examples, onnx light models, int4 per-group weights),
the generated code is clean C99 (no malloc/stdio/libm/float in the model code, -Werror,
ASan/UBSan, CMake), ``--name`` names files and symbols, bad inputs give clear errors."""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcc.cli import main

from c_testlib import needs_gcc

pytestmark = needs_gcc
ROOT = Path(__file__).resolve().parents[3]
EX = ROOT / "examples"
BERT_SHAPES = ["--input-shape", "input_ids=1x32", "--input-shape", "attention_mask=1x32"]


def compile_c(model, calib, out: Path, *extra) -> Path:
    rc = main(["compile", str(model), "--calib", str(calib), "--target", "c", "-o", str(out),
               "--quiet", *extra])
    assert rc == 0
    return out


def assert_c_equals_reference(out: Path, test_npz, tmp: Path, limit: int = 0) -> dict:
    data = dict(np.load(test_npz))
    if limit:
        data = {k: v[:limit] for k, v in data.items()}
        np.savez(tmp / "sub.npz", **data)
        test_npz = tmp / "sub.npz"
    for engine in ("c", "reference"):
        args = ["run", str(out), "--inputs", str(test_npz), "-o", str(tmp / f"{engine}.npz")]
        assert main(args + (["--engine", "reference"] if engine == "reference" else [])) == 0
    got, want = np.load(tmp / "c.npz"), np.load(tmp / "reference.npz")
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k].shape == want[k].shape
        bad = np.argwhere(got[k] != want[k])
        assert bad.size == 0, f"{k}: C differs from the interpreter at {bad[:5].tolist()}"
    return {k: want[k] for k in want}


@pytest.fixture(scope="module")
def digits(tmp_path_factory, digits_c) -> Path:
    return digits_c(tmp_path_factory.mktemp("digits") / "c", "digits")


def test_digits_bit_exact_and_named(digits, tmp_path):
    """The README quick start with --name: files, symbols, manifest table, exact outputs."""
    for f in ("digits.h", "digits.c", "digits_weights.c", "digits_weights.h", "qcc_kernels.h",
              "qcc_run.c", "Makefile", "CMakeLists.txt", "manifest.json", "model.qcc"):
        assert (digits / f).is_file(), f
    h = (digits / "digits.h").read_text()
    assert "int digits_run(" in h and "#define DIGITS_ARENA_SIZE" in h and 'extern "C"' in h
    man = json.loads((digits / "manifest.json").read_text())
    assert man["c"]["name"] == "digits"
    assert man["layers"] and {"node", "op", "kernel", "out_bytes"} <= set(man["layers"][0])
    mem = man["memory"]
    assert set(mem["tried"]) >= {"greedy-by-size", "greedy-by-conflict"}
    assert mem["arena_bytes"] == min(mem["tried"].values()) and mem["inplace_rejected"] == {}
    assert_c_equals_reference(digits, EX / "digits_cnn" / "test.npz", tmp_path, limit=40)


MODEL_FILES = ("{n}.c", "{n}.h", "{n}_weights.c", "{n}_weights.h", "qcc_kernels.h")
FORBIDDEN = [r"\bmalloc\b", r"\bcalloc\b", r"\bfree\s*\(", r"<stdio\.h>", r"\bprintf\b",
             r"<math\.h>", r"\bfloat\b", r"\bdouble\b", r"\bstatic\s+(?!inline|const)\w+[^(]*=",
             r"\bexp\(|\bsqrt\(|\blog\("]


def test_model_code_has_no_malloc_stdio_libm_float(digits):
    """Only the runner may use the C library; the model code is integer-only and stateless.
    (The header's *_SCALE macros are float literals for the caller; they are not used. The
    x86-64 run-time dispatcher, compiled only with QCC_DISPATCH_ON, keeps the variant it chose
    once in one static int and reads the environment: test_c_dispatch.py.)"""
    for pattern in MODEL_FILES:
        text = (digits / pattern.format(n="digits")).read_text()
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        disp = re.findall(r"#ifdef QCC_DISPATCH_ON\n.*?\n#else\n", code, flags=re.S)
        assert len(disp) == (pattern == "{n}.c"), pattern
        if disp:
            state = re.findall(r"\bstatic\s+(?!inline|const)\w+[^(;]*=", disp[0])
            assert state == ["static int level ="], state
            code = code.replace(disp[0], "")
        code = "\n".join(ln for ln in code.splitlines() if not re.match(r"\s*#define \w+_SCALE", ln))
        for bad in FORBIDDEN:
            assert not re.search(bad, code), f"{pattern}: {bad}"


def test_kernel_templates_have_no_malloc_stdio_libm_float():
    """Every kernel template (not only those digits uses) is integer-only C without libc I/O."""
    kdir = ROOT / "backends" / "c" / "templates" / "kernels"
    files = sorted(kdir.glob("*.[ch]"))
    assert len(files) >= 20
    for f in files:
        code = re.sub(r"/\*.*?\*/", "", f.read_text(), flags=re.S)
        for bad in FORBIDDEN:
            assert not re.search(bad, code), f"{f.name}: {bad}"


def _sanitized_equals_plain(out: Path, test_npz, n: int) -> None:
    from qcc.backends.c.build import build, run_samples

    flags = ("-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")
    try:
        binary = build(str(out), extra_cflags=flags)
    except Exception as e:  # noqa: BLE001 - the runtime may be missing, not a model bug
        if "asan" in str(e).lower() or "ubsan" in str(e).lower():
            pytest.skip(f"no sanitizer runtime: {e}")
        raise
    data = dict(np.load(test_npz))
    samples = [{k: v[i:i + 1] for k, v in data.items()} for i in range(n)]
    man = json.loads((out / "manifest.json").read_text())
    got = run_samples(str(out), samples, man, binary=binary)
    plain = run_samples(str(out), samples, man)
    for a, b in zip(got, plain):
        for k in b:
            assert np.array_equal(a[k], b[k]), k


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="sanitizer runtimes: linux gcc")
def test_transformer_and_packed_weights_clean_under_asan_ubsan(tmp_path):
    """The int64 transformer kernels (shifts, isqrt, divisions) and packed int4 weights."""
    bert = compile_c(EX / "tiny_bert" / "tiny_bert_opset17.onnx", EX / "tiny_bert" / "calib.npz",
                     tmp_path / "bert", *BERT_SHAPES)
    _sanitized_equals_plain(bert, EX / "tiny_bert" / "test.npz", 4)
    mb = compile_c(EX / "mobilenet_small" / "mobilenet_small.onnx",
                   EX / "mobilenet_small" / "calib.npz", tmp_path / "mb", "--weight-bits", "4",
                   "--group-size", "32")
    _sanitized_equals_plain(mb, EX / "mobilenet_small" / "test.npz", 4)


@pytest.mark.skipif(sys.platform != "linux", reason="sanitizer runtimes: linux gcc")
def test_digits_clean_under_asan_ubsan(digits):
    _sanitized_equals_plain(digits, EX / "digits_cnn" / "test.npz", 5)


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_builds_library_and_runner(digits, tmp_path):
    b = tmp_path / "build"
    # (with run-time dispatch: test_c_dispatch.py)
    cfg = subprocess.run(["cmake", "-S", str(digits), "-B", str(b), "-DCMAKE_BUILD_TYPE=Release",
                          "-DQCC_DISPATCH=OFF"],
                         capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stderr
    r = subprocess.run(["cmake", "--build", str(b)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (b / "libdigits.a").is_file() and (b / "qcc_run").is_file()


TWO_MODELS_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "digits.h"
#include "other.h"
static uint8_t a1[DIGITS_ARENA_SIZE], a2[OTHER_ARENA_SIZE];
int main(void)
{
    int8_t in[DIGITS_IN0_COUNT], o1[DIGITS_OUT0_COUNT], o2[OTHER_OUT0_COUNT];
    int i;
    for (i = 0; i < DIGITS_IN0_COUNT; i++)
        in[i] = (int8_t)(i * 37 % 256 - 128);
    if (digits_run(in, o1, a1) || other_run(in, o2, a2))
        return 2;
    printf("%d\n", memcmp(o1, o2, sizeof o1));
    return 0;
}
"""


def test_two_models_link_into_one_program(digits, digits_c, tmp_path):
    """--name prefixes every external symbol (run functions and constants): two compiled
    models (here digits twice) link into one firmware and give the same outputs."""
    other = digits_c(tmp_path / "other", "other")
    (tmp_path / "main.c").write_text(TWO_MODELS_MAIN)
    srcs = [str(d / f) for d, n in ((digits, "digits"), (other, "other"))
            for f in (f"{n}.c", f"{n}_weights.c")]
    exe = tmp_path / "two"
    r = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1",
                        "-I", str(digits), "-I", str(other), str(tmp_path / "main.c"), *srcs,
                        "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stdout + r.stderr


def test_host_arch_flags_reach_the_runner_only(digits):
    r = subprocess.run(["make", "-n", "-B", "-C", str(digits), "qcc_run", "libdigits.a",
                        "HOST_ARCH=-march=native"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cmds = [ln for ln in r.stdout.splitlines() if "-std=c99" in ln]
    assert any("qcc_run.c" in c and "-march=native" in c for c in cmds)
    # the runner, the library's two objects and, on x86-64, its two run-time dispatch variants
    assert all("-march=native" not in c for c in cmds if "qcc_run.c" not in c)
    assert len(cmds) == 3 + 2 * (platform.machine() in ("x86_64", "AMD64"))


def test_runner_rejects_wrong_input_size(digits, tmp_path):
    from qcc.backends.c.build import build

    binary = build(str(digits))
    (tmp_path / "in.bin").write_bytes(b"\0" * 10)
    r = subprocess.run([binary, str(tmp_path / "in.bin"), str(tmp_path / "o.bin")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "input" in r.stderr.lower()


def test_unsupported_op_is_named(tmp_path):
    from c_testlib import Cases, emit_c

    from qcc.errors import QccError

    cs = Cases(0)
    x = cs.rand_input((2, 3))
    cs.op("onnx.Neg", [x])
    with pytest.raises(QccError, match=r"onnx\.Neg node 'y0_0' on integer tensors has no kernel"):
        emit_c(cs.g, str(tmp_path / "c"))
    cs = Cases(0)
    cs.op("onnx.Abs", [cs.rand_input((2, 3))])
    with pytest.raises(QccError, match=r"target c has no kernel for 1 node\(s\) \[onnx\.Abs\]: "
                                       r"onnx\.Abs 'y0_0'"):
        emit_c(cs.g, str(tmp_path / "c2"))


def test_float_output_names_the_float_ops(tmp_path):
    """Ops kept float (--allow-float) cannot run in C: the error names them."""
    from c_testlib import Cases, emit_c

    from qcc.errors import QccError

    cs = Cases(0)
    f = cs.op("qcc.dequantize", [cs.rand_input((2, 3))], {"scale": 0.5, "zero_point": 0},
              output=False)
    cs.op("onnx.Relu", [cs.op("onnx.Sigmoid", [f], output=False)])
    with pytest.raises(QccError, match=r"output '\S+' \(float32\) \(computed in float by "
                                       r"onnx\.Relu '\S+', onnx\.Sigmoid '\S+'\).*no float"):
        emit_c(cs.g, str(tmp_path / "c"))


def test_compile_replays_the_plan_and_rejects_an_overlap(tmp_path, monkeypatch):
    """qcc.lower.plan replays every call over the arena (memplan.check_schedule): a plan
    that puts two live tensors on the same bytes fails the compile, naming them."""
    from c_testlib import Cases, emit_c

    import qcc.lower.plan as program
    from qcc.errors import QccError

    def squash(buffers, align):
        plan = real(buffers, align)
        plan.offsets = {k: 0 for k in plan.offsets}
        return plan

    real = program.plan_memory
    cs = Cases(0)
    x = cs.rand_input((4, 8))
    a, b = (cs.op("qcc.requant", [x, *cs.mult()], output=False) for _ in range(2))
    one = cs.const(np.array([1 << 30, 1 << 30], np.int32))
    cs.op("qcc.add", [a, b, one, cs.const(np.array([31], np.int32))])
    emit_c(cs.g, str(tmp_path / "ok"))
    monkeypatch.setattr(program, "plan_memory", squash)
    monkeypatch.setattr(program, "check_plan", lambda buffers, plan: None)
    with pytest.raises(QccError, match=r"schedule check: step 2 reads '\S+' .* holds '\S+'"):
        emit_c(cs.g, str(tmp_path / "bad"))


# --------------------------------------------------------------------------------- slow
EXAMPLES = [
    ("mobilenet_small", EX / "mobilenet_small" / "mobilenet_small.onnx", []),
    ("bert14", EX / "tiny_bert" / "tiny_bert_opset14.onnx", BERT_SHAPES),
    ("bert17", EX / "tiny_bert" / "tiny_bert_opset17.onnx", BERT_SHAPES),
    ("digits_int4_g32", EX / "digits_cnn" / "digits_cnn.onnx", ["--weight-bits", "4", "--group-size", "32"]),
    ("mobilenet_int4_g32", EX / "mobilenet_small" / "mobilenet_small.onnx",
     ["--weight-bits", "4", "--group-size", "32"]),
    ("bert17_int4_g32", EX / "tiny_bert" / "tiny_bert_opset17.onnx",
     BERT_SHAPES + ["--weight-bits", "4", "--group-size", "32"]),
    ("digits_int2", EX / "digits_cnn" / "digits_cnn.onnx", ["--weight-bits", "2", "--group-size", "16"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,model,extra", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_bit_exact(tmp_path, name, model, extra):
    out = compile_c(model, model.parent / "calib.npz", tmp_path / "c", *extra)
    assert_c_equals_reference(out, model.parent / "test.npz", tmp_path, limit=64)


# the light models that quantize integer-only (LRN included: inception_v1, alexnet, zfnet512);
# vgg19 (143M weights, a 0.6 GB weights file) is not built here
LIGHT_C = ["squeezenet", "shufflenet", "densenet121", "inception_v1", "inception_v2", "resnet50",
           "bvlc_alexnet", "zfnet512"]


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_C)
def test_light_model_bit_exact(tmp_path, name):
    import onnx

    sys.path.insert(0, str(ROOT / "tests"))
    from models.light_testlib import feeds_for, path_of, randomize

    m = randomize(onnx.load(path_of(name)))
    onnx.save(m, tmp_path / "m.onnx")
    fs = [feeds_for(m, seed=s) for s in range(1, 7)]
    key = next(iter(fs[0]))
    np.savez(tmp_path / "calib.npz", **{key: np.concatenate([f[key] for f in fs[:4]])})
    np.savez(tmp_path / "test.npz", **{key: np.concatenate([f[key] for f in fs[4:]])})
    out = compile_c(tmp_path / "m.onnx", tmp_path / "calib.npz", tmp_path / "c")
    assert_c_equals_reference(out, tmp_path / "test.npz", tmp_path)


def test_run_samples_rejects_wrong_shape(digits):
    from qcc.backends.c.build import run_samples
    from qcc.errors import InputDataError

    man = json.loads((digits / "manifest.json").read_text())
    with pytest.raises(InputDataError, match=r"input 'input' has shape \[1, 1, 5, 5\]"):
        run_samples(str(digits), [{"input": np.zeros((1, 1, 5, 5), np.float32)}], man)
