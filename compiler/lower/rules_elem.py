"""Lowering rules for elementwise ops, pooling, reductions and resize."""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Node
from qcc.ops.integer_pool import linear_table, nearest_index

from .kernels import (ArgMax, Binary, ConcatPart, Epilogue, GlobalAvgPool, Lut, Pool, Reduce,
                      Requant, Resize, imm)
from .program import Lowerer
from .shapes import broadcast_strides, contiguous_strides, fold_dims


def _clamp_attrs(node: Node, dt: DType = DType.int8):
    return int(node.attr("act_min", dt.min)), int(node.attr("act_max", dt.max))


def _imm_epi(node: Node, m, s, dt: DType, lo: int, hi: int) -> Epilogue:
    return Epilogue(dt, imm(m), imm(s), zero_point=int(node.attr("y_zp", 0)), lo=lo, hi=hi)


def binary(lw: Lowerer, node: Node) -> None:
    a, b, m, s = node.inputs
    out = node.outputs[0]
    d, (sa, sb) = fold_dims(lw, out.shape, [broadcast_strides(a.shape, out.shape),
                                            broadcast_strides(b.shape, out.shape)], 4,
                            f"{node.op} node '{node.name}'")
    lo, hi = _clamp_attrs(node, out.dtype)
    epi = _imm_epi(node, m.data, s.data.ravel()[:1], out.dtype, lo, hi)
    same = next((v for v in (a, b) if v.shape == out.shape and v.dtype == out.dtype), None)
    k = Binary(node=node, op=node.op.split(".")[1], a=lw.read(a), b=lw.read(b), y=out, dims=d,
               sa=sa, sb=sb, a_zp=int(node.attr("a_zp", 0)), b_zp=int(node.attr("b_zp", 0)),
               epi=epi)
    lw.call(k, inplace_of=same)


def requant(lw: Lowerer, node: Node) -> None:
    x, m, s = node.inputs
    out = node.outputs[0]
    lo, hi = _clamp_attrs(node, out.dtype)
    shape = x.shape
    if m.data.size > 1:
        axis = int(node.attr("axis", 1)) % len(shape)
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        ch, inner = shape[axis], int(np.prod(shape[axis + 1:], dtype=np.int64))
    else:
        outer, ch, inner = 1, 1, x.type.numel
    xr = lw.read(x)
    epi = Epilogue(out.dtype, lw.const(m), lw.const(s), per_channel=bool(m.data.size > 1),
                   zero_point=int(node.attr("y_zp", 0)), lo=lo, hi=hi)
    k = Requant(node=node, x=xr, y=out, outer=outer, channels=ch, inner=inner,
                x_zp=int(node.attr("x_zp", 0)), epi=epi)
    lw.call(k, inplace_of=x)


def lut(lw: Lowerer, node: Node) -> None:
    x, t = node.inputs
    chans, inner = 1, 0
    if t.type.rank == 2:
        if not lw.target.lut_per_channel:
            raise lw.err(f"qcc.lut node '{node.name}' has one table per channel; this "
                       "target's kernel takes one table")
        axis = int(node.attr("axis", 1)) % x.type.rank
        chans = int(x.shape[axis])
        inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    k = Lut(node=node, x=lw.read(x), table=lw.const(t), y=node.outputs[0], count=x.type.numel,
            channels=chans, inner=inner)
    lw.call(k, inplace_of=x)


def _concat_parts(lw: Lowerer, node: Node, xs: list, zps, ms, ss, lo: int, hi: int,
                  y_zp: int) -> None:
    out = node.outputs[0]
    axis = int(node.attr("axis", 1 if node.op == "qcc.concat" else 0)) % out.type.rank
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    stride = int(np.prod(out.shape[axis:], dtype=np.int64))
    off = 0
    for i, x in enumerate(xs):
        inner = int(np.prod(x.shape[axis:], dtype=np.int64))
        epi = Epilogue(out.dtype, imm([ms[i]]), imm([ss[i]]), zero_point=y_zp, lo=lo, hi=hi)
        lw.call(ConcatPart(node=node, x=lw.read(x), y=out, outer=outer, inner=inner,
                           stride=stride, offset=off, x_zp=int(zps[i]), epi=epi))
        off += inner


def concat(lw: Lowerer, node: Node) -> None:
    n = len(node.inputs) - 2
    m, s = node.inputs[n].data.ravel(), node.inputs[n + 1].data.ravel()
    lo, hi = _clamp_attrs(node, node.outputs[0].dtype)  # int16: a wide concat
    _concat_parts(lw, node, list(node.inputs[:n]), node.attr("zps", [0] * n), m, s, lo, hi,
                  int(node.attr("y_zp", 0)))


def concat_copy(lw: Lowerer, node: Node) -> None:
    """onnx.Concat of equal-qparams tensors: exact copies (requant by m = 2^30, s = 30)."""
    out = node.outputs[0]
    if out.dtype not in (DType.int8, DType.int16):
        raise lw.err(f"Concat node '{node.name}' of {out.dtype.name}; the lowering "
                     f"concatenates int8 and int16 tensors")
    n = len(node.inputs)
    dt = out.dtype
    _concat_parts(lw, node, list(node.inputs), [0] * n, [1 << 30] * n, [30] * n, dt.min, dt.max, 0)


def _pool(node: Node, op: str, k, st, pads, x, epi) -> Pool:
    out = node.outputs[0]
    n, c, h, w = x.shape
    return Pool(node=node, op=op, x=x, y=out, n=n, c=c, h=h, w=w, oh=out.shape[2],
                ow=out.shape[3], kh=k[0], kw=k[1], sh=st[0], sw=st[1], pt=pads[0], pl=pads[1],
                include_pad=bool(node.attr("count_include_pad", 0)),
                x_zp=int(node.attr("x_zp", 0)), epi=epi)


def _pool_epi(node: Node, m=None, s=None) -> Epilogue:
    return Epilogue(node.outputs[0].dtype, m, s, zero_point=int(node.attr("y_zp", 0)),
                    lo=int(node.attr("act_min", -128)), hi=int(node.attr("act_max", 127)))


def avgpool(lw: Lowerer, node: Node) -> None:
    x, m, s = node.inputs
    xr = lw.read(x)
    epi = _pool_epi(node, lw.const(m), lw.const(s))
    lw.call(_pool(node, "avg", node.attr("kernel_shape"), node.attr("strides", [1, 1]),
                  node.attr("pads", [0, 0, 0, 0]), xr, epi))


def _same_pads(node: Node, k, st) -> list[int]:
    mode = str(node.attr("auto_pad", "NOTSET"))
    if mode in ("NOTSET", "VALID"):
        return list(node.attr("pads", [0, 0, 0, 0]))
    x, out = node.inputs[0], node.outputs[0]
    pads = [0, 0, 0, 0]
    for i in range(2):
        total = max((out.shape[2 + i] - 1) * st[i] + k[i] - x.shape[2 + i], 0)
        small = total // 2
        pads[i], pads[i + 2] = ((small, total - small) if mode == "SAME_UPPER"
                                else (total - small, small))
    return pads


def maxpool(lw: Lowerer, node: Node) -> None:
    x = node.inputs[0]
    if len(node.outputs) > 1 and (node.outputs[1].users or lw.g.is_output(node.outputs[1])):
        raise lw.err(f"MaxPool node '{node.name}': its Indices output '{node.outputs[1].name}' "
                     f"is used, which no kernel computes (only the pooled values are lowered)")
    if node.op == "onnx.GlobalMaxPool":
        k, st, pads = x.shape[2:], [1, 1], [0, 0, 0, 0]
    else:
        k = list(node.attr("kernel_shape"))
        st = list(node.attr("strides", [1, 1]))
        if list(node.attr("dilations", [1, 1])) != [1, 1] or len(k) != 2:
            raise lw.err(f"MaxPool node '{node.name}' needs 2-D, dilation 1")
        pads = _same_pads(node, k, st)
    lw.call(_pool(node, "max", k, st, pads, lw.read(x), _pool_epi(node)))


def global_avgpool(lw: Lowerer, node: Node) -> None:
    x, m, s = node.inputs
    n, c = x.shape[:2]
    epi = _pool_epi(node, imm(m.data.ravel()[:1]), imm(s.data.ravel()[:1]))
    lw.call(GlobalAvgPool(node=node, x=lw.read(x), y=node.outputs[0], planes=n * c,
                          size=x.type.numel // (n * c), x_zp=int(node.attr("x_zp", 0)), epi=epi))


def _reduce_axes(lw: Lowerer, node: Node, rank: int) -> list[int]:
    axes = node.attr("axes", None)
    if axes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
        if not node.inputs[1].is_const:
            raise lw.err(f"{node.op} node '{node.name}' needs constant axes")
        axes = node.inputs[1].data.ravel().tolist()
    if axes is None or len(axes) == 0:
        if int(node.attr("noop_with_empty_axes", 0)):
            return []
        return list(range(rank))
    return sorted({int(a) % rank for a in axes})


def reduce(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    axes = _reduce_axes(lw, node, x.type.rank)
    kept = [d for i, d in enumerate(x.shape) if i not in axes]
    ks = iter(contiguous_strides(kept))
    ys = [0 if i in axes else next(ks) for i in range(x.type.rank)]
    d, (_, ys) = fold_dims(lw, x.shape, [contiguous_strides(x.shape), ys], 6,
                           f"{node.op} node '{node.name}'")
    op = {"qcc.reduce_mean": "mean", "onnx.ReduceMax": "max", "onnx.ReduceMin": "min"}[node.op]
    epi = _pool_epi(node, *((imm(node.inputs[1].data.ravel()[:1]),
                             imm(node.inputs[2].data.ravel()[:1])) if op == "mean" else ()))
    k = Reduce(node=node, op=op, x=lw.read(x), y=out, dims=d, ys=ys, out_count=out.type.numel,
               x_zp=int(node.attr("x_zp", 0)), epi=epi)
    lw.call(k, scratch=(8 if k.acc_bits == 64 else 4) * out.type.numel)


def resize(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = x.shape
    oh, ow = out.shape[2:]
    mode = node.attr("mode", "nearest")
    ctm = node.attr("coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        nm = node.attr("nearest_mode", "round_prefer_floor")
        ty = lw.table(f"{node.name}.iy", nearest_index(oh, h, ctm, nm))
        tx = lw.table(f"{node.name}.ix", nearest_index(ow, w, ctm, nm))
    else:
        ty = lw.table(f"{node.name}.ty", np.stack(linear_table(oh, h, ctm)))
        tx = lw.table(f"{node.name}.tx", np.stack(linear_table(ow, w, ctm)))
    lw.call(Resize(node=node, mode="nearest" if mode == "nearest" else "linear", x=lw.read(x),
                   ty=ty, tx=tx, y=out, planes=n * c, h=h, w=w, oh=oh, ow=ow,
                   x_zp=int(node.attr("x_zp", 0)), lo=-128, hi=127))


def max_min(lw: Lowerer, node: Node) -> None:
    """Max/Min of tensors sharing scale and zero point (docs/integer_ops.md): raw values."""
    ins = [v for v in node.inputs if v is not None]
    out = node.outputs[0]
    if len(ins) != 2 or any(v.dtype != out.dtype for v in ins):
        raise lw.err(f"{node.op} node '{node.name}' needs two inputs of its output dtype, "
                     f"got {len(ins)}")
    a, b = ins
    d, (sa, sb) = fold_dims(lw, out.shape, [broadcast_strides(a.shape, out.shape),
                                            broadcast_strides(b.shape, out.shape)], 4,
                            f"{node.op} node '{node.name}'")
    epi = Epilogue(out.dtype, lo=out.dtype.min, hi=out.dtype.max)
    same = next((v for v in (a, b) if v.shape == out.shape), None)
    k = Binary(node=node, op="max" if node.op == "onnx.Max" else "min", a=lw.read(a),
               b=lw.read(b), y=out, dims=d, sa=sa, sb=sb, epi=epi)
    lw.call(k, inplace_of=same)


def _clip_bound(lw: Lowerer, node: Node, i: int, attr: str, default: int) -> int:
    v = node.inputs[i] if len(node.inputs) > i else None
    if v is not None:
        if not v.is_const:
            raise lw.err(f"Clip node '{node.name}' needs constant bounds")
        return int(np.asarray(v.data).ravel()[0])
    return int(node.attr(attr, default))


def clip(lw: Lowerer, node: Node) -> None:
    """Clip with quantized integer bounds: an exact requant copy (m = 2^30, s = 30) clamped."""
    x, out = node.inputs[0], node.outputs[0]
    if not x.dtype.is_int:
        raise lw.err(f"Clip node '{node.name}' on {x.dtype.name}")
    lo = max(_clip_bound(lw, node, 1, "min", x.dtype.min), x.dtype.min)
    hi = min(_clip_bound(lw, node, 2, "max", x.dtype.max), x.dtype.max)
    m = lw.table("requant.copy.m", np.array([1 << 30], np.int32))
    s = lw.table("requant.copy.s", np.array([30], np.int32))
    epi = Epilogue(out.dtype, m, s, lo=lo, hi=hi)
    lw.call(Requant(node=node, x=lw.read(x), y=out, outer=1, channels=1, inner=x.type.numel,
                    epi=epi), inplace_of=x)


def argmax(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    axis = int(node.attr("axis", 0)) % x.type.rank
    lw.call(ArgMax(node=node, x=lw.read(x), y=out,
                   outer=int(np.prod(x.shape[:axis], dtype=np.int64)), n=int(x.shape[axis]),
                   inner=int(np.prod(x.shape[axis + 1:], dtype=np.int64)),
                   is_min=node.op == "onnx.ArgMin",
                   select_last=bool(node.attr("select_last_index", 0))))


RULES = {"qcc.add": binary, "qcc.sub": binary, "qcc.mul": binary, "qcc.requant": requant,
         "qcc.lut": lut, "qcc.concat": concat, "onnx.Concat": concat_copy,
         "qcc.avgpool": avgpool, "onnx.MaxPool": maxpool, "onnx.GlobalMaxPool": maxpool,
         "qcc.global_avgpool": global_avgpool, "qcc.reduce_mean": reduce,
         "onnx.ReduceMax": reduce, "onnx.ReduceMin": reduce, "qcc.resize": resize,
         "onnx.Max": max_min, "onnx.Min": max_min, "onnx.Clip": clip, "onnx.ArgMax": argmax,
         "onnx.ArgMin": argmax}
