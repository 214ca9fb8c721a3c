"""Helpers shared by the ``examples/*/make_*.py`` scripts.

Each script trains (or initialises) a small torch model with a fixed seed,
exports it with the classic TorchScript ONNX exporter (``dynamo=False``, which
gives full control over the opset), checks the export against torch with
onnxruntime and writes ``meta.json`` next to the model.  The scripts are run
from anywhere: ``python examples/<name>/make_<name>.py``.
"""

from __future__ import annotations

import json
import os
import random
import warnings
from typing import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper
import onnxruntime as ort
import torch


def seed_everything(seed: int, threads: int = 2) -> None:
    """Make a run reproducible on CPU (same torch version, same thread count)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def export_onnx(model: torch.nn.Module, args: tuple, path: str, *,
                input_names: Sequence[str], output_names: Sequence[str],
                dynamic_axes: dict, opset: int, keep_batchnorm: bool = False) -> onnx.ModelProto:
    """Export ``model`` (already in eval mode) and tidy the graph.

    ``keep_batchnorm`` turns the exporter's constant folding off: in eval mode
    the exporter otherwise fuses BatchNormalization into the preceding Conv,
    and the compiler's own BN-folding pass would have nothing to do.  Without
    constant folding the exporter wraps some initializers in Identity nodes;
    those are removed here so the graph reads like a normal export.
    """
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, path, opset_version=opset, dynamo=False,
                          input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=dynamic_axes,
                          do_constant_folding=not keep_batchnorm,
                          training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(path)
    _drop_initializer_identities(m)
    _fold_constant_casts(m)
    _name_nodes(m)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    return m


def _drop_initializer_identities(m: onnx.ModelProto) -> None:
    """Replace ``y = Identity(initializer)`` by a direct use of the initializer."""
    g = m.graph
    inits = {t.name for t in g.initializer}
    outputs = {o.name for o in g.output}
    alias = {}
    keep = []
    for n in g.node:
        if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in outputs:
            alias[n.output[0]] = n.input[0]
        else:
            keep.append(n)
    if not alias:
        return
    for n in keep:
        for i, name in enumerate(n.input):
            if name in alias:
                n.input[i] = alias[name]
    del g.node[:]
    g.node.extend(keep)


def _fold_constant_casts(m: onnx.ModelProto) -> None:
    """``Cast(Constant)`` (left by the exporter without constant folding, e.g. the
    Clip bounds of ReLU6) becomes a plain initializer; dead Constants go away."""
    g = m.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    keep = []
    for n in g.node:
        if n.op_type == "Cast" and n.input[0] in consts:
            to = helper.tensor_dtype_to_np_dtype(helper.get_attribute_value(n.attribute[0]))
            arr = consts[n.input[0]].astype(to)
            consts[n.output[0]] = arr
            g.initializer.append(numpy_helper.from_array(arr, n.output[0]))
        else:
            keep.append(n)
    used = {i for n in keep for i in n.input} | {o.name for o in g.output}
    keep = [n for n in keep if n.op_type != "Constant" or n.output[0] in used]
    del g.node[:]
    g.node.extend(keep)


def _name_nodes(m: onnx.ModelProto) -> None:
    """Give every node a unique name (qcc error messages quote node names)."""
    seen = set()
    for i, n in enumerate(m.graph.node):
        if not n.name or n.name in seen:
            n.name = f"{n.op_type}_{i}"
        seen.add(n.name)


def op_histogram(m: onnx.ModelProto) -> dict[str, int]:
    hist: dict[str, int] = {}
    for n in m.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
    return dict(sorted(hist.items()))


def ort_run(path: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def ort_vs_torch(path: str, model: torch.nn.Module, feeds: dict[str, np.ndarray]) -> float:
    """Max abs difference over all outputs between onnxruntime and torch."""
    with torch.no_grad():
        ref = model(*[torch.from_numpy(v) for v in feeds.values()])
    if isinstance(ref, torch.Tensor):
        ref = (ref,)
    got = ort_run(path, feeds)
    assert len(got) == len(ref), f"{path}: {len(got)} outputs vs torch {len(ref)}"
    return float(max(np.max(np.abs(g - r.numpy())) for g, r in zip(got, ref)))


def write_meta(folder: str, meta: dict) -> None:
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


def file_kib(path: str) -> float:
    return round(os.path.getsize(path) / 1024.0, 1)
