"""The architecture models of onnx/backend/test/data/light, run by qcc and onnxruntime.

The "light" files build every weight with ConstantOfShape (all 0.02), so each
output channel of a layer is the same and the final Softmax is uniform: a
comparison of outputs alone would miss most bugs.  ``randomize`` therefore
also makes a variant whose ConstantOfShape weights become deterministic
random initializers (fan-in scaled; 1-D parameters in [0.5, 1.5] so that
BatchNormalization variances stay positive).  Both the original and the
randomized model are compared with onnxruntime.
"""

from __future__ import annotations

import os
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
                "shufflenet", "squeezenet", "vgg19", "zfnet512"]


def path_of(name: str) -> str:
    return os.path.join(LIGHT, f"light_{name}.onnx")


def randomize(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """A copy whose constant-shaped ConstantOfShape weights are random initializers."""
    rng = np.random.default_rng(seed)
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = []
    for n in m.graph.node:
        if n.op_type != "ConstantOfShape" or n.input[0] not in consts:
            keep.append(n)
            continue
        shape = tuple(int(d) for d in consts[n.input[0]])
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            w = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / fan_in)
        else:
            w = rng.uniform(0.5, 1.5, shape)
        m.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), n.output[0]))
        # IR version 3 files list every initializer as a graph input too
        m.graph.input.append(onnx.helper.make_tensor_value_info(
            n.output[0], onnx.TensorProto.FLOAT, list(shape)))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def feeds_for(model: onnx.ModelProto, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    out = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        shape = [d.dim_value if d.dim_value > 0 else 1 for d in vi.type.tensor_type.shape.dim]
        out[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def ort_run(model: onnx.ModelProto, feeds: dict) -> dict:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.log_severity_level = 3
    s = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def qcc_run(model: onnx.ModelProto, feeds: dict) -> tuple[dict, float]:
    """Outputs of qcc import + interpreter, and the interpreter's run time in seconds."""
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import Interpreter

    g = import_model(model)
    it = Interpreter(g)
    t0 = time.perf_counter()
    out = it.run(feeds)
    return out, time.perf_counter() - t0


def compare(name: str, randomized: bool) -> dict:
    """max abs / relative difference of qcc vs onnxruntime on one light model."""
    model = onnx.load(path_of(name))
    if randomized:
        model = randomize(model)
    feeds = feeds_for(model)
    ref = ort_run(model, feeds)
    got, seconds = qcc_run(model, feeds)
    worst_abs, worst_rel = 0.0, 0.0
    for k, r in ref.items():
        g = np.asarray(got[k], np.float64)
        assert g.shape == r.shape, (k, g.shape, r.shape)
        d = float(np.max(np.abs(g - r)))
        worst_abs = max(worst_abs, d)
        worst_rel = max(worst_rel, d / max(float(np.max(np.abs(r))), 1e-30))
    return {"max_abs": worst_abs, "max_rel": worst_rel, "seconds": seconds,
            "spread": float(max(np.ptp(r) for r in ref.values()))}
