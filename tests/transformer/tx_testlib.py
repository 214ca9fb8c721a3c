"""Helpers of the transformer tests: a small BERT-style encoder built with
onnx.helper, compile-in-memory through the quantizing pipeline, cosine."""

from __future__ import annotations

import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qcc.frontend.onnx_import import import_model
from qcc.ir import Graph
from qcc.passes.pipelines import pipeline_for
from qcc.passmanager import PassContext, PassManager

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_BERT = os.path.join(ROOT, "examples", "tiny_bert")


class _B:
    def __init__(self, seed: int):
        self.nodes, self.inits, self.rng, self.n = [], [], np.random.default_rng(seed), 0

    def c(self, arr, dtype=np.float32) -> str:
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype), name))
        return name

    def op(self, op: str, ins: list, **attrs) -> str:
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op, ins, [out], name=f"{op}_{self.n}", **attrs))
        return out

    def linear(self, x: str, k: int, n: int) -> str:
        w = self.rng.normal(0, 1 / math.sqrt(k), size=(k, n))
        b = self.rng.normal(0, 0.1, size=n)
        return self.op("Add", [self.op("MatMul", [x, self.c(w)]), self.c(b)])

    def layernorm(self, x: str, h: int, decomposed: bool) -> str:
        g, b = self.c(1 + 0.1 * self.rng.normal(size=h)), self.c(0.1 * self.rng.normal(size=h))
        if not decomposed:
            return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-12)
        d = self.op("Sub", [x, self.op("ReduceMean", [x], axes=[-1])])
        var = self.op("ReduceMean", [self.op("Pow", [d, self.c(2.0)])], axes=[-1])
        den = self.op("Sqrt", [self.op("Add", [var, self.c(1e-12)])])
        return self.op("Add", [self.op("Mul", [self.op("Div", [d, den]), g]), b])

    def gelu(self, x: str) -> str:
        e = self.op("Erf", [self.op("Div", [x, self.c(1.4142135)])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, self.c(1.0)])]), self.c(0.5)])


def encoder_onnx(path: str, seq: int = 8, hidden: int = 16, heads: int = 2, ffn: int = 32,
                 layers: int = 1, opset: int = 17, seed: int = 0) -> str:
    """x f32 [1, seq, hidden] + attention_mask i64 [1, seq] -> post-LN encoder output."""
    b = _B(seed)
    dh = hidden // heads
    m = b.op("Unsqueeze", ["attention_mask", b.c([1, 2], np.int64)])
    mask_add = b.op("Mul", [b.op("Sub", [b.c(1.0), b.op("Cast", [m], to=TensorProto.FLOAT)]),
                            b.c(-10000.0)])
    h = b.layernorm("x", hidden, opset < 17)
    split = b.c([1, seq, heads, dh], np.int64)
    for _ in range(layers):
        q, k, v = (b.op("Reshape", [b.linear(h, hidden, hidden), split]) for _ in range(3))
        q = b.op("Transpose", [q], perm=[0, 2, 1, 3])
        k = b.op("Transpose", [k], perm=[0, 2, 3, 1])
        v = b.op("Transpose", [v], perm=[0, 2, 1, 3])
        s = b.op("Div", [b.op("MatMul", [q, k]), b.c(math.sqrt(dh))])
        p = b.op("Softmax", [b.op("Add", [s, mask_add])], axis=-1)
        ctx = b.op("Transpose", [b.op("MatMul", [p, v])], perm=[0, 2, 1, 3])
        ctx = b.op("Reshape", [ctx, b.c([1, seq, hidden], np.int64)])
        h = b.layernorm(b.op("Add", [h, b.linear(ctx, hidden, hidden)]), hidden, opset < 17)
        f = b.linear(b.gelu(b.linear(h, hidden, ffn)), ffn, hidden)
        h = b.layernorm(b.op("Add", [h, f]), hidden, opset < 17)
    b.nodes.append(helper.make_node("Identity", [h], ["y"], name="out"))
    g = helper.make_graph(b.nodes, "enc", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, seq])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, hidden])], b.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def encoder_data(n: int, seq: int = 8, hidden: int = 16, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, seq + 1, size=n)
    mask = (np.arange(seq)[None] < lengths[:, None]).astype(np.int64)
    return {"x": rng.normal(0, 1, size=(n, seq, hidden)).astype(np.float32), "attention_mask": mask}


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
