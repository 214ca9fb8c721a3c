"""Lowering rules for data movement: views, strided copies, index tables, gathers.

Reshape, Flatten, Squeeze, Unsqueeze and Identity are views (no call).  Every
other pure data-movement op (Transpose, Slice, Split, Expand, Tile, Pad,
DepthToSpace, SpaceToDepth, Gather/GatherElements/GatherND with constant
indices) is lowered generically: the op's reference implementation runs once
at compile time on the *element indices* ``arange(numel)`` of its input, which
gives the source index of every output element.  An affine index map becomes a
strided copy (:class:`~qcc.lower.kernels.CopyNd`, up to 6 folded dims); any other
map a constant index table (:class:`~qcc.lower.kernels.GatherTable`); a map equal
to ``arange`` a view.
"""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node, TensorType, Value
from qcc.ops import lookup

from .kernels import CopyNd, Gather, GatherTable
from .program import Lowerer
from .shapes import contiguous_strides, fold_dims

VIEW_OPS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")
MAP_OPS = ("onnx.Transpose", "onnx.Slice", "onnx.Split", "onnx.Expand", "onnx.Tile", "onnx.Pad",
           "onnx.DepthToSpace", "onnx.SpaceToDepth", "onnx.GatherElements", "onnx.GatherND")


def view(lw: Lowerer, node: Node) -> None:
    lw.alias(node, node.outputs[0], node.inputs[0])


def index_maps(lw: Lowerer, node: Node) -> list[np.ndarray]:
    """Source element index of every output element (-1: the pad value)."""
    x = node.inputs[0]
    src = np.arange(1, x.type.numel + 1, dtype=np.int64).reshape(x.shape)
    args = [src]
    for i, v in enumerate(node.inputs[1:], 1):
        if v is not None and not v.is_const:
            raise lw.err(f"{node.op} node '{node.name}' needs constant input {i} ('{v.name}')")
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


def affine(idx: np.ndarray):
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
    grid = np.zeros(idx.shape, np.int64) + flat0
    for k, (d, s) in enumerate(zip(idx.shape, strides)):
        shape = [1] * idx.ndim
        shape[k] = d
        grid = grid + np.arange(d, dtype=np.int64).reshape(shape) * s
    return (flat0, strides) if np.array_equal(grid, idx) else None


def _fill_value(node: Node) -> int:
    if node.op == "onnx.Pad" and len(node.inputs) > 2 and node.inputs[2] is not None:
        return int(np.asarray(node.inputs[2].data).ravel()[0])
    return 0


def emit_map(lw: Lowerer, node: Node, x: Value, out: Value, idx: np.ndarray) -> None:
    """``out[i] = x[idx[i]]`` (-1: the fill value): a view, a strided copy or a table."""
    if idx.size == x.type.numel and np.array_equal(idx.ravel(), np.arange(idx.size)):
        lw.alias(node, out, x)
        return
    aff = affine(idx)
    if aff is not None:
        off, strides = aff
        try:
            d, (_, xs) = fold_dims(lw, idx.shape, [contiguous_strides(idx.shape), strides], 6,
                                   node.op)
        except LoweringError:
            d = None
        if d is not None:
            esize = lw.esize(out)
            lw.call(CopyNd(node=node, x=lw.read(x), y=out, dims=d, xs=xs, offset=off,
                           esize=esize))
            return
    table = lw.table(f"{node.name}.{out.name}.idx", idx.astype(np.int32))
    esize = lw.esize(out)
    lw.call(GatherTable(node=node, x=lw.read(x), index=table, y=out, count=out.type.numel,
                        esize=esize, fill=_fill_value(node)))


def mapped(lw: Lowerer, node: Node) -> None:
    x = node.inputs[0]
    for out, idx in zip(node.outputs, index_maps(lw, node)):
        if out.users or any(out is o for o in lw.g.outputs):
            emit_map(lw, node, x, out, idx)


def gather(lw: Lowerer, node: Node) -> None:
    data, ind = node.inputs
    if ind.is_const:
        mapped(lw, node)
        return
    if ind.dtype not in (DType.int32, DType.int64):
        raise lw.err(f"Gather node '{node.name}' indices are {ind.dtype.name}")
    axis = int(node.attr("axis", 0)) % data.type.rank
    esize = lw.esize(data)
    lw.call(Gather(node=node, data=lw.read(data), indices=lw.read(ind), y=node.outputs[0],
                   outer=int(np.prod(data.shape[:axis], dtype=np.int64)), axis=data.shape[axis],
                   inner=int(np.prod(data.shape[axis + 1:], dtype=np.int64)),
                   idx_count=ind.type.numel, esize=esize))


RULES = {**{op: view for op in VIEW_OPS}, **{op: mapped for op in MAP_OPS},
         "onnx.Gather": gather}
