"""``qcc inspect``'s per-target verdict: will the model compile, and what stops it.

The verdict is the compiler's own answer, not a guess from op names: the model is
compiled for each target into a scratch folder (float ONNX; quantized ONNX and C
with calibration data: the user's ``--calib`` or, without it, a few synthetic
samples: standard normal floats, zero integers, which is enough to find every node
without an integer lowering or a C kernel, though ranges differ from real data).
Each failure is the compile's one-line error, with the node names it reports.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import Optional

import numpy as np

from .errors import QccError
from .ir import Graph

TARGETS = [("onnx", False), ("onnx --calib", True), ("c", True)]


def synthetic_calib(graph: Graph, path: str, n: int = 4) -> None:
    rng = np.random.default_rng(0)
    arrays = {}
    for v in graph.inputs:
        shape = (n,) + tuple(v.shape[1:]) if v.shape else (n,)
        if v.dtype.is_float:
            arrays[v.name] = rng.standard_normal(shape).astype(v.dtype.np)
        else:
            arrays[v.name] = np.zeros(shape, v.dtype.np)
    np.savez(path, **arrays)


def _nodes_named(err: QccError) -> list[str]:
    nodes = getattr(err, "nodes", None)
    if nodes:
        return list(nodes)
    return re.findall(r"node '([^']+)'", str(err))


def target_verdicts(model_path: str, graph: Graph, shapes: dict,
                    calib: Optional[str] = None) -> dict:
    """{target: {"ok": bool, "why": str, "nodes": [...]}} for the targets of TARGETS."""
    from .driver import CompileOptions, compile_model

    work = tempfile.mkdtemp(prefix="qcc_inspect_")
    try:
        if calib is None:
            calib = os.path.join(work, "calib.npz")
            synthetic_calib(graph, calib)
        out = {}
        for label, quant in TARGETS:
            target = label.split()[0]
            opts = {"quiet": True, "quantize": quant}
            if quant:
                opts["calib"] = calib
            try:
                compile_model(model_path, CompileOptions(target=target, out_dir=os.path.join(work, "o"),
                                                         input_shapes=shapes, options=opts))
                out[label] = {"ok": True, "why": "", "nodes": []}
            except QccError as e:
                out[label] = {"ok": False, "why": str(e), "nodes": _nodes_named(e)}
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)
