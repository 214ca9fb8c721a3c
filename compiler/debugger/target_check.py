"""``qcc debug --target c|triton``: the first layer whose target output differs from the
reference.

Compiles the model for the target into a scratch folder, runs the samples through the
backend's tracing runner (``trace`` of the backend, lent by the application layer in the
session's :class:`~qcc.debugger.session.Toolchain`; C: the generated code with
``-DQCC_TRACE`` and a hook that writes every step's output, backends/c/tracing.py; Triton:
the generated ``Model`` with a hook after every kernel launch, backends/triton/tracing.py),
and compares each step's output with the reference interpreter's value of the same tensor.
Steps that write one tensor in parts (a concat makes one call per input) are compared at
the last part.  ``QCC_DEBUG_FAULT_STEP=k`` in the environment is a test-only
fault injection: the hook corrupts step k's output before the next step reads it, as a
kernel bug would.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile

import numpy as np

from ..errors import QccError
from ..interp import Interpreter
from ..ir.serialize import load as load_ir


def _last_writes(layers: list[dict]) -> dict[int, dict]:
    last = {}
    for row in layers:
        if row.get("out"):
            last[row["out"]] = row
    return {row["step"]: row for row in last.values()}


def first_divergence(tools, model_path: str, opts, samples: list[dict], out_dir: str) -> dict:
    """{"target", "layers", "samples", "first_mismatch": None | {...}} for ``opts.target``
    (``tools``: the session's Toolchain; ``opts``: the driver's CompileOptions)."""
    traced = tools.traced_targets()
    if opts.target not in traced:
        raise QccError(f"qcc debug --target {opts.target}: the layer-by-layer check is available "
                       f"for {', '.join(traced)} only")
    with tempfile.TemporaryDirectory(prefix="qcc_debug_") as tmp:
        o = copy.copy(opts)
        o.out_dir, o.name = os.path.join(tmp, "artifact"), "model"
        o.options = dict(opts.options, quiet=True)
        tools.compile(model_path, o)
        with open(os.path.join(o.out_dir, "manifest.json")) as f:
            manifest = json.load(f)
        graph = load_ir(os.path.join(o.out_dir, "model.qcc"))
        values = graph.value_map()
        checked = _last_writes(manifest["layers"])
        fault = os.environ.get("QCC_DEBUG_FAULT_STEP")
        runs = tools.trace(o.out_dir, manifest, samples, int(fault) if fault else None)
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
