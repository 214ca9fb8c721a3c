"""Framework-exported Resize nodes whose ``scales`` mean what the framework computed.

With ``align_corners`` or ``tf_crop_and_resize`` and a scale that gives a
fractional output length (``L * scale`` not an integer), ONNX's Resize divides by
the unfloored length ``L * scale - 1`` (its node tests and reference do; the ONNX
maintainers call this intended and ask converters to emit compatible scales,
onnx/onnx#2462).  PyTorch and TensorFlow compute the output length first and
divide by ``floor(L * scale) - 1``, and their exporters still write the scale.
onnxruntime follows the frameworks, so such a model means one thing to the
framework and onnxruntime and another to the ONNX specification.

For models whose producer is one of those exporters, the importer replaces the
constant ``scales`` of such a node by the ``sizes`` the framework computed.  With
sizes, ONNX, onnxruntime and the framework agree, and the node keeps ONNX's
meaning everywhere else in qcc (passes, export).  Models from other producers
(ONNX's own node tests included) keep the specification's meaning.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ir import DType, Graph, TensorType, Value

FRAMEWORKS = ("pytorch", "tf2onnx", "keras2onnx")
BY_LENGTH = ("align_corners", "tf_crop_and_resize")


def _mode(attrs: dict) -> str:
    v = attrs.get("coordinate_transformation_mode", "half_pixel")
    return v.decode() if isinstance(v, bytes) else str(v)


def framework_sizes(graph: Graph, attrs: dict, inputs: list, name: str) -> Optional[list]:
    """The Resize inputs with ``scales`` replaced by ``sizes``, or None to keep them."""
    producer = str(graph.meta.get("producer", "")).lower()
    if not producer.startswith(FRAMEWORKS) or _mode(attrs) not in BY_LENGTH \
            or attrs.get("axes") is not None or graph.opset < 11:
        return None
    if len(inputs) < 3 or inputs[2] is None or not inputs[2].is_const or inputs[2].type.numel == 0 \
            or (len(inputs) > 3 and inputs[3] is not None):
        return None
    x, scales = inputs[0], np.asarray(inputs[2].data, np.float32).ravel()
    if len(scales) != len(x.shape):
        return None
    widths = [float(np.float32(d) * s) for d, s in zip(x.shape, scales)]
    if all(w == math.floor(w) for w in widths):
        return None  # integral output lengths: both readings agree
    sizes = np.array([math.floor(w) for w in widths], np.int64)
    out = list(inputs[:2])
    for tag, arr in (("scales", np.zeros(0, np.float32)), ("sizes", sizes)):
        v = Value(graph.fresh_name(f"{name}.{tag}"),
                  TensorType(DType.from_numpy(arr.dtype), arr.shape), data=arr)
        graph.constants[v.name] = v
        out.append(v)
    return out
