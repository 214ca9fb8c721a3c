"""Weights built at run time become initializers before a model is benchmarked.

The onnx package's light models store no weights: each one is a
``ConstantOfShape`` node.  qcc's importer folds them, but onnxruntime's
``quantize_static`` leaves them as float nodes followed by a run-time
QuantizeLinear / DequantizeLinear pair, so its int8 model would store no int8
weights (its size would read a few KiB) and would quantize every weight again
on every inference.  A deployed model has its weights as initializers; the
benchmark runs on such a copy, whose outputs are those of the original.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

FOLDER = os.path.join(tempfile.gettempdir(), "qcc_bench_light")


def _constants(g) -> dict:
    from onnx import numpy_helper

    out = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = numpy_helper.to_array(a.t)
    return out


def _fill(node, shape: np.ndarray) -> np.ndarray:
    from onnx import numpy_helper

    value = np.zeros(1, np.float32)
    for a in node.attribute:
        if a.name == "value":
            value = numpy_helper.to_array(a.t)
    return np.full(tuple(int(d) for d in shape.reshape(-1)), value.reshape(-1)[0], value.dtype)


def materialize(model) -> int:
    """Replace every ``ConstantOfShape`` with a constant shape (an initializer or a
    ``Constant`` node) by an initializer, in place; drop the shape tensors and
    ``Constant`` nodes nothing reads any more.  Returns how many were replaced."""
    from onnx import helper, numpy_helper

    g = model.graph
    consts = _constants(g)
    keep, added = [], []
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input and n.input[0] in consts:
            added.append(numpy_helper.from_array(_fill(n, consts[n.input[0]]), n.output[0]))
        else:
            keep.append(n)
    if not added:
        return 0
    read = {i for n in keep for i in n.input} | {o.name for o in g.output}
    # a Constant node that only fed a replaced shape is dead now
    keep = [n for n in keep if n.op_type != "Constant" or any(o in read for o in n.output)]
    del g.node[:]
    g.node.extend(keep)
    dropped = {t.name for t in g.initializer if t.name not in read}
    inits = [t for t in g.initializer if t.name in read] + added
    del g.initializer[:]
    g.initializer.extend(inits)
    inputs = [i for i in g.input if i.name not in dropped]
    if model.ir_version < 4:  # before IR 4 every initializer must also be a graph input
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in added]
    del g.input[:]
    g.input.extend(inputs)
    return len(added)


def _opset13(m):
    """Per-channel QDQ needs DequantizeLinear's ``axis`` (opset 13): onnxruntime's
    quantizer only lifts old models (the light ones are opset 9) to opset 11."""
    from onnx import version_converter

    ver = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 13)
    if ver >= 13:
        return m
    m = version_converter.convert_version(m, 13)
    m.ir_version = max(m.ir_version, 7)  # opset 13 came with IR 7
    # from IR 4 on, an initializer listed as a graph input is an overridable input,
    # which onnxruntime never constant-folds: list the real inputs only
    inits = {t.name for t in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in inits]
    del m.graph.input[:]
    m.graph.input.extend(inputs)
    return m


def materialized_path(path: str, name: str) -> str:
    """``path`` itself when it builds no weights at run time, else a copy with them
    as initializers (cached in the temp folder while newer than ``path``)."""
    import onnx

    out = os.path.join(FOLDER, f"{name}_weights.onnx")
    if os.path.isfile(out) and os.path.getmtime(out) >= os.path.getmtime(path):
        return out
    m = onnx.load(path)
    if not materialize(m):
        return path
    m = _opset13(m)
    os.makedirs(FOLDER, exist_ok=True)
    tmp = f"{out}.{os.getpid()}.tmp"
    onnx.save(m, tmp)
    os.replace(tmp, out)
    return out
