"""Helpers for the mixed-precision tests: a small CNN built here, digits paths."""

from __future__ import annotations

import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from qcc.frontend.onnx_import import import_model
import qcc.passes  # noqa: F401  (registers the passes)
from qcc.passmanager import PassContext, PassManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits_cnn")
# HAWQ-V3 ResNet18 ILP inputs and published configurations (source and licence: data/README.md)
HAWQ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "hawq_resnet18_ilp.json")
FUSE = ["calibrate", "fold-batchnorm", "fuse-linear", "fuse-activation", "dce"]


def small_cnn(seed: int = 0):
    """x[1,3,8,8] -> conv a (8) -> relu -> {conv b (8), conv c (8)} (both read relu's
    output) -> add -> global pool -> flatten -> matmul (8x10) + bias: 4 layers,
    b and c share an input.  Weights of different scales so sensitivities differ."""
    rng = np.random.default_rng(seed)

    def t(name, shape, scale):
        w = (rng.standard_normal(shape) * scale).astype(np.float32)
        w.flat[0] = 4 * scale * np.sign(w.flat[0] or 1)  # an outlier per tensor
        return numpy_helper.from_array(w, name)

    inits = [t("wa", (8, 3, 3, 3), 0.3), t("wb", (8, 8, 3, 3), 0.1), t("wc", (8, 8, 1, 1), 0.4),
             t("wfc", (8, 10), 0.5), numpy_helper.from_array(np.zeros(10, np.float32), "bfc")]
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["ya"], name="conv_a", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["ya"], ["ra"], name="relu_a"),
        helper.make_node("Conv", ["ra", "wb"], ["yb"], name="conv_b", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["ra", "wc"], ["yc"], name="conv_c"),
        helper.make_node("Add", ["yb", "yc"], ["s"], name="add"),
        helper.make_node("GlobalAveragePool", ["s"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "wfc"], ["m"], name="fc"),
        helper.make_node("Add", ["m", "bfc"], ["logits"], name="fc_bias"),
    ]
    g = helper.make_graph(nodes, "small_cnn",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def calib_for(model, n: int = 16, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((n, 3, 8, 8)).astype(np.float32)}


def fused_graph(model, calib: dict, **options):
    """The calibrated, fused float graph (what assign-bits sees) and its context."""
    graph = import_model(model)
    ctx = PassContext(options=dict(calib=calib, quiet=True, **options))
    PassManager(FUSE).run(graph, ctx)
    return graph, ctx
