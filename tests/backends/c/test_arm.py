"""Cortex-M4 toolchain of the C backend (backends/c/arm.py): arm-none-eabi-gcc + QEMU mps2-an386."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from qcc.backends.c import arm

from c_testlib import needs_arm
from qcc.backends.c.arm.elf import _discarded  # a private helper, tested where it lives
from qcc.errors import BuildError


TOY_H = """#ifndef TOY_H
#define TOY_H
#include <stdint.h>
#define TOY_ARENA_SIZE 64
int toy_run(const int8_t *in, const int32_t *bias, int8_t *out, int32_t *acc_out,
            uint8_t *arena);
#endif
"""

# A dot-product-with-requantization "model": int64 products and a rounding shift
# exercise the libgcc helpers and the arena; bias < -1000000 returns an error code.
TOY_C = """#include <string.h>
#include "toy.h"
int toy_run(const int8_t *in, const int32_t *bias, int8_t *out, int32_t *acc_out,
            uint8_t *arena)
{
    int32_t *acc = (int32_t *)(void *)arena;
    int i;
    if (bias[0] < -1000000) {
        return 7;
    }
    memset(arena, 0, TOY_ARENA_SIZE);
    for (i = 0; i < 16; i++) {
        acc[i % 4] += (int32_t)in[i] * (int32_t)(i - 7);
    }
    for (i = 0; i < 4; i++) {
        int64_t v = ((int64_t)(acc[i] + bias[i]) * 1518500250LL + (1LL << 35)) >> 36;
        acc_out[i] = acc[i] + bias[i];
        out[i] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
    return 0;
}
"""


def _toy(tmp_path: Path, body: str = TOY_C) -> arm.HarnessSpec:
    (tmp_path / "toy.h").write_text(TOY_H)
    (tmp_path / "toy.c").write_text(body)
    return arm.HarnessSpec(
        "toy", "toy.h", "TOY_ARENA_SIZE", "toy_run",
        [arm.Tensor("x", "int8", 16), arm.Tensor("b", "int32", 4)],
        [arm.Tensor("y", "int8", 4), arm.Tensor("acc", "int32", 4)],
        [tmp_path / "toy.c"], [tmp_path])


def _toy_reference(x: np.ndarray, b: np.ndarray):
    acc = np.zeros(4, np.int64)
    for i in range(16):
        acc[i % 4] += int(x[i]) * (i - 7)
    acc += b
    y = np.clip((acc * 1518500250 + (1 << 35)) >> 36, -128, 127)
    return y.astype(np.int8), acc.astype(np.int32)


def test_missing_tools_reason_is_empty_exactly_when_available():
    assert (arm.missing_tools() == "") == arm.available()


@needs_arm
def test_toy_model_runs_bit_exact_under_qemu(tmp_path):
    spec = _toy(tmp_path)
    elf = arm.build_spec(spec, tmp_path / "arm_m4")
    rng = np.random.default_rng(0)
    samples = [[rng.integers(-128, 128, 16).astype(np.int8),
                rng.integers(-40000, 40000, 4).astype(np.int32)] for _ in range(6)]
    samples.append([np.full(16, -128, np.int8), np.array([2**30, -2**30, 0, 1], np.int32)])
    outs = arm.run_elf(elf, spec, samples)
    assert len(outs) == len(samples)
    for (x, b), (y, acc) in zip(samples, outs):
        ry, racc = _toy_reference(x, b)
        np.testing.assert_array_equal(y, ry)
        np.testing.assert_array_equal(acc, racc)


@needs_arm
def test_size_report_is_consistent(tmp_path):
    elf = arm.build_spec(_toy(tmp_path), tmp_path / "arm_m4")
    s = arm.size(elf)
    assert s["arena"] == 64                       # the harness arena is TOY_ARENA_SIZE
    assert s["flash_bytes"] == s["text"] + s["data"] > 0
    assert s["ram_bytes"] == s["data"] + s["bss"] + s["arena"]
    assert s["bss"] >= 16 + 16 + 16 + 16          # four 16-byte-aligned I/O buffers
    assert 0 < s["model_flash_bytes"] < s["flash_bytes"]
    assert s["stack"] > 0


@needs_arm
def test_model_error_code_is_reported(tmp_path):
    spec = _toy(tmp_path)
    elf = arm.build_spec(spec, tmp_path / "arm_m4")
    bad = [[np.zeros(16, np.int8), np.array([-2000000, 0, 0, 0], np.int32)]]
    with pytest.raises(BuildError, match="model returned 7"):
        arm.run_elf(elf, spec, bad)


@needs_arm
def test_compile_error_names_the_file(tmp_path):
    spec = _toy(tmp_path, TOY_C.replace("return 0;", "return undefined_symbol;"))
    with pytest.raises(BuildError, match="toy.c for Cortex-M4"):
        arm.build_spec(spec, tmp_path / "arm_m4")


@needs_arm
def test_wrong_input_size_is_rejected(tmp_path):
    spec = _toy(tmp_path)
    elf = arm.build_spec(spec, tmp_path / "arm_m4")
    with pytest.raises(BuildError, match="input 'x' of model 'toy' needs 16 elements, got 3"):
        arm.run_elf(elf, spec, [[np.zeros(3, np.int8), np.zeros(4, np.int32)]])


# ------------------------------------------------------------------ a real model: digits_cnn
ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "examples" / "digits_cnn"


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory, digits_c):
    return digits_c(tmp_path_factory.mktemp("digits_c") / "c")


def _digits_samples(n: int) -> list[dict]:
    with np.load(DIGITS / "test.npz", allow_pickle=False) as z:
        x = z["input"]
    return [{"input": x[i:i + 1]} for i in range(n)]


@needs_arm
def test_digits_cnn_under_qemu_equals_host_and_interpreter(digits_dir):
    import json

    from qcc.backends.c.build import run_samples
    from qcc.interp import Interpreter
    from qcc.ir.serialize import load as load_ir

    samples = _digits_samples(12)
    got = arm.run_qemu(digits_dir, samples)
    manifest = json.loads((digits_dir / "manifest.json").read_text())
    host = run_samples(str(digits_dir), samples, manifest)
    ref = Interpreter(load_ir(str(digits_dir / "model.qcc")))
    assert len(got) == len(samples)
    for s, g, h in zip(samples, got, host):
        assert g.keys() == h.keys() == {"logits"}
        assert g["logits"].dtype == h["logits"].dtype == np.float32
        np.testing.assert_array_equal(g["logits"], h["logits"])
        np.testing.assert_array_equal(g["logits"], ref.run(s)["logits"])


@needs_arm
def test_digits_cnn_m4_size_matches_the_manifest(digits_dir):
    import json

    mem = json.loads((digits_dir / "manifest.json").read_text())["memory"]
    elf = arm.build(digits_dir)
    assert arm.build(digits_dir) == elf                    # up to date: not rebuilt
    s = arm.size(elf)
    assert s["arena"] == max(mem["arena_bytes"], 16)       # NAME_ARENA_SIZE in .qcc_arena
    assert s["arena"] >= mem["lower_bound"] > 0
    assert s["model_flash_bytes"] >= mem["weight_bytes"] > 0   # const weights sit in flash
    assert s["flash_bytes"] > s["model_flash_bytes"]           # + harness, startup, libgcc
    assert s["ram_bytes"] == s["data"] + s["bss"] + s["arena"]
    assert s["model_ram_bytes"] == s["arena"]          # the model keeps no static state


def test_discarded_sections_come_from_the_map_and_only_for_the_given_objects(tmp_path):
    """The model flash counts what the linker kept: sections of the model objects listed
    under "Discarded input sections" (``--gc-sections``) are subtracted, others ignored."""
    mo, ho = str(tmp_path / "model.o"), str(tmp_path / "qcc_harness.o")
    (tmp_path / "m.map").write_text(
        "Archive member included\n .text.x 0x0 0x40 " + mo + "\n"
        "Discarded input sections\n\n"
        f" .text          0x00000000        0x0 {mo}\n"
        f" .text.qcc_linear_quads_w.constprop.0\n                0x00000000      0x318 {mo}\n"
        f" .rodata.t      0x00000000       0x10 {mo}\n"
        f" .text.h        0x00000000       0x20 {ho}\n"
        "\nMemory Configuration\n .text.y 0x0 0x99 " + mo + "\n")
    got = _discarded(tmp_path / "m.map", [mo])
    assert got == [(".text", 0), (".text.qcc_linear_quads_w.constprop.0", 0x318), (".rodata.t", 0x10)]
    assert _discarded(tmp_path / "none.map", [mo]) == []


def test_run_qemu_needs_a_c_output_folder(tmp_path):
    with pytest.raises(BuildError, match="holds no manifest.json; compile the model with --target c"):
        arm.run_qemu(tmp_path, [{"x": np.zeros(1)}])
    (tmp_path / "manifest.json").write_text('{"target": "onnx", "files": {"model": "model.onnx"}}')
    with pytest.raises(BuildError, match="has no 'c' section; recompile the model with --target c"):
        arm.run_qemu(tmp_path, [{"x": np.zeros(1)}])


@needs_arm
def test_qcc_run_engine_cortex_m4_equals_the_host_engine(digits_dir, tmp_path):
    from qcc.cli import main

    np.savez(tmp_path / "in.npz", input=np.concatenate([s["input"] for s in _digits_samples(5)]))
    for engine in ("cortex-m4", "target"):
        assert main(["run", str(digits_dir), "--inputs", str(tmp_path / "in.npz"),
                     "-o", str(tmp_path / f"{engine}.npz"), "--engine", engine]) == 0
    with np.load(tmp_path / "cortex-m4.npz") as m4, np.load(tmp_path / "target.npz") as host:
        assert m4["logits"].shape == (5, 10)
        np.testing.assert_array_equal(m4["logits"], host["logits"])


@needs_arm
def test_model_too_large_for_the_board_is_a_clear_error(tmp_path):
    spec = _toy(tmp_path)
    (tmp_path / "toy.h").write_text(TOY_H.replace("TOY_ARENA_SIZE 64", "TOY_ARENA_SIZE 5000000"))
    with pytest.raises(BuildError, match=r"model 'toy' does not fit the mps2-an386 memory map.*"
                                         r"overflows RAM by \d+ bytes"):
        arm.build_spec(spec, tmp_path / "arm_m4")


@needs_arm
@pytest.mark.slow
def test_light_squeezenet_under_qemu_equals_host(tmp_path):
    """A 224x224 ImageNet-size network (1.3 MB of weights, ~1 MB arena) on the M4 (~30 s)."""
    import json

    from qcc.backends.c.build import run_samples
    from qcc.bench.models import light
    from qcc.cli import main

    m = light("squeezenet", n_calib=2, n_test=1)
    np.savez(tmp_path / "calib.npz", **m.calib)
    out = tmp_path / "c"
    assert main(["compile", m.path, "--calib", str(tmp_path / "calib.npz"), "--target", "c",
                 "-o", str(out), "--allow-float", ",".join(m.allow_float)]) == 0
    samples = [{k: v[:1] for k, v in m.test.items()}]
    got = arm.run_qemu(out, samples)
    host = run_samples(str(out), samples, json.loads((out / "manifest.json").read_text()))
    for k in host[0]:
        np.testing.assert_array_equal(got[0][k], host[0][k])
    s = arm.size(arm.build(out))
    assert s["model_flash_bytes"] > 1_000_000 and s["arena"] > 500_000


@needs_arm
def test_digits_cnn_instruction_count_is_deterministic(digits_dir):
    samples = _digits_samples(3)
    first = arm.count_instructions(digits_dir, samples)
    assert arm.count_instructions(digits_dir, samples) == first   # -icount: exact replay
    assert len(first) == 3
    # data-independent control flow: samples differ by a few SysTick ticks at most
    assert max(first) - min(first) <= 0.01 * max(first)
    assert 10_000 < min(first) < 100_000_000


# --------------------------------------------- the other examples: mobilenet_small, tiny_bert
EXAMPLE_ARGS = {"mobilenet_small": ("mobilenet_small.onnx", []),
                "tiny_bert": ("tiny_bert_opset17.onnx",
                              ["--input-shape", "input_ids=1x32", "--input-shape",
                               "attention_mask=1x32"])}


def _compile_example(name: str, out: Path) -> Path:
    from qcc.cli import main

    onnx_file, extra = EXAMPLE_ARGS[name]
    d = ROOT / "examples" / name
    assert main(["compile", str(d / onnx_file), "--calib", str(d / "calib.npz"),
                 "--max-calib-samples", "8", "--target", "c", "-o", str(out), "--quiet",
                 *extra]) == 0
    return out


@needs_arm
@pytest.mark.parametrize("name", ["mobilenet_small",
                                  pytest.param("tiny_bert", marks=pytest.mark.slow)])  # ~20 s
def test_example_under_qemu_equals_host_and_interpreter(name, tmp_path):
    """All samples in one QEMU run; int64 token ids (tiny_bert) pass through unquantized."""
    import json

    from qcc.backends.c.build import run_samples
    from qcc.interp import Interpreter
    from qcc.ir.serialize import load as load_ir

    out = _compile_example(name, tmp_path / "c")
    with np.load(ROOT / "examples" / name / "test.npz", allow_pickle=False) as z:
        samples = [{k: z[k][i:i + 1] for k in z.files} for i in range(4)]
    got = arm.run_qemu(out, samples)
    manifest = json.loads((out / "manifest.json").read_text())
    host = run_samples(str(out), samples, manifest)
    ref = Interpreter(load_ir(str(out / "model.qcc")))
    for s, g, h in zip(samples, got, host):
        r = ref.run(s)
        assert g.keys() == h.keys() == {o["name"] for o in manifest["c"]["outputs"]}
        for k in g:
            np.testing.assert_array_equal(g[k], h[k])
            np.testing.assert_array_equal(g[k], r[k])
    s = arm.size(arm.build(out))
    assert s["arena"] == manifest["memory"]["arena_bytes"]
    assert s["model_flash_bytes"] >= manifest["memory"]["weight_bytes"]
    assert s["model_ram_bytes"] == s["arena"]          # no static state in the model
    _assert_integer_only_imports(arm.build(out))
    _assert_stack_bound_holds(out, samples[:2])


# a SysTick exception taken during the run stacks 8 words plus the handler's frame
INTERRUPT_ALLOWANCE = 64


def _assert_stack_bound_holds(out: Path, samples: list[dict]) -> None:
    bound = arm.size(arm.build(out))["model_stack_bytes"]
    used = arm.measure_stack(out, samples)
    assert bound is not None and 0 < used <= bound + INTERRUPT_ALLOWANCE, (used, bound)


# what a portable integer-only model may take from libc/libgcc: memory copies and the
# integer division / 64-bit shift helpers; no __aeabi_f*/__aeabi_d* (float), malloc, stdio
ALLOWED_IMPORTS = re.compile(r"(memcpy|memset|memmove|__aeabi_(u?idiv(mod)?|u?ldivmod|llsl|llsr|"
                             r"lasr|lmul|mem(cpy|set|clr|move)\d*))")


def _assert_integer_only_imports(elf: Path) -> None:
    bad = [s for s in arm.model_imports(elf) if not ALLOWED_IMPORTS.fullmatch(s)]
    assert not bad, f"model code imports {bad}"


@needs_arm
def test_digits_cnn_stack_measured_on_qemu_is_within_the_static_bound(digits_dir):
    _assert_stack_bound_holds(digits_dir, _digits_samples(2))


def test_stack_usage_from_call_graph(tmp_path):
    ci = tmp_path / "m.ci"
    node = 'node: {{ title: "{0}" label: "{0}\\nm.c:1:1\\n{1} bytes ({2})" }}\n'
    edge = 'edge: {{ sourcename: "{0}" targetname: "{1}" label: "m.c:2:2" }}\n'
    ci.write_text(node.format("m_run", 40, "static") + node.format("m.c:k1", 100, "static")
                  + node.format("m.c:k2", 16, "static") + node.format("m.c:leaf", 200, "static")
                  + edge.format("m_run", "m.c:k1") + edge.format("m_run", "m.c:k2")
                  + edge.format("m.c:k2", "m.c:leaf") + edge.format("m.c:k1", "memcpy"))
    assert arm.stack_usage(tmp_path, "m_run") == 40 + 16 + 200
    assert arm.stack_usage(tmp_path, "other_run") is None
    ci.write_text(ci.read_text().replace("200 bytes (static)", "200 bytes (dynamic)"))
    assert arm.stack_usage(tmp_path, "m_run") is None          # alloca/VLA: unknown
    ci.write_text(ci.read_text() + edge.format("m.c:leaf", "m_run"))
    assert arm.stack_usage(tmp_path, "m_run") is None          # recursion: unknown


@needs_arm
@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m7", "cortex-m33", "cortex-m55"])
def test_digits_cnn_compiles_warning_free_for_other_cortex_m_cores(digits_dir, cpu, tmp_path):
    import subprocess

    for src in ("model.c", "model_weights.c"):
        res = subprocess.run([arm.GCC, f"-mcpu={cpu}", "-mthumb", *arm.CFLAGS, f"-I{digits_dir}",
                              "-c", str(digits_dir / src), "-o", str(tmp_path / "x.o")],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and not res.stderr.strip(), res.stderr


@needs_arm
def test_digits_cnn_model_code_imports_no_float_libc_helpers(digits_dir):
    _assert_integer_only_imports(arm.build(digits_dir))
    assert ALLOWED_IMPORTS.fullmatch("__aeabi_ldivmod")
    assert not ALLOWED_IMPORTS.fullmatch("__aeabi_fmul")
    assert not ALLOWED_IMPORTS.fullmatch("malloc") and not ALLOWED_IMPORTS.fullmatch("__aeabi_d2iz")
