"""Lowering rules for data movement: views, strided copies, index tables, gathers.

Reshape, Flatten, Squeeze, Unsqueeze and Identity are views (no call).  Every
other pure data-movement op (Transpose, Slice, Split, Expand, Tile, Pad,
DepthToSpace, SpaceToDepth, Gather/GatherElements/GatherND with constant
indices) is lowered generically: the op's reference implementation runs once
at compile time on the *element indices* ``arange(numel)`` of its input, which
gives the source index of every output element (:mod:`qcc.ops.integer_move`).  On
integer targets the ``lower-index-maps`` pass has already made these ops
``qcc.index_map`` nodes carrying that map (the rules of the ONNX ops remain for graphs
lowered without it).  An affine index map becomes a
strided copy (:class:`~qcc.lower.kernels.CopyNd`, up to 6 folded dims); any other
map a constant index table (:class:`~qcc.lower.kernels.GatherTable`); a map equal
to ``arange`` a view.
"""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node, Value
from qcc.ops.integer_move import MOVE_OPS, affine, fill_value, index_table, source_indices

from .kernels import CopyNd, Gather, GatherTable
from .program import Lowerer
from .shapes import contiguous_strides, fold_dims

VIEW_OPS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")
MAP_OPS = MOVE_OPS


def view(lw: Lowerer, node: Node) -> None:
    lw.alias(node, node.outputs[0], node.inputs[0])


def index_maps(lw: Lowerer, node: Node) -> list[np.ndarray]:
    """Source element index of every output element (-1: the pad value)."""
    if node.op == "qcc.index_map":
        return [index_table(node)]
    for i, v in enumerate(node.inputs[1:], 1):
        if v is not None and not v.is_const:
            raise lw.err(f"{node.op} node '{node.name}' needs constant input {i} ('{v.name}')")
    return source_indices(node)


def emit_map(lw: Lowerer, node: Node, x: Value, out: Value, idx: np.ndarray,
             key: str = "") -> None:
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
    table = lw.table(key or f"{node.name}.{out.name}.idx", idx.astype(np.int32))
    esize = lw.esize(out)
    lw.call(GatherTable(node=node, x=lw.read(x), index=table, y=out, count=out.type.numel,
                        esize=esize, fill=fill_value(node)))


def mapped(lw: Lowerer, node: Node) -> None:
    x = node.inputs[0]
    for out, idx in zip(node.outputs, index_maps(lw, node)):
        if out.users or any(out is o for o in lw.g.outputs):
            emit_map(lw, node, x, out, idx)


def index_map(lw: Lowerer, node: Node) -> None:
    """``qcc.index_map`` (made by the lower-index-maps pass): the table keeps the name the
    pass gave it, so the program is the one the replaced op lowered to."""
    index = node.inputs[1] if len(node.inputs) > 1 else None
    emit_map(lw, node, node.inputs[0], node.outputs[0], index_table(node),
             index.name if index is not None else "")


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
         "onnx.Gather": gather, "qcc.index_map": index_map}
