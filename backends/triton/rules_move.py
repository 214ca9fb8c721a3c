"""Lowering rules of data movement, pooling, resize, reductions and the row ops
(integer softmax and LayerNorm).

Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity) share bytes.  Every other
data-movement op becomes a table-driven copy: its reference implementation runs once
at compile time on the element indices of its input (``adapter.index_maps``).
Pooling and resize are table-driven too (taps per output position of one plane);
reductions, softmax and LayerNorm are row kernels.
"""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node
from qcc.ops.integer_pool import avgpool_counts, linear_table, nearest_index

from .adapter import fill_value, index_maps
from .calls import Call, pow2_tile
from .calls_elem import ewise_call, taps_call
from .program import TORCH_DTYPES, Lowerer, rule
from .rules_dense import epi
from .rules_elem import concat_parts, tdt

VIEW_OPS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")
MAP_OPS = ("onnx.Transpose", "onnx.Slice", "onnx.Split", "onnx.Expand", "onnx.Tile", "onnx.Pad",
           "onnx.DepthToSpace", "onnx.SpaceToDepth", "onnx.GatherElements", "onnx.GatherND")


@rule(*VIEW_OPS)
def view(lw: Lowerer, node: Node) -> None:
    lw.alias(node.outputs[0], node.inputs[0])


@rule(*MAP_OPS)
def mapped(lw: Lowerer, node: Node) -> None:
    x = node.inputs[0]
    for out, idx in zip(node.outputs, index_maps(node)):
        if not (out.users or lw.g.is_output(out)):
            continue
        if idx.size == x.type.numel and np.array_equal(idx.ravel(), np.arange(idx.size)):
            lw.alias(out, x)
            continue
        call = taps_call(lw.kname("copy"), "copy", 1, idx.reshape(-1, 1), x.type.numel, tdt(out),
                         fill=fill_value(node))
        lw.step(node, call, {"x": x}, out)


@rule("onnx.Gather")
def gather(lw: Lowerer, node: Node) -> None:
    data, ind = node.inputs
    if lw.const_data(ind) is not None:
        mapped(lw, node)
        return
    if ind.dtype not in (DType.int32, DType.int64):
        raise LoweringError(f"target triton: Gather node '{node.name}' indices are {ind.dtype.name}")
    axis = int(node.attr("axis", 0)) % data.type.rank
    out = node.outputs[0]
    outer = int(np.prod(data.shape[:axis], dtype=np.int64))
    inner = int(np.prod(data.shape[axis + 1:], dtype=np.int64))
    total = outer * ind.type.numel * inner
    call = Call("gather", dict(name=lw.kname("gather"), BLOCK=pow2_tile(total, 16, 1024)),
                {}, dict(TOTAL=total, NQ=ind.type.numel, INNER=inner, V=int(data.shape[axis])))
    call.needs_err = True
    lw.step(node, call, {"ids": ind, "x": data}, out)


@rule("onnx.Concat")
def concat_copy(lw: Lowerer, node: Node) -> None:
    out = node.outputs[0]
    concat_parts(lw, node, list(node.inputs), lambda i, x, so: ewise_call(
        lw.kname("concat"), "copy", x.shape, [x.shape], tdt(out), out_strides=so))


def pool_taps(node: Node, kshape, x, out):
    """Input index (in one plane) of every tap of every output position, -1 outside."""
    (h, w), (oh, ow) = x.shape[2:], out.shape[2:]
    st = node.attr("strides", [1, 1])
    pads = node.attr("pads", [0, 0, 0, 0])
    dil = node.attr("dilations", [1, 1])
    oy, ox, u, v = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(kshape[0]),
                               np.arange(kshape[1]), indexing="ij")
    iy = oy * st[0] - pads[0] + u * dil[0]
    ix = ox * st[1] - pads[1] + v * dil[1]
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    return np.where(ok, iy * w + ix, -1).reshape(oh * ow, -1)


@rule("onnx.MaxPool")
def maxpool(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    if len(node.outputs) > 1 and (node.outputs[1].users or lw.g.is_output(node.outputs[1])):
        raise LoweringError(f"target triton: MaxPool node '{node.name}' Indices output is used")
    if x.type.rank != 4 or int(node.attr("storage_order", 0)):
        raise LoweringError(f"target triton: MaxPool node '{node.name}' needs 2-D NCHW pooling")
    idx = pool_taps(node, node.attr("kernel_shape"), x, out)
    call = taps_call(lw.kname("maxpool"), "max", x.shape[0] * x.shape[1], idx,
                     x.shape[2] * x.shape[3], tdt(out))
    lw.step(node, call, {"x": x}, out)


@rule("qcc.avgpool")
def avgpool(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    ks, st, pads = node.attr("kernel_shape"), node.attr("strides", [1, 1]), node.attr("pads", [0] * 4)
    idx = pool_taps(node, ks, x, out)
    cnt = avgpool_counts(x.shape[2], x.shape[3], ks, st, pads,
                         bool(int(node.attr("count_include_pad", 0)))).reshape(-1)
    e = epi(lw, node, 1)
    call = taps_call(lw.kname("avgpool"), "sum", x.shape[0] * x.shape[1], idx,
                     x.shape[2] * x.shape[3], e["out"], m=e["m"][cnt - 1], s=e["s"][cnt - 1],
                     x_zp=int(node.attr("x_zp", 0)), y_zp=e["y_zp"], lo=e["lo"], hi=e["hi"])
    lw.step(node, call, {"x": x}, out)


@rule("qcc.resize")
def resize(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    (h, w), (oh, ow) = x.shape[2:], out.shape[2:]
    ctm = node.attr("coordinate_transformation_mode", "half_pixel")
    planes = x.shape[0] * x.shape[1]
    if node.attr("mode", "nearest") == "nearest":
        nm = node.attr("nearest_mode", "round_prefer_floor")
        iy, ix = nearest_index(oh, h, ctm, nm), nearest_index(ow, w, ctm, nm)
        idx = (iy[:, None] * w + ix[None, :]).reshape(-1, 1)
        call = taps_call(lw.kname("resize"), "copy", planes, idx, h * w, tdt(out))
    else:
        y0, y1, wy0, wy1 = linear_table(oh, h, ctm)
        x0, x1, wx0, wx1 = linear_table(ow, w, ctm)
        ys, xs = np.stack([y0, y0, y1, y1], 1), np.stack([x0, x1, x0, x1], 1)
        wys, wxs = np.stack([wy0, wy0, wy1, wy1], 1), np.stack([wx0, wx1, wx0, wx1], 1)
        idx = (ys[:, None, :] * w + xs[None, :, :]).reshape(oh * ow, 4)
        wt = (wys[:, None, :] * wxs[None, :, :]).reshape(oh * ow, 4)
        call = taps_call(lw.kname("resize"), "shift", planes, idx, h * w, tdt(out), wt=wt,
                         x_zp=int(node.attr("x_zp", 0)), shift=20)
    lw.step(node, call, {"x": x}, out)
