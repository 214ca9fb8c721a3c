"""Let several ONNX exports of one model share a single external-data file.

ONNX lets an initializer live outside the model file (``data_location =
EXTERNAL`` with ``location``, ``offset`` and ``length`` entries).  Two exports
of the same torch module at different opsets carry the same weight tensors,
so each distinct large tensor is written once and every model that holds it
points at the same bytes.  Small tensors (below ``min_bytes``) stay inline.
"""

from __future__ import annotations

import hashlib
import os
from typing import Sequence

import onnx

ALIGN = 64


def share_external_weights(paths: Sequence[str], weights_name: str, min_bytes: int = 1024) -> None:
    """Rewrite the models in ``paths`` (same folder) to read large initializers
    from ``weights_name`` in that folder; identical tensors are stored once."""
    folder = os.path.dirname(os.path.abspath(paths[0]))
    if any(os.path.dirname(os.path.abspath(p)) != folder for p in paths):
        raise ValueError("models sharing external data must live in one folder")
    models = [onnx.load(p) for p in paths]
    blobs: dict[str, tuple[int, int]] = {}       # sha256 -> (offset, length)
    chunks: list[bytes] = []
    size = 0
    for m in models:
        for t in m.graph.initializer:
            raw = t.raw_data
            if len(raw) < min_bytes:
                continue
            key = hashlib.sha256(raw + str(t.data_type).encode()).hexdigest()
            if key not in blobs:
                pad = (-size) % ALIGN
                chunks.append(b"\0" * pad + raw)
                blobs[key] = (size + pad, len(raw))
                size += pad + len(raw)
            offset, length = blobs[key]
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
            del t.external_data[:]
            for k, v in (("location", weights_name), ("offset", str(offset)), ("length", str(length))):
                e = t.external_data.add()
                e.key, e.value = k, v
    tmp = os.path.join(folder, f".{weights_name}.tmp")
    with open(tmp, "wb") as f:
        for c in chunks:
            f.write(c)
    os.replace(tmp, os.path.join(folder, weights_name))
    for m, p in zip(models, paths):
        onnx.save(m, p)
        onnx.checker.check_model(p, full_check=True)
