"""The memory plans of real models, replayed from the emitted C (qcc.lower.memplan.check_schedule
over the arena offsets that NAME.c really uses)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qcc.lower.memplan import STRATEGIES, Access, MemoryPlanError, check_schedule


# ------------------------------------------- the plans of real models, replayed from the emitted C
ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = {"digits_cnn": ("digits_cnn.onnx", []),
            "mobilenet_small": ("mobilenet_small.onnx", []),
            "tiny_bert": ("tiny_bert_opset17.onnx",
                          ["--input-shape", "input_ids=1x32",
                           "--input-shape", "attention_mask=1x32"])}
ARENA_REF = re.compile(r"\barena \+ (\d+)\)")


def _compile_example(name: str, out: Path) -> Path:
    from qcc.cli import main

    onnx_file, extra = EXAMPLES[name]
    d = ROOT / "examples" / name
    assert main(["compile", str(d / onnx_file), "--calib", str(d / "calib.npz"),
                 "--max-calib-samples", "8", "--target", "c", "-o", str(out), "--quiet",
                 *extra]) == 0
    return out


def _compile_light(name: str, out: Path) -> Path:
    from qcc.bench.models import light
    from qcc.cli import main

    m = light(name, n_calib=1, n_test=1)
    np.savez(out.parent / "calib.npz", **m.calib)
    assert main(["compile", m.path, "--calib", str(out.parent / "calib.npz"), "--target", "c",
                 "-o", str(out), "--quiet", "--allow-float", ",".join(m.allow_float)]) == 0
    return out


def emitted_schedule(out: Path):
    """The arena operands of every kernel call of a compiled C folder, and its in-place steps.

    The program is rebuilt from ``model.qcc`` and must match the emitted ``NAME.c``
    offset for offset.  A tensor's data identity follows the graph, not the
    planner: a value no kernel writes (a view: Reshape, Flatten, ...) reads the
    data of its producer's first input.
    """
    from qcc.backends.c.program import build_program
    from qcc.ir.serialize import load

    manifest = json.loads((out / "manifest.json").read_text())
    name = manifest["c"]["name"]
    prog = build_program(load(str(out / "model.qcc")), name)
    written = {id(a.value) for s in prog.steps for a in s.args if a.kind == "val" and a.write}

    def data(v):
        while id(v) not in written and v.producer is not None and v.producer.inputs:
            v = v.producer.inputs[0]
        return v.name

    steps, refs = [], []
    for i, s in enumerate(prog.steps):
        accs = []
        for a, c in zip(s.args, s.cargs):
            m = ARENA_REF.search(c)
            if m is None:
                continue
            refs.append(int(m[1]))
            size = s.scratch if a.kind == "scratch" else a.value.type.nbytes
            tag = f"scratch.{i}" if a.kind == "scratch" else data(a.value)
            accs.append(Access(tag, int(m[1]), size, a.write or a.kind == "scratch"))
        steps.append(accs)
    source = (out / manifest["files"]["source"]).read_text()
    # the schedule function: NAME_run, or NAME_run_<variant> under run-time dispatch (QCC_RUN_FN)
    body = source[re.search(r"^int QCC_RUN_FN\(.*\)\n\{", source, re.M).start():]
    body = "\n".join(ln for ln in body.splitlines() if "QCC_TRACE_STEP" not in ln)  # calls only
    assert [int(x) for x in ARENA_REF.findall(body)] == refs, "NAME.c differs from model.qcc"
    inplace = {i for i, s in enumerate(prog.steps) if s.inplace_of is not None}
    return manifest, steps, inplace


def schedule_lower_bound(steps: list[list[Access]], align: int = 16) -> int:
    """Max aligned bytes live at one step, from the replayed calls alone (in place: once)."""
    span: dict[str, list[int]] = {}
    size: dict[str, int] = {}
    late: set[str] = set()
    for i, accs in enumerate(steps):
        for a in accs:
            span.setdefault(a.data, [i, i])[1] = i
            size[a.data] = max(size.get(a.data, 0), -(-a.size // align) * align)
    for i, accs in enumerate(steps):
        for w in (a for a in accs if a.write and span[a.data][0] == i):
            if any(not r.write and r.offset == w.offset and span[r.data][1] == i
                   and r.data != w.data for r in accs):
                late.add(w.data)
    live = [0] * (len(steps) + 1)
    for d, (lo, hi) in span.items():
        for i in range(lo + (d in late), hi + 1):
            live[i] += size[d]
    return max(live, default=0)


def _assert_plan_of_emitted_c(out: Path) -> dict:
    manifest, steps, inplace = emitted_schedule(out)
    mem = manifest["memory"]
    check_schedule(mem["arena_bytes"], steps, inplace)
    assert mem["lower_bound"] == schedule_lower_bound(steps)
    assert mem["lower_bound"] <= mem["arena_bytes"]
    name = manifest["c"]["name"].upper()
    header = (out / manifest["files"]["header"]).read_text()
    macro = re.search(rf"#define {name}_ARENA_SIZE (\d+)u?\b", header)
    assert macro and int(macro[1]) == mem["arena_bytes"]
    return mem


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_examples_emitted_plans_never_overlap_live_tensors(name, tmp_path):
    mem = _assert_plan_of_emitted_c(_compile_example(name, tmp_path / "c"))
    assert mem["arena_bytes"] > 0 and mem["strategy"] in STRATEGIES


def test_light_squeezenet_emitted_plan(tmp_path):
    mem = _assert_plan_of_emitted_c(_compile_light("squeezenet", tmp_path / "c"))
    assert mem["arena_bytes"] > 500_000


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shufflenet", "densenet121", "inception_v2", "resnet50"])
def test_light_models_emitted_plans(name, tmp_path):
    mem = _assert_plan_of_emitted_c(_compile_light(name, tmp_path / "c"))
    assert mem["arena_bytes"] <= 1.02 * mem["lower_bound"]   # all at the bound when measured


def test_a_corrupted_emitted_plan_is_caught(tmp_path):
    out = _compile_example("mobilenet_small", tmp_path / "c")
    manifest, steps, inplace = emitted_schedule(out)
    # the first (not in-place) call reading one arena tensor and writing another: move its
    # output onto its input, as a planner that got a lifetime wrong would
    for i, accs in enumerate(steps):
        w = next((a for a in accs if a.write and a.size), None)
        r = next((a for a in accs
                  if not a.write and a.size and a.offset != (w.offset if w else -1)), None)
        if w is not None and r is not None and i not in inplace:
            steps[i] = [Access(a.data, r.offset, a.size, True) if a is w else a for a in accs]
            break
    else:
        pytest.fail("mobilenet_small has no call reading and writing the arena")
    with pytest.raises(MemoryPlanError, match=f"step {i} writes '{w.data}'.* over '{r.data}'"):
        check_schedule(max(manifest["memory"]["arena_bytes"], r.offset + w.size), steps, inplace)
