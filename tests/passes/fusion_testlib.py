"""Helpers for the fusion-pass tests: build/export graphs, run, compare."""

from __future__ import annotations

import collections
import io
import os
import warnings

import numpy as np
import onnx

from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
from qcc.passes.pipelines import FLOAT_CLEANUP
from qcc.passmanager import PassContext, PassManager

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def f32(shape) -> TensorType:
    return TensorType(DType.float32, tuple(shape))


def ops(graph: Graph) -> collections.Counter:
    return collections.Counter(n.op for n in graph.nodes)


def feeds_for(graph: Graph, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {v.name: (rng.standard_normal(v.shape) * 2).astype(np.float32) for v in graph.inputs}


def rel_err(a: dict, b: dict) -> float:
    worst = 0.0
    for k in b:
        den = max(float(np.max(np.abs(b[k]))), 1e-30)
        worst = max(worst, float(np.max(np.abs(np.asarray(a[k]) - b[k]))) / den)
    return worst


def check_pass(graph: Graph, passes: list[str], feeds=None, tol: float = 1e-5) -> Graph:
    """Run ``passes``; assert verify() and interpreter outputs within ``tol`` relative,
    and that output names are unchanged."""
    feeds = feeds if feeds is not None else feeds_for(graph)
    names = [v.name for v in graph.outputs]
    ref = run(graph, feeds)
    PassManager(passes).run(graph, PassContext())
    verify(graph)
    assert [v.name for v in graph.outputs] == names
    out = run(graph, feeds)
    assert rel_err(out, ref) <= tol, rel_err(out, ref)
    return graph


def cleaned(path_or_model, shapes=None) -> Graph:
    g = import_model(path_or_model, shapes or {})
    PassManager(FLOAT_CLEANUP).run(g, PassContext())
    return g


def torch_graph(module, shape, opset: int = 14) -> Graph:
    """Export a torch module (dynamo=False) and import + clean it."""
    import torch

    module.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.randn(*shape), buf, opset_version=opset, dynamo=False)
    return cleaned(onnx.load_from_string(buf.getvalue()))
