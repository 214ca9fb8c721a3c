"""Helpers for the sub-8-bit / channel-pass tests: small graphs built here."""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qcc.frontend.onnx_import import import_model
from qcc.interp import Interpreter, run
import qcc.passes  # noqa: F401  (registers the passes)
from qcc.passmanager import PassContext, PassManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits_cnn")
BERT = os.path.join(ROOT, "examples", "tiny_bert")
LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
CLEANUP = ["shape-fold", "constant-fold", "canonicalize", "dce"]
FUSION = ["fold-batchnorm", "fuse-linear", "fuse-gelu", "fuse-layernorm", "fuse-hardswish",
          "fuse-silu", "fuse-activation", "dce"]


def minmax_ranges(graph, samples):
    it = Interpreter(graph)
    ranges = {}
    for s in samples:
        for k, a in it.run(s, capture=True).items():
            if a.dtype.kind == "f" and a.size:
                lo, hi = float(a.min()), float(a.max())
                o = ranges.get(k, (lo, hi))
                ranges[k] = (min(o[0], lo), max(o[1], hi))
    return ranges


def onnx_model(nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
                          [numpy_helper.from_array(np.asarray(a, np.float32), k) for k, a in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def mlp(k=64, hidden=128, n=16, outlier_rows=(), outlier_cols=(), seed=0, relu=True):
    """x[4, k] -> MatMul W1 (+b1) -> Relu -> MatMul W2 (+b2): planted outliers in W1's
    output columns (hidden channels with large activations) and W2's rows."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.2, (k, hidden))
    w2 = rng.normal(0, 0.2, (hidden, n))
    for j in outlier_cols:
        w1[:, j] *= 12.0
    for j in outlier_rows:
        w2[j] *= 12.0
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"]), helper.make_node("Add", ["h0", "b1"], ["h1"]),
             helper.make_node("Relu" if relu else "Identity", ["h1"], ["h"]),
             helper.make_node("MatMul", ["h", "w2"], ["y0"]), helper.make_node("Add", ["y0", "b2"], ["y"])]
    inits = {"w1": w1, "b1": rng.normal(0, 0.1, hidden), "w2": w2, "b2": rng.normal(0, 0.1, n)}
    return onnx_model(nodes, [("x", [4, k])], [("y", [4, n])], inits)


def convnet(seed=0, c=16):
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("MatMul", ["f", "fc"], ["y"])]
    w1 = rng.normal(0, 0.3, (c, 3, 3, 3))
    w1[3] *= 10.0  # an outlier output channel
    inits = {"w1": w1, "b1": rng.normal(0, 0.1, c), "w2": rng.normal(0, 0.2, (8, c, 3, 3)),
             "b2": rng.normal(0, 0.1, 8), "fc": rng.normal(0, 0.3, (8, 5))}
    return onnx_model(nodes, [("x", [2, 3, 8, 8])], [("y", [2, 5])], inits)


def prepared(model, data: dict, shapes=None, **options):
    """Imported, cleaned, calibrated (minmax) and fused graph + its PassContext."""
    g = import_model(model, shapes)
    ctx = PassContext(options=dict(calib=data, calib_method="minmax", quiet=True, **options))
    PassManager(CLEANUP + ["calibrate"] + FUSION).run(g, ctx)
    return g, ctx


def rel_err(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(np.asarray(a[k], np.float64) - b[k])) / max(np.max(np.abs(b[k])), 1e-30))
               for k in b)


def outputs(graph, feeds):
    return [run(graph, f) for f in feeds]
