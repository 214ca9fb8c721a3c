"""Benchmark model zoo: the bundled examples and the onnx package's light models.

Each entry gives the ONNX path, calibration and test inputs (the ``.npz``
convention) and, for the examples, labels.  The light models ship no input
data, so calibration/test inputs are seeded uniform noise in [0, 1) — their
weights are synthetic too (built by ConstantOfShape), so their numbers say how
faithfully the integer arithmetic follows the float model, not task accuracy.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = ["squeezenet", "resnet50", "shufflenet", "densenet121", "inception_v1",
                "inception_v2", "bvlc_alexnet", "zfnet512", "vgg19"]


@dataclass
class BenchModel:
    name: str
    path: str
    calib: dict
    test: dict
    labels: Optional[np.ndarray] = None
    input_shapes: list = field(default_factory=list)  # --input-shape specs
    kind: str = "classifier"  # classifier | encoder
    allow_float: list = field(default_factory=list)
    output: Optional[str] = None  # the output that is scored (default: the first)
    synthetic: bool = False  # synthetic weights and inputs: only SQNR / max error mean anything
    bind: dict = field(default_factory=dict)  # --bind: inputs fixed at compile time


def _load(path: str) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def example(name: str) -> Optional[BenchModel]:
    d = os.path.join(EXAMPLES, name)
    meta_path = os.path.join(d, "meta.json")
    if not os.path.isfile(meta_path):
        return None
    with open(meta_path) as f:
        meta = json.load(f)
    labels = os.path.join(d, "test_labels.npy")
    # one model file ("model"), or several exports of one network ("models": the newest opset)
    model = meta.get("model") or (sorted(meta["models"])[-1] if meta.get("models") else f"{name}.onnx")
    outputs = list(meta.get("outputs", {}))
    return BenchModel(
        name=name, path=os.path.join(d, model),
        calib=_load(os.path.join(d, "calib.npz")), test=_load(os.path.join(d, "test.npz")),
        labels=np.load(labels) if os.path.isfile(labels) else None,
        input_shapes=[f"{k}={'x'.join(map(str, v))}" for k, v in meta.get("inputs", {}).items()],
        kind=meta.get("kind", "classifier"),
        output="logits" if "logits" in outputs else (outputs[0] if outputs else None))


def _without_final_softmax(m: onnx.ModelProto, name: str, path: str) -> str:
    """The light models' weights are constants (ConstantOfShape), so all their logits
    are equal and the final Softmax outputs 1/1000 everywhere, whatever the error
    before it.  Score the logits instead: a copy of the model without that Softmax."""
    g = m.graph
    last = g.node[-1] if len(g.node) else None
    if last is None or last.op_type != "Softmax" or [o.name for o in g.output] != [last.output[0]]:
        return path
    logits = last.input[0]
    g.node.remove(last)
    del g.output[:]
    g.output.append(onnx.helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, None))
    folder = os.path.join(tempfile.gettempdir(), "qcc_bench_light")
    os.makedirs(folder, exist_ok=True)
    out = os.path.join(folder, f"light_{name}_logits.onnx")
    tmp = f"{out}.{os.getpid()}.tmp"
    onnx.save(m, tmp)
    os.replace(tmp, out)
    return out


def light(name: str, n_calib: int = 8, n_test: int = 4, seed: int = 0) -> BenchModel:
    path = os.path.join(LIGHT, f"light_{name}.onnx")
    m = onnx.load(path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    rng = np.random.default_rng(seed)
    calib, test = {}, {}
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        shape = [d.dim_value or 1 for d in vi.type.tensor_type.shape.dim]
        calib[vi.name] = rng.random([n_calib * shape[0]] + shape[1:]).astype(np.float32)
        test[vi.name] = rng.random([n_test * shape[0]] + shape[1:]).astype(np.float32)
    # Every light model lowers integer-only (LRN too: passes/quantize/rules_norm.py).
    # Scored like an encoder (SQNR / max error of the logits): with constant weights every
    # class has the same logit, so a top-1 would say nothing.
    return BenchModel(name=f"light_{name}", path=_without_final_softmax(m, name, path),
                      calib=calib, test=test, kind="encoder", synthetic=True)


def default_models(quick: bool = False) -> list[BenchModel]:
    out = [m for m in (example(n) for n in ("digits_cnn", "mobilenet_small", "tiny_bert")) if m]
    names = LIGHT_MODELS[:3] if quick else LIGHT_MODELS
    out += [light(n) for n in names]
    return out


def by_name(name: str) -> BenchModel:
    if name.startswith("light_"):
        return light(name[len("light_"):])
    m = example(name)
    if m is None:
        raise SystemExit(f"unknown benchmark model '{name}'")
    return m
