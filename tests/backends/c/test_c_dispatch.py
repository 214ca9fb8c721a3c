"""Run-time dispatch of the default x86-64 build (docs/target_c.md "Runtime dispatch"): the
generated Makefile and CMakeLists.txt compile the model's code for SSE2, AVX2 and AVX-512 and
NAME_run calls the best variant the CPU has (QCC_DISPATCH=sse2|avx2|avx512 asks for one);
every variant the CPU runs equals the interpreter bit for bit (digits_cnn through a plain
`make`; the SIMD kernel cases, packed and table-lookup weights included, through
qcc.backends.c.build; the other examples in the slow test); the opt-outs (DISPATCH=off,
-DQCC_NO_DISPATCH, -DQCC_PORTABLE, a -march with AVX2, a non-x86 compiler) build one variant."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcc.backends.c.build import build, run_samples
from qcc.cli import main

from c_testlib import check_exact_dispatched, needs_gcc
from simd_cases import all_cases
from simd_testlib import FLAGS

pytestmark = [needs_gcc, pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or platform.system() != "Linux",
    reason="SKIPPED, NOT PASSED: run-time dispatch is built on x86-64 (Linux gcc here)")]
ROOT = Path(__file__).resolve().parents[3]
EX = ROOT / "examples"
VARIANTS = ["sse2", "avx2", "avx512"]
# what each variant needs, in /proc/cpuinfo's names (the dispatcher asks __builtin_cpu_supports)
NEEDS = {"sse2": set(), "avx2": {"avx2", "bmi1", "bmi2", "popcnt"},
         "avx512": {"avx2", "bmi1", "bmi2", "popcnt", "avx512f", "avx512bw", "avx512vl", "avx512dq",
                    "avx512cd", "avx512_vnni", "avx512vbmi"}}
BEST = [v for v in VARIANTS if NEEDS[v] <= FLAGS][-1]
RUNS = [v for v in VARIANTS if NEEDS[v] <= FLAGS]


def _isa(binary: str, want: str = None) -> str:
    env = dict(os.environ)
    env.pop("QCC_DISPATCH", None)
    if want is not None:
        env["QCC_DISPATCH"] = want
    r = subprocess.run([binary, "--isa"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _compile(model: Path, out: Path, *extra) -> Path:
    assert main(["compile", str(model), "--calib", str(model.parent / "calib.npz"), "--target", "c",
                 "-o", str(out), "--quiet", *extra]) == 0
    return out


def _reference(out: Path, samples: list) -> list:
    import qcc

    art = qcc.load(str(out))
    return [art.run(s, engine="reference") for s in samples]


def _variants_equal_reference(out: Path, binary: str, samples: list, monkeypatch) -> None:
    """Each variant this CPU runs, asked for by QCC_DISPATCH, runs and equals the interpreter."""
    man = json.loads((out / "manifest.json").read_text())
    want = _reference(out, samples)
    for v in RUNS:
        assert _isa(binary, v) == v
        monkeypatch.setenv("QCC_DISPATCH", v)
        got = run_samples(str(out), samples, man, binary=binary)
        for g, w in zip(got, want):
            assert sorted(g) == sorted(w)
            for k in w:
                assert np.array_equal(g[k], w[k]), f"variant {v}, output {k}: C differs from the interpreter"


def _samples(example: str, n: int) -> list:
    data = dict(np.load(EX / example / "test.npz"))
    return [{k: v[i:i + 1] for k, v in data.items()} for i in range(n)]


@pytest.fixture(scope="module")
def digits(tmp_path_factory, digits_c) -> Path:
    return digits_c(tmp_path_factory.mktemp("dispatch") / "c", "digits")


def test_plain_make_dispatches_and_every_variant_is_bit_exact(digits, monkeypatch):
    r = subprocess.run(["make", "-s", "-C", str(digits)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (digits / "qcc_run.avx2.o").is_file() and (digits / "qcc_run.avx512.o").is_file()
    binary = str(digits / "qcc_run")
    assert _isa(binary) == BEST  # the best the CPU has, by default
    for bad in ("avx512", "AVX2", "neon", ""):  # not on this CPU / not a variant: the best
        if bad not in RUNS:
            assert _isa(binary, bad) == BEST
    _variants_equal_reference(digits, binary, _samples("digits_cnn", 6), monkeypatch)


@pytest.mark.slow  # 13 s in CI; the plain make dispatch test stays fast
def test_qcc_profile_runs_the_dispatched_build(digits, tmp_path):
    """`qcc profile --engine host` builds like a user's make (QCC_C_DISPATCH unset) and says
    which variant it timed."""
    env = {k: v for k, v in os.environ.items() if k not in ("QCC_C_DISPATCH", "QCC_DISPATCH")}
    data = dict(np.load(EX / "digits_cnn" / "test.npz"))
    np.savez(tmp_path / "in.npz", **{k: v[:1] for k, v in data.items()})
    r = subprocess.run([sys.executable, "-m", "qcc.cli", "profile", str(digits), "--inputs", str(tmp_path / "in.npz"), "--runs", "5",
                        "--json", str(tmp_path / "p.json")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / "p.json").read_text())["isa"] == BEST and f"isa {BEST}" in r.stdout


def _commands(folder: Path, *args) -> list:
    r = subprocess.run(["make", "-n", "-B", "-C", str(folder), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [ln for ln in r.stdout.splitlines() if "-std=c99" in ln]


@pytest.mark.parametrize("args", [["DISPATCH=off"], ["EXTRA_CFLAGS=-DQCC_NO_DISPATCH"],
                                  ["EXTRA_CFLAGS=-O2 -DQCC_PORTABLE"], ["HOST_ARCH=-march=x86-64-v3"],
                                  ["CFLAGS=-O3 -mavx2"]])
def test_opt_outs_build_one_variant(digits, args):
    cmds = _commands(digits, "qcc_run", *args)
    assert len(cmds) == 1 and "QCC_DISPATCH" not in cmds[0], cmds
    assert all("QCC_DISPATCH_VARIANT" in c for c in _commands(digits, "qcc_run") if "-c " in c)


def test_variant_flags_and_library(digits):
    """Plain make: the variants' own flags, compiled once each; the library holds them too
    (its objects compiled without HOST_ARCH), and HOST_ARCH with AVX2 keeps the runner single."""
    cmds = _commands(digits, "qcc_run")
    assert len(cmds) == 3 and "-DQCC_DISPATCH_BUILD" in cmds[-1]
    assert "-mavx2" in cmds[0] and "-DQCC_DISPATCH_VARIANT=avx2" in cmds[0]
    assert "-mavx512vnni" in cmds[1] and "-DQCC_DISPATCH_VARIANT=avx512" in cmds[1]
    lib = _commands(digits, "libdigits.a", "HOST_ARCH=-march=native")
    assert len(lib) == 4 and sum("QCC_DISPATCH_VARIANT" in c for c in lib) == 2
    assert all("-march=native" not in c for c in lib)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc")
def test_cross_compiler_builds_one_variant(digits):
    cmds = _commands(digits, "libdigits.a", "CC=arm-none-eabi-gcc", "CFLAGS=-O2 -mcpu=cortex-m4")
    assert len(cmds) == 2 and not any("QCC_DISPATCH" in c for c in cmds), cmds


def test_fixed_build_reports_fixed(digits):
    r = subprocess.run(["make", "-s", "-C", str(digits), "fixed_run", "BIN=fixed_run", "DISPATCH=off",
                        "CFLAGS=-O1"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert _isa(str(digits / "fixed_run")) == "fixed" == _isa(str(digits / "fixed_run"), "sse2")


def test_kernel_cases_every_variant_bit_exact(tmp_path, monkeypatch):
    """The SIMD kernel cases (linear, conv, packed int4/int2, table-lookup linear: its bit
    planes compiled once in NAME_weights.c for the variants that take them) through
    qcc.backends.c.build with dispatch, each variant the CPU runs against the interpreter."""
    out = tmp_path / "c"
    binary = check_exact_dispatched(all_cases(11), out, RUNS, monkeypatch)
    assert _isa(binary) == BEST
    assert _isa(build(str(out), extra_cflags=("-O1",), dispatch=False)) == "fixed"


@pytest.mark.slow  # 14 s in CI; the plain make dispatch test stays fast
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_build_dispatches(digits, tmp_path, monkeypatch):
    b = tmp_path / "build"
    r = subprocess.run(["cmake", "-S", str(digits), "-B", str(b), "-DCMAKE_BUILD_TYPE=Release"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run(["cmake", "--build", str(b)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert _isa(str(b / "qcc_run")) == BEST
    _variants_equal_reference(digits, str(b / "qcc_run"), _samples("digits_cnn", 2), monkeypatch)
    off = tmp_path / "off"
    r = subprocess.run(["cmake", "-S", str(digits), "-B", str(off), "-DQCC_DISPATCH=OFF"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "digits_DISPATCH_ON" not in r.stdout, r.stdout[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("example,model,extra", [
    ("mobilenet_small", "mobilenet_small.onnx", ()),
    ("mobilenet_small", "mobilenet_small.onnx", ("--weight-bits", "4", "--group-size", "32")),
    ("tiny_bert", "tiny_bert_opset17.onnx", ("--input-shape", "input_ids=1x32", "--input-shape",
                                             "attention_mask=1x32")),
    ("tiny_bert", "tiny_bert_opset17.onnx", ("--input-shape", "input_ids=1x32", "--input-shape",
                                             "attention_mask=1x32", "--weight-bits", "4")),
    ("text_recog", "text_recog_opset17.onnx", ())])
def test_examples_every_variant_bit_exact(tmp_path, monkeypatch, example, model, extra):
    out = _compile(EX / example / model, tmp_path / "c", *extra)
    r = subprocess.run(["make", "-s", "-j3", "-C", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    _variants_equal_reference(out, str(out / "qcc_run"), _samples(example, 3), monkeypatch)
