"""``qcc debug --target c|triton``: the first layer whose target output differs from the
reference.

Compiles the model for the target into a scratch folder, runs the samples through a
tracing runner (C: the generated code with ``-DQCC_TRACE`` and a hook that writes every
step's output; Triton: the generated ``Model`` with a hook called after every kernel
launch, which reads the launch's output from the workspace, on CUDA when torch sees a GPU,
else under the interpreter), and compares each step's output with the reference interpreter's value of the
same tensor.  Steps that write one tensor in parts (a concat makes one call per input) are
compared at the last part.  ``QCC_DEBUG_FAULT_STEP=k`` in the environment is a test-only
fault injection: the hook corrupts step k's output before the next step reads it, as a
kernel bug would.  Application layer (it drives the compiler and the target's toolchain).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile

import numpy as np

from .driver import CompileOptions, compile_model
from .errors import BuildError, QccError
from .interp import Interpreter
from .ir.serialize import load as load_ir

TRACE_C = r"""/* qcc debug's tracing hook: every step's output, appended to $QCC_TRACE_FILE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void qcc_trace_step(int step, void *out, size_t bytes);

static FILE *qcc_trace_file;

void qcc_trace_step(int step, void *out, size_t bytes)
{
    int32_t head[2];
    if (qcc_trace_file == NULL) {
        const char *path = getenv("QCC_TRACE_FILE");
        qcc_trace_file = fopen(path != NULL ? path : "qcc_trace.bin", "wb");
        if (qcc_trace_file == NULL)
            return;
    }
#ifdef QCC_FAULT_STEP
    if (step == QCC_FAULT_STEP && bytes > 0)
        ((unsigned char *)out)[0] ^= 0x5a;
#endif
    head[0] = step;
    head[1] = (int32_t)bytes;
    fwrite(head, sizeof head, 1, qcc_trace_file);
    fwrite(out, 1, bytes, qcc_trace_file);
    fflush(qcc_trace_file);
}
"""
TRACED_TARGETS = ("c", "triton")


def _records(data: bytes) -> list[list[tuple[int, bytes]]]:
    """Trace bytes -> one list of (step, payload) per sample (a sample restarts at step 0)."""
    runs, pos = [], 0
    while pos + 8 <= len(data):
        step, n = np.frombuffer(data[pos:pos + 8], "<i4")
        payload = data[pos + 8:pos + 8 + int(n)]
        pos += 8 + int(n)
        if step == 0 or not runs:
            runs.append([])
        runs[-1].append((int(step), payload))
    return runs


def _trace(out_dir: str, manifest: dict, samples: list[dict], tmp: str) -> list:
    from qcc.backends.c.build import build, pack_inputs

    hook = os.path.join(tmp, "qcc_trace.c")
    with open(hook, "w") as f:
        f.write(TRACE_C)
    flags = ["-DQCC_TRACE", hook]
    fault = os.environ.get("QCC_DEBUG_FAULT_STEP")
    if fault:
        flags.append(f"-DQCC_FAULT_STEP={int(fault)}")
    binary = build(out_dir, extra_cflags=flags)
    fin, fout, ftrace = (os.path.join(tmp, n) for n in ("in.bin", "out.bin", "trace.bin"))
    with open(fin, "wb") as f:
        f.write(pack_inputs(manifest, samples))
    r = subprocess.run([binary, fin, fout], capture_output=True, text=True,
                       env=dict(os.environ, QCC_TRACE_FILE=ftrace))
    if r.returncode != 0:
        raise BuildError(f"target c: the tracing runner failed (exit {r.returncode}): "
                         f"{(r.stderr or r.stdout).strip()[:300]}")
    with open(ftrace, "rb") as f:
        return _records(f.read())


def _trace_triton(out_dir: str, manifest: dict, samples: list[dict]) -> list:
    """One list of (step, output bytes) per sample, read from the workspace after each
    launch (the manifest's ``out_offset``/``out_bytes``); the fault injection corrupts the
    first byte of step k's output before the next launch reads it."""
    import torch

    from qcc.backends.triton import default_device, load_model

    model = load_model(out_dir, manifest, default_device())
    fault = os.environ.get("QCC_DEBUG_FAULT_STEP")
    fault = int(fault) if fault else None
    rows = {r["step"]: r for r in manifest["layers"] if "out_offset" in r}
    runs = []
    for sample in samples:
        recs: list = []

        def hook(step, recs=recs):
            row = rows.get(step)
            if row is None:
                return
            view = model.ws[row["out_offset"]:row["out_offset"] + row["out_bytes"]]
            if step == fault and row["out_bytes"]:
                view[0] = view[0] ^ 0x5A
            recs.append((step, view.cpu().numpy().tobytes()))

        model({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sample.items()},
              trace=hook)
        runs.append(recs)
    return runs


def _last_writes(layers: list[dict]) -> dict[int, dict]:
    last = {}
    for row in layers:
        if row.get("out"):
            last[row["out"]] = row
    return {row["step"]: row for row in last.values()}


def first_divergence(model_path: str, opts: CompileOptions, samples: list[dict],
                     out_dir: str) -> dict:
    """{"target", "layers", "samples", "first_mismatch": None | {...}} for ``opts.target``."""
    if opts.target not in TRACED_TARGETS:
        raise QccError(f"qcc debug --target {opts.target}: the layer-by-layer check is available "
                       f"for {', '.join(TRACED_TARGETS)} only")
    with tempfile.TemporaryDirectory(prefix="qcc_debug_") as tmp:
        o = copy.copy(opts)
        o.out_dir, o.name = os.path.join(tmp, "artifact"), "model"
        o.options = dict(opts.options, quiet=True)
        compile_model(model_path, o)
        with open(os.path.join(o.out_dir, "manifest.json")) as f:
            manifest = json.load(f)
        graph = load_ir(os.path.join(o.out_dir, "model.qcc"))
        values = graph.value_map()
        checked = _last_writes(manifest["layers"])
        runs = (_trace(o.out_dir, manifest, samples, tmp) if opts.target == "c"
                else _trace_triton(o.out_dir, manifest, samples))
        ref = Interpreter(graph)
        for k, (feeds, run) in enumerate(zip(samples, runs)):
            want = ref.run(feeds, capture=True)
            for step, payload in run:
                row = checked.get(step)
                if row is None or row["out"] not in want:
                    continue
                v = values[row["out"]]
                exp = np.asarray(want[row["out"]]).astype(v.dtype.np).ravel()
                got = np.frombuffer(payload, v.dtype.np)[:exp.size]
                bad = np.flatnonzero(got != exp)
                if bad.size or got.size != exp.size:
                    i = int(bad[0]) if bad.size else int(got.size)
                    return {"target": opts.target, "layers": len(checked), "samples": len(samples),
                            "first_mismatch": {
                                "sample": k, "step": step, "node": row["node"], "op": row["op"],
                                "kernel": row.get("kernel"), "tensor": row["out"], "index": i,
                                "target_value": int(got[i]) if i < got.size else None,
                                "reference_value": int(exp[i]) if i < exp.size else None}}
    return {"target": opts.target, "layers": len(checked), "samples": len(samples),
            "first_mismatch": None}
