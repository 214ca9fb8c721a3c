"""Small float models made in the test and quantized with onnxruntime's
``quantize_dynamic``, for the dynamically quantized import (passes/import_dynamic.py)."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def _save(path, nodes, inits, inputs, opset=17):
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def _w(rng, *shape):
    return (rng.standard_normal(shape) / np.sqrt(np.prod(shape[:-1]) if len(shape) == 2
                                                 else np.prod(shape[1:]))).astype(np.float32)


def mlp(path, seed=0):
    rng = np.random.default_rng(seed)
    inits = {"w1": _w(rng, 16, 32), "b1": 0.1 * rng.standard_normal(32).astype(np.float32),
             "w2": _w(rng, 32, 8), "b2": 0.1 * rng.standard_normal(8).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["r1"]), helper.make_node("MatMul", ["r1", "w2"], ["m2"]),
             helper.make_node("Add", ["m2", "b2"], ["y"])]
    return _save(path, nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])])


def cnn(path, seed=0):
    rng = np.random.default_rng(seed)
    inits = {"c1": _w(rng, 8, 3, 3, 3), "b1": 0.1 * rng.standard_normal(8).astype(np.float32),
             "c2": _w(rng, 8, 8, 3, 3), "fc": _w(rng, 8, 4)}
    nodes = [helper.make_node("Conv", ["x", "c1", "b1"], ["v1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["v1"], ["r1"]),
             helper.make_node("Conv", ["r1", "c2"], ["v2"], strides=[2, 2]),
             helper.make_node("Relu", ["v2"], ["r2"]), helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("MatMul", ["f", "fc"], ["y"])]
    return _save(path, nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])])


def embedder(path, seed=0):
    rng = np.random.default_rng(seed)
    inits = {"table": rng.standard_normal((50, 16)).astype(np.float32), "w": _w(rng, 16, 8)}
    nodes = [helper.make_node("Gather", ["table", "x"], ["e"]), helper.make_node("Relu", ["e"], ["r"]),
             helper.make_node("MatMul", ["r", "w"], ["y"])]
    return _save(path, nodes, inits, [helper.make_tensor_value_info("x", TensorProto.INT64, [1, 6])])


def encoder(path, seed=0):
    """A tiny transformer encoder (torch Embedding + TransformerEncoderLayer with GELU),
    exported by torch's TorchScript exporter."""
    import torch

    torch.manual_seed(seed)

    class Enc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(50, 32)
            self.layer = torch.nn.TransformerEncoderLayer(32, 2, 64, dropout=0.0, activation="gelu",
                                                          batch_first=True)

        def forward(self, ids):
            return self.layer(self.emb(ids))

    torch.onnx.export(Enc().eval(), (torch.zeros(1, 6, dtype=torch.long),), path, input_names=["x"],
                      output_names=["y"], dynamo=False, opset_version=17)
    return path


MODELS = {"mlp": mlp, "cnn": cnn, "embedder": embedder, "encoder": encoder}


def data(kind: str, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    if kind in ("embedder", "encoder"):
        return {"x": rng.integers(0, 50, (n, 6)).astype(np.int64)}
    shape = {"mlp": (16,), "cnn": (3, 12, 12)}[kind]
    return {"x": rng.standard_normal((n,) + shape).astype(np.float32)}


def dynamic(float_path: str, out_path: str, **kw) -> str:
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(float_path, out_path, **kw)
    return out_path


def ort_fused(path: str, out_path: str) -> str:
    """onnxruntime's optimizer output (DynamicQuantizeMatMul / MatMulIntegerToFloat)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = out_path
    ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return out_path


def ort_run(path: str, data: dict) -> np.ndarray:
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    n = len(next(iter(data.values())))
    return np.concatenate([s.run(["y"], {k: v[i:i + 1] for k, v in data.items()})[0] for i in range(n)])


def op_types(path: str) -> list[str]:
    return [n.op_type for n in onnx.load(path).graph.node]


def shipped_weights(path: str) -> tuple[dict[str, np.ndarray], int]:
    """The integer weight initializers of a dynamically quantized model whose grid is
    symmetric (int8 with zero point 0, uint8 with zero point 128), as int8 values, and
    how many weights there are in all."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out, total = {}, 0
    for name, a in inits.items():
        if not name.endswith("_quantized") or a.ndim < 2:
            continue
        total += 1
        zp = inits.get(name[:-len("_quantized")] + "_zero_point", np.zeros(1, a.dtype)).astype(np.int64)
        mid = 128 if a.dtype == np.uint8 else 0
        if np.all(zp == mid):
            out[name] = a.astype(np.int16) - mid
    return out, total


def compiled_int8_weights(out_dir: str) -> list[np.ndarray]:
    from qcc.ir.serialize import load

    g = load(os.path.join(out_dir, "model.qcc"))
    return [v.data for v in g.constants.values() if v.data is not None and v.data.ndim >= 2
            and v.dtype.name == "int8"]
