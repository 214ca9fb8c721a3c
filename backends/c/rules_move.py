"""Lowering rules for data movement: views, strided copies, index tables, gathers.

Reshape, Flatten, Squeeze, Unsqueeze and Identity are views (no code).  Every
other pure data-movement op (Transpose, Slice, Split, Expand, Tile, Pad,
DepthToSpace, SpaceToDepth, Gather/GatherElements/GatherND with constant
indices) is lowered generically: the op's reference implementation runs once
at compile time on the *element indices* ``arange(numel)`` of its input, which
gives the source index of every output element.  An affine index map becomes a
strided copy (``qcc_copy_nd``, up to 6 folded dims); any other map a constant
index table (``qcc_gather_table``); a map equal to ``arange`` a view.
"""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node, TensorType, Value
from qcc.ops import lookup

from .lower import Lowerer
from .program import rule
from .rules_elem import contiguous_strides, fold_dims

VIEW_OPS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")
MAP_OPS = ("onnx.Transpose", "onnx.Slice", "onnx.Split", "onnx.Expand", "onnx.Tile", "onnx.Pad",
           "onnx.DepthToSpace", "onnx.SpaceToDepth", "onnx.GatherElements", "onnx.GatherND")


def _esize(v: Value) -> int:
    if v.dtype.bits % 8 or v.dtype.is_float:
        raise LoweringError(f"target c: cannot move '{v.name}' of dtype {v.dtype.name}")
    return v.dtype.bits // 8


def emit_copy(lw: Lowerer, node: Node, src: Value, out: Value) -> None:
    params = dict(d=[1, 1, 1, 1, 1, out.type.numel], xs=[0, 0, 0, 0, 0, 1], off=0, esize=_esize(out))
    lw.step(node, "move", "qcc_copy_nd", "qcc_copy_p", params,
            [lw.read(src, "void"), lw.write(out, "void")])


@rule(*VIEW_OPS)
def view(lw: Lowerer, node: Node) -> None:
    lw.alias(node, node.outputs[0], node.inputs[0])


def index_maps(node: Node) -> list[np.ndarray]:
    """Source element index of every output element (-1: the pad value)."""
    x = node.inputs[0]
    src = np.arange(1, x.type.numel + 1, dtype=np.int64).reshape(x.shape)
    args = [src]
    for i, v in enumerate(node.inputs[1:], 1):
        if v is not None and not v.is_const:
            raise LoweringError(f"target c: {node.op} node '{node.name}' needs constant "
                                f"input {i} ('{v.name}')")
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


def _emit_map(lw: Lowerer, node: Node, x: Value, out: Value, idx: np.ndarray) -> None:
    if idx.size == x.type.numel and np.array_equal(idx.ravel(), np.arange(idx.size)):
        lw.alias(node, out, x)
        return
    aff = affine(idx)
    if aff is not None:
        off, strides = aff
        try:
            d, (_, xs) = fold_dims(idx.shape, [contiguous_strides(idx.shape), strides], 6, node.op)
        except LoweringError:
            d = None
        if d is not None:
            params = dict(d=d, xs=xs, off=off, esize=_esize(out))
            lw.step(node, "move", "qcc_copy_nd", "qcc_copy_p", params,
                    [lw.read(x, "void"), lw.write(out, "void")])
            return
    table = lw.table(f"{node.name}.{out.name}.idx", idx.astype(np.int32))
    params = dict(count=out.type.numel, esize=_esize(out), fill=_fill_value(node))
    lw.step(node, "move", "qcc_gather_table", "qcc_table_p", params,
            [lw.read(x, "void"), table, lw.write(out, "void")])


@rule(*MAP_OPS)
def mapped(lw: Lowerer, node: Node) -> None:
    x = node.inputs[0]
    for out, idx in zip(node.outputs, index_maps(node)):
        if out.users or any(out is o for o in lw.g.outputs):
            _emit_map(lw, node, x, out, idx)


@rule("onnx.Gather")
def gather(lw: Lowerer, node: Node) -> None:
    data, ind = node.inputs
    if ind.is_const:
        mapped(lw, node)
        return
    if ind.dtype not in (DType.int32, DType.int64):
        raise LoweringError(f"target c: Gather node '{node.name}' indices are {ind.dtype.name}")
    axis = int(node.attr("axis", 0)) % data.type.rank
    params = dict(outer=int(np.prod(data.shape[:axis], dtype=np.int64)), axis=data.shape[axis],
                  inner=int(np.prod(data.shape[axis + 1:], dtype=np.int64)),
                  idx_count=ind.type.numel, idx_64=int(ind.dtype is DType.int64),
                  esize=_esize(data))
    lw.step(node, "move", "qcc_gather", "qcc_gather_p", params,
            [lw.read(data, "void"), lw.read(ind, "void"), lw.write(node.outputs[0], "void")])


@rule("onnx.Concat")
def concat_copy(lw: Lowerer, node: Node) -> None:
    """Concat of equal-qparams int8 inputs: exact copies (requant by m = 2^30, s = 30)."""
    out = node.outputs[0]
    if out.dtype is not DType.int8:
        raise LoweringError(f"target c: Concat node '{node.name}' of {out.dtype.name}; the C "
                            f"backend concatenates int8 tensors")
    axis = int(node.attr("axis", 0)) % out.type.rank
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    stride = int(np.prod(out.shape[axis:], dtype=np.int64))
    off = 0
    for x in node.inputs:
        inner = int(np.prod(x.shape[axis:], dtype=np.int64))
        params = dict(outer=outer, inner=inner, stride=stride, offset=off, x_zp=0, y_zp=0,
                      lo=-128, hi=127, m=1 << 30, s=30)
        lw.step(node, "concat", "qcc_concat_part", "qcc_concat_p", params,
                [lw.read(x), lw.write(out)])
        off += inner
