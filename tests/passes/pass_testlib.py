"""Helpers for the tests of the float clean-up passes (constant-fold, dce,
shape-fold, canonicalize): run one pass, verify the IR, compare outputs."""

from __future__ import annotations

import collections
import functools
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from qcc.frontend.onnx_export import to_onnx
from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
import qcc.passes  # noqa: F401  (registers the passes)
from qcc.passmanager import PassContext, get_pass

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = ["squeezenet", "shufflenet"]  # small; Dropout/Concat and Gemm/Reshape between them
TOL = 1e-5


def f32(*shape) -> TensorType:
    return TensorType(DType.float32, shape)


def ops(graph: Graph) -> collections.Counter:
    return collections.Counter(n.op for n in graph.nodes)


def rel_err(a: dict, b: dict) -> float:
    worst = 0.0
    for k in b:
        x, y = np.asarray(a[k], np.float64), np.asarray(b[k], np.float64)
        assert x.shape == y.shape, (k, x.shape, y.shape)
        den = max(float(np.max(np.abs(y))), 1e-30)
        worst = max(worst, float(np.max(np.abs(x - y))) / den)
    return worst


def feeds_for(graph: Graph, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {v.name: rng.standard_normal(v.shape).astype(v.dtype.np) for v in graph.inputs}


def apply(graph: Graph, name: str) -> tuple[bool, dict]:
    """Run pass ``name`` once; return (changed, its report)."""
    ctx = PassContext()
    changed = get_pass(name).fn(graph, ctx)
    return changed is None or bool(changed), ctx.report.get(name, {})


def check_pass(graph: Graph, name: str, feeds=None, tol: float = TOL) -> tuple[bool, dict]:
    """Pass ``name`` keeps the interpreter's outputs (relative ``tol``), the output
    names, and a verified IR."""
    feeds = feeds if feeds is not None else feeds_for(graph)
    verify(graph)
    names = [v.name for v in graph.outputs]
    ref = run(graph, feeds)
    res = apply(graph, name)
    verify(graph)
    assert [v.name for v in graph.outputs] == names
    assert rel_err(run(graph, feeds), ref) <= tol
    return res


def model_graph(nodes, inputs, outputs, inits=(), opset=17, fold=False) -> Graph:
    """Import a small onnx.helper graph, unfolded by default (so passes see the raw form)."""
    m = helper.make_model(helper.make_graph(nodes, "t", inputs, outputs, list(inits)),
                          opset_imports=[helper.make_opsetid("", opset)])
    return import_model(m, fold=fold)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def ort_outputs(model: onnx.ModelProto, feeds: dict) -> dict:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    s = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


@functools.lru_cache(maxsize=None)
def _light_reference(name: str):
    path = os.path.join(LIGHT, f"light_{name}.onnx")
    g = import_model(path)
    feeds = feeds_for(g, seed=1)
    return path, feeds, ort_outputs(onnx.load(path), feeds)


def check_pass_on_light(name: str, pass_name: str, prepare=None) -> tuple[Graph, bool, dict]:
    """Import light model ``name``, run one pass, verify; onnxruntime on the exported
    stage must agree with onnxruntime on the original file (relative 1e-5).

    onnxruntime (not the interpreter) keeps this fast; the interpreter version is
    the slow test in test_passmanager.py.  ``prepare(graph)`` may edit the imported
    graph first (add dead code, an Identity ...) without changing its outputs.
    """
    path, feeds, ref = _light_reference(name)
    g = import_model(path)
    if prepare is not None:
        prepare(g)
    verify(g)
    before = ort_outputs(to_onnx(g), feeds)  # every stage's export must load and run
    assert rel_err(before, ref) <= TOL
    changed, report = apply(g, pass_name)
    verify(g)
    assert rel_err(ort_outputs(to_onnx(g), feeds), ref) <= TOL
    return g, changed, report
