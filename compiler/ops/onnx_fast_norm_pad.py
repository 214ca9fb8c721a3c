"""numpy kernels for two ops where ``onnx.reference`` falls short.

* LayerNormalization: ``onnx.reference`` computes a float16 input's normalised
  value in float16 (two ulps from onnxruntime).  Here the statistics are computed
  in the stash type (float32, the only one the schema admits for float inputs)
  over the axes ``[axis, rank)``; the scale and the bias are applied in float32
  for float16 inputs and the result is rounded once, as onnxruntime does.  Mean
  and InvStdDev keep the reduced axes with length 1.
* Pad: ``onnx.reference`` rejects negative pads, which ONNX allows (they crop).
  Constant padding with negative entries crops first and then pads; the other
  modes (edge, reflect, wrap) go through ``numpy.pad`` when every pad is >= 0.
  ``axes`` (opset 18) selects the padded axes.

Both register into ``onnx_fast``'s table; a kernel returns ``None`` for the
cases it leaves to ``onnx.reference``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir import Node
from .onnx_fast import _kernel

_STASH = {1: np.float32, 10: np.float16, 11: np.float64}


@_kernel("LayerNormalization")
def _layer_norm(node: Node, args: list) -> Optional[list]:
    x, scale = args[0], args[1]
    bias = args[2] if len(args) > 2 else None
    stash = _STASH.get(int(node.attrs.get("stash_type", 1)))
    if stash is None or x.dtype.kind != "f":
        return None
    axis = int(node.attrs.get("axis", -1)) % x.ndim
    eps = float(node.attrs.get("epsilon", 1e-5))
    axes = tuple(range(axis, x.ndim))
    xs = x.astype(stash)
    mean = xs.mean(axis=axes, keepdims=True, dtype=stash)
    d = xs - mean
    var = (d * d).mean(axis=axes, keepdims=True, dtype=stash)
    inv = (stash(1) / np.sqrt(var + stash(eps))).astype(stash)
    work = np.float32 if x.dtype == np.float16 else x.dtype
    y = (d * inv).astype(work) * scale.astype(work)
    if bias is not None:
        y = y + bias.astype(work)
    outs = [y.astype(x.dtype), mean, inv]
    return outs[:len(node.outputs)]


def _pads_by_axis(node: Node, args: list, rank: int) -> Optional[list]:
    """[(begin, end)] per axis, from the attribute (opset < 11) or the inputs."""
    if node.opset < 11:
        pads = list(node.attrs.get("pads") or [])
        axes = list(range(rank))
    else:
        pads = [int(p) for p in np.asarray(args[1]).ravel()]
        ax = args[3] if len(args) > 3 and args[3] is not None else None
        axes = [int(a) % rank for a in np.asarray(ax).ravel()] if ax is not None else \
            list(range(rank))
    if len(pads) != 2 * len(axes):
        return None
    out = [(0, 0)] * rank
    for j, a in enumerate(axes):
        out[a] = (pads[j], pads[len(axes) + j])
    return out


@_kernel("Pad")
def _pad(node: Node, args: list) -> Optional[list]:
    x = args[0]
    mode = node.attrs.get("mode", "constant") or "constant"
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = _pads_by_axis(node, args, x.ndim)
    if pads is None or x.dtype.kind not in "fiub" or mode not in (
            "constant", "edge", "reflect", "wrap"):
        return None
    if mode != "constant":
        if min(min(p) for p in pads) < 0:
            return None
        return [np.pad(x, pads, mode=mode)]
    if node.opset < 11:
        value = node.attrs.get("value", 0.0)
    else:
        v = args[2] if len(args) > 2 else None
        value = np.asarray(v).ravel()[0] if v is not None and np.size(v) else 0
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(pads))
    grow = [(max(b, 0), max(e, 0)) for b, e in pads]
    return [np.pad(x[crop], grow, mode="constant", constant_values=value).astype(x.dtype)]
