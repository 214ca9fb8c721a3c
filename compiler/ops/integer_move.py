"""``qcc.index_map``: data movement by a constant index map (docs/integer_ops.md).

The ``lower-index-maps`` pass replaces every data-movement op whose index operands are
constants (Transpose, Slice, Split, Expand, Tile, Pad, DepthToSpace, SpaceToDepth,
Gather/GatherElements/GatherND) by ``qcc.index_map`` nodes, one per used output.  Each
output element reads one input element, so the op is fully described by the *source
index* of every output element:

* strided form ``qcc.index_map(x)``, attrs ``shape``, ``offset``, ``strides``:
  ``y[i_0, ..., i_k] = x.flat[offset + sum(i_j * strides[j])]`` (an affine map: a
  transpose, a slice, a broadcast);
* table form ``qcc.index_map(x, index)``, ``index`` a constant int32 tensor of the
  output's shape, attr ``fill``: ``y.flat[i] = x.flat[index.flat[i]]``, or ``fill``
  where ``index.flat[i] == -1`` (a pad's border, a gather).

:func:`source_indices` derives the map of an ONNX op from the op's own reference code
(run once on the element indices of its input), :func:`affine` recognises the strided
form and :func:`index_table` expands either form back into the full table.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir import DType, Node, TensorType
from . import OpDef, lookup, register
from ._integer_common import err, in_type

MOVE_OPS = ("onnx.Transpose", "onnx.Slice", "onnx.Split", "onnx.Expand", "onnx.Tile", "onnx.Pad",
            "onnx.DepthToSpace", "onnx.SpaceToDepth", "onnx.GatherElements", "onnx.GatherND")
"""ONNX data-movement ops whose index maps are constant once their index operands are."""


def movable(node: Node) -> bool:
    """True for a data-movement node whose every operand but the data is constant."""
    if node.op not in MOVE_OPS + ("onnx.Gather",):
        return False
    return all(v is None or v.is_const for v in node.inputs[1:])


def source_indices(node: Node) -> list[np.ndarray]:
    """Source element index of every output element of a :func:`movable` node, one array
    per output, shaped like it (-1: the pad value)."""
    x = node.inputs[0]
    args = [np.arange(1, x.type.numel + 1, dtype=np.int64).reshape(x.shape)]
    for i, v in enumerate(node.inputs[1:], 1):
        if v is not None and not v.is_const:
            raise err(node, f"input {i} ('{v.name}') must be a constant")
        args.append(None if v is None else v.data)
    if node.op == "onnx.Pad" and len(args) > 2 and args[2] is not None:
        args[2] = np.zeros((), np.int64)
    saved = [o.type for o in node.outputs]
    try:  # the op casts its results to the output dtype: run it with int64 outputs
        for o in node.outputs:
            o.type = TensorType(DType.int64, o.shape)
        res = lookup(node.op).run(node, args)
    finally:
        for o, t in zip(node.outputs, saved):
            o.type = t
    return [np.asarray(r, np.int64) - 1 for r in res]


def fill_value(node: Node) -> int:
    """The value written where the index map is -1 (a constant Pad's value, else 0)."""
    if node.op == "qcc.index_map":
        return int(node.attr("fill", 0))
    if node.op == "onnx.Pad" and len(node.inputs) > 2 and node.inputs[2] is not None:
        return int(np.asarray(node.inputs[2].data).ravel()[0])
    return 0


def affine(idx: np.ndarray) -> Optional[tuple[int, list[int]]]:
    """(offset, strides) if ``idx[i] == offset + i . strides`` for all i, else None."""
    if idx.size == 0 or idx.min() < 0:
        return None
    flat0 = int(idx.ravel()[0])
    strides = []
    for k, d in enumerate(idx.shape):
        if d == 1:
            strides.append(0)
            continue
        sel = [0] * idx.ndim
        sel[k] = 1
        strides.append(int(idx[tuple(sel)]) - flat0)
    return (flat0, strides) if np.array_equal(strided(idx.shape, flat0, strides), idx) else None


def strided(shape, offset: int, strides) -> np.ndarray:
    """The index table ``offset + i . strides`` over ``shape``."""
    grid = np.full(tuple(shape), int(offset), np.int64)
    for k, (d, s) in enumerate(zip(shape, strides)):
        view = [1] * len(shape)
        view[k] = d
        grid = grid + np.arange(d, dtype=np.int64).reshape(view) * int(s)
    return grid


def index_table(node: Node) -> np.ndarray:
    """The full source-index table of a ``qcc.index_map`` node (either form)."""
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        return np.asarray(node.inputs[1].data, np.int64)
    return strided(node.attr("shape"), node.attr("offset", 0), node.attr("strides"))


def _infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x")
    n = xt.numel
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        it = in_type(node, 1, "index", (DType.int32, DType.int64))
        if not node.inputs[1].is_const:
            raise err(node, f"input 1 (index) '%{node.inputs[1].name}' must be a constant")
        idx = np.asarray(node.inputs[1].data, np.int64)
        if idx.size and (idx.min() < -1 or idx.max() >= n):
            raise err(node, f"index entries must lie in [-1, {n - 1}] (x has {n} elements)")
        return [TensorType(xt.dtype, it.shape)]
    shape, strides = node.attr("shape"), node.attr("strides")
    if shape is None or strides is None or len(shape) != len(strides):
        raise err(node, "the strided form needs attrs 'shape' and 'strides' of equal length")
    off = int(node.attr("offset", 0))
    lo = off + sum(min(0, (d - 1) * s) for d, s in zip(shape, strides) if d > 0)
    hi = off + sum(max(0, (d - 1) * s) for d, s in zip(shape, strides) if d > 0)
    if any(d < 0 for d in shape) or (np.prod(shape) > 0 and (lo < 0 or hi >= n)):
        raise err(node, f"offset {off} and strides {list(strides)} over {list(shape)} leave "
                        f"the {n} elements of x")
    return [TensorType(xt.dtype, tuple(int(d) for d in shape))]


def _run(node: Node, args):
    x = np.asarray(args[0]).ravel()
    idx = index_table(node)
    y = x[np.clip(idx, 0, None)] if x.size else np.zeros(idx.shape, x.dtype)
    if (idx < 0).any():
        y = np.where(idx < 0, np.asarray(node.attr("fill", 0)).astype(x.dtype), y)
    return [y.astype(args[0].dtype, copy=False).reshape(idx.shape)]


register(OpDef(name="qcc.index_map", infer=_infer, run=_run, family="integer",
               doc="y.flat[i] = x.flat[offset + i . strides] or x.flat[index[i]] (-1: fill); "
                   "data movement by a constant index map", float_arith=False,
               min_inputs=1, max_inputs=2, num_outputs=1))
