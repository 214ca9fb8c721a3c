"""Helpers of the transformer tests: small encoders built with onnx.helper
(qcc.bench.transformer_models), compile-in-memory through the quantizing
pipeline, cosine."""

from __future__ import annotations

import os

import numpy as np

from qcc.bench.transformer_models import encoder_data, encoder_onnx  # noqa: F401
from qcc.frontend.onnx_import import import_model
from qcc.ir import Graph
from qcc.passes.pipelines import pipeline_for
from qcc.passmanager import PassContext, PassManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_BERT = os.path.join(ROOT, "examples", "tiny_bert")


def compile_graph(path: str, calib: dict, shapes=None, **options) -> tuple[Graph, PassContext]:
    g = import_model(path, shapes or {})
    ctx = PassContext(options=dict(calib=calib, quantize=True, quiet=True, target="onnx", **options))
    PassManager(pipeline_for("onnx", True)).run(g, ctx)
    return g, ctx


def samples(data: dict) -> list[dict]:
    n = next(iter(data.values())).shape[0]
    return [{k: v[i:i + 1] for k, v in data.items()} for i in range(n)]


def cosine(a, b) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
