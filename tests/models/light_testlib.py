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


def logits_name(model: onnx.ModelProto) -> str | None:
    """Input of the Softmax that makes a graph output (the classifier's logits)."""
    outs = {o.name for o in model.graph.output}
    for n in model.graph.node:
        if n.op_type == "Softmax" and n.output[0] in outs:
            return n.input[0]
    return None


def ort_run(model: onnx.ModelProto, feeds: dict, extra: tuple = ()) -> dict:
    """onnxruntime outputs (plus the intermediate values named in ``extra``)."""
    if extra:
        m = onnx.ModelProto()
        m.CopyFrom(model)
        m.graph.output.extend(onnx.ValueInfoProto(name=e) for e in extra)
        model = m
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.log_severity_level = 3
    s = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def qcc_run(model: onnx.ModelProto, feeds: dict, extra: tuple = ()) -> tuple[dict, float]:
    """Outputs of qcc import + interpreter (plus ``extra`` intermediates), and the
    interpreter's run time in seconds."""
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import Interpreter

    g = import_model(model)
    it = Interpreter(g)
    t0 = time.perf_counter()
    out = it.run(feeds, capture=list(extra) if extra else False)
    return out, time.perf_counter() - t0


def _diff(got: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    g = np.asarray(got, np.float64)
    assert g.shape == ref.shape, (g.shape, ref.shape)
    d = float(np.max(np.abs(g - ref)))
    return d, d / max(float(np.max(np.abs(ref))), 1e-30)


def compare(name: str, randomized: bool) -> dict:
    """max abs / relative difference of qcc vs onnxruntime on one light model, for the
    outputs and for the logits (the input of the final Softmax).

    ``out_bound`` is how far the Softmax outputs may drift given the logits' drift d
    (each probability moves by at most a factor exp(2d)): the all-0.02 SqueezeNet has
    logits near 6.7e9 whose float32 sums differ in the last bit between engines, which
    a Softmax amplifies without bound; the logits still agree to 1e-7 relative."""
    model = onnx.load(path_of(name))
    if randomized:
        model = randomize(model)
    feeds = feeds_for(model)
    logits = logits_name(model)
    extra = (logits,) if logits else ()
    ref = ort_run(model, feeds, extra)
    got, seconds = qcc_run(model, feeds, extra)
    res = {"max_abs": 0.0, "max_rel": 0.0, "seconds": seconds,
           "spread": float(max(np.ptp(ref[o.name]) for o in model.graph.output))}
    for o in model.graph.output:
        d, r = _diff(got[o.name], ref[o.name])
        res["max_abs"], res["max_rel"] = max(res["max_abs"], d), max(res["max_rel"], r)
    res["out_bound"] = 1e-5
    if logits:
        res["logits_abs"], res["logits_rel"] = _diff(got[logits], ref[logits])
        res["out_bound"] = max(1e-5, float(np.expm1(min(2 * res["logits_abs"], 50.0))))
    return res
