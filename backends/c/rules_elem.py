"""Lowering rules for elementwise ops, pooling, reductions and resize."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node
from qcc.ops.integer_pool import linear_table, nearest_index

from .lower import Arg, Lowerer, check_node_dtypes
from .program import dtype_code, rule


def contiguous_strides(shape) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= int(d)
    return out[::-1]


def broadcast_strides(in_shape, out_shape) -> list[int]:
    pad = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    st = contiguous_strides(pad)
    return [0 if (p == 1 and o != 1) else s for p, o, s in zip(pad, out_shape, st)]


def fold_dims(shape, strides: list, rank: int, what: str):
    """Drop size-1 dims, merge dims contiguous in every stride vector, pad to ``rank``."""
    dims, sv = [], [[] for _ in strides]
    for i, d in enumerate(shape):
        if d == 1:
            continue
        if dims and all(s[-1] == st[i] * d for s, st in zip(sv, strides)):
            dims[-1] *= int(d)
            for s, st in zip(sv, strides):
                s[-1] = st[i]
            continue
        dims.append(int(d))
        for s, st in zip(sv, strides):
            s.append(int(st[i]))
    if len(dims) > rank:
        raise LoweringError(f"target c: {what} needs {len(dims)} dimensions after folding; "
                            f"the kernel handles {rank}")
    padn = rank - len(dims)
    return [1] * padn + dims, [[0] * padn + s for s in sv]


def _clamp_attrs(node: Node, dt: DType = DType.int8):
    return int(node.attr("act_min", dt.min)), int(node.attr("act_max", dt.max))


def _check_i8_out(node: Node) -> None:
    if node.outputs[0].dtype is not DType.int8:
        raise LoweringError(f"target c: {node.op} node '{node.name}' outputs "
                            f"{node.outputs[0].dtype.short}; the C kernel writes int8")


@rule("qcc.add", "qcc.sub", "qcc.mul")
def binary(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node, (DType.int8, DType.uint8, DType.int16))
    a, b, m, s = node.inputs
    out = node.outputs[0]
    d, (sa, sb) = fold_dims(out.shape, [broadcast_strides(a.shape, out.shape),
                                        broadcast_strides(b.shape, out.shape)], 4,
                            f"{node.op} node '{node.name}'")
    lo, hi = _clamp_attrs(node, out.dtype)
    mv = [int(v) for v in m.data.ravel()]
    op = {"qcc.add": 0, "qcc.sub": 1, "qcc.mul": 2}[node.op]
    params = dict(d=d, sa=sa, sb=sb, op=op, a_zp=int(node.attr("a_zp", 0)),
                  b_zp=int(node.attr("b_zp", 0)), y_zp=int(node.attr("y_zp", 0)), lo=lo, hi=hi,
                  ma=mv[0], mb=mv[1] if len(mv) > 1 else 0, s=int(s.data.ravel()[0]),
                  a_dt=dtype_code(a.dtype), b_dt=dtype_code(b.dtype), y_dt=dtype_code(out.dtype))
    same = next((v for v in (a, b) if v.shape == out.shape and v.dtype == out.dtype), None)
    lw.step(node, "binary", "qcc_binary", "qcc_binary_p", params,
            [lw.read(a, "void"), lw.read(b, "void"), lw.write(out, "void")], inplace_of=same)


@rule("qcc.requant")
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
    params = dict(outer=outer, channels=ch, inner=inner, per_channel=int(m.data.size > 1),
                  x_dt=dtype_code(x.dtype), y_dt=dtype_code(out.dtype),
                  x_zp=int(node.attr("x_zp", 0)), y_zp=int(node.attr("y_zp", 0)), lo=lo, hi=hi)
    lw.step(node, "requant", "qcc_requant_op", "qcc_requant_p", params,
            [lw.read(x), lw.const(m), lw.const(s), lw.write(out)], inplace_of=x)


@rule("qcc.lut")
def lut(lw: Lowerer, node: Node) -> None:
    x, t = node.inputs
    if x.dtype not in (DType.int8, DType.uint8) or t.dtype not in (DType.int8, DType.uint8):
        raise LoweringError(f"target c: qcc.lut node '{node.name}' with {x.dtype.short} input "
                            f"and {t.dtype.short} table; the C kernel takes 8-bit ones")
    params = dict(count=x.type.numel, x_unsigned=int(x.dtype is DType.uint8))
    lw.step(node, "lut", "qcc_lut", "qcc_lut_p", params,
            [lw.read(x, "uint8_t"), lw.const(t, "uint8_t"), lw.write(node.outputs[0], "uint8_t")],
            inplace_of=x)


@rule("qcc.concat")
def concat(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    _check_i8_out(node)
    n = len(node.inputs) - 2
    out = node.outputs[0]
    axis = int(node.attr("axis", 1)) % out.type.rank
    m, s = node.inputs[n].data.ravel(), node.inputs[n + 1].data.ravel()
    zps = node.attr("zps", [0] * n)
    lo, hi = _clamp_attrs(node)
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    stride = int(np.prod(out.shape[axis:], dtype=np.int64))
    off = 0
    for i in range(n):
        x = node.inputs[i]
        inner = int(np.prod(x.shape[axis:], dtype=np.int64))
        params = dict(outer=outer, inner=inner, stride=stride, offset=off, x_zp=int(zps[i]),
                      y_zp=int(node.attr("y_zp", 0)), lo=lo, hi=hi, m=int(m[i]), s=int(s[i]))
        lw.step(node, "concat", "qcc_concat_part", "qcc_concat_p", params,
                [lw.read(x), lw.write(out)])
        off += inner


def _pool_params(node: Node, k, st, pads) -> dict:
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = x.shape
    return dict(n=n, c=c, h=h, w=w, oh=out.shape[2], ow=out.shape[3], kh=k[0], kw=k[1],
                sh=st[0], sw=st[1], pt=pads[0], pl=pads[1],
                include_pad=int(node.attr("count_include_pad", 0)),
                x_zp=int(node.attr("x_zp", 0)), y_zp=int(node.attr("y_zp", 0)),
                lo=int(node.attr("act_min", -128)), hi=int(node.attr("act_max", 127)))


@rule("qcc.avgpool")
def avgpool(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    _check_i8_out(node)
    x, m, s = node.inputs
    params = _pool_params(node, node.attr("kernel_shape"), node.attr("strides", [1, 1]),
                          node.attr("pads", [0, 0, 0, 0]))
    lw.step(node, "pool", "qcc_avgpool", "qcc_pool_p", params,
            [lw.read(x), lw.const(m), lw.const(s), lw.write(node.outputs[0])])


def _same_pads(node: Node, k, st) -> list[int]:
    mode = str(node.attr("auto_pad", "NOTSET"))
    if mode in ("NOTSET", "VALID"):
        return list(node.attr("pads", [0, 0, 0, 0]))
    x, out = node.inputs[0], node.outputs[0]
    pads = [0, 0, 0, 0]
    for i in range(2):
        total = max((out.shape[2 + i] - 1) * st[i] + k[i] - x.shape[2 + i], 0)
        small = total // 2
        pads[i], pads[i + 2] = (small, total - small) if mode == "SAME_UPPER" else (total - small, small)
    return pads


@rule("onnx.MaxPool", "onnx.GlobalMaxPool")
def maxpool(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    x = node.inputs[0]
    if len(node.outputs) > 1 and node.outputs[1].users:
        raise LoweringError(f"target c: MaxPool node '{node.name}': the Indices output is not supported")
    if node.op == "onnx.GlobalMaxPool":
        k, st, pads = x.shape[2:], [1, 1], [0, 0, 0, 0]
    else:
        k = list(node.attr("kernel_shape"))
        st = list(node.attr("strides", [1, 1]))
        if list(node.attr("dilations", [1, 1])) != [1, 1] or len(k) != 2:
            raise LoweringError(f"target c: MaxPool node '{node.name}' needs 2-D, dilation 1")
        pads = _same_pads(node, k, st)
    params = _pool_params(node, k, st, pads)
    lw.step(node, "pool", "qcc_maxpool", "qcc_pool_p", params, [lw.read(x), lw.write(node.outputs[0])])


@rule("qcc.global_avgpool")
def global_avgpool(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    _check_i8_out(node)
    x, m, s = node.inputs
    n, c = x.shape[:2]
    params = dict(planes=n * c, size=x.type.numel // (n * c), x_zp=int(node.attr("x_zp", 0)),
                  y_zp=int(node.attr("y_zp", 0)), lo=int(node.attr("act_min", -128)),
                  hi=int(node.attr("act_max", 127)), m=int(m.data.ravel()[0]),
                  s=int(s.data.ravel()[0]))
    lw.step(node, "pool", "qcc_global_avgpool", "qcc_gap_p", params,
            [lw.read(x), lw.write(node.outputs[0])])


def _reduce_axes(node: Node, rank: int) -> list[int]:
    axes = node.attr("axes", None)
    if axes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
        if not node.inputs[1].is_const:
            raise LoweringError(f"target c: {node.op} node '{node.name}' needs constant axes")
        axes = node.inputs[1].data.ravel().tolist()
    if axes is None or len(axes) == 0:
        if int(node.attr("noop_with_empty_axes", 0)):
            return []
        return list(range(rank))
    return sorted({int(a) % rank for a in axes})


@rule("qcc.reduce_mean", "onnx.ReduceMax", "onnx.ReduceMin")
def reduce(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    _check_i8_out(node)
    x, out = node.inputs[0], node.outputs[0]
    axes = _reduce_axes(node, x.type.rank)
    kept = [d for i, d in enumerate(x.shape) if i not in axes]
    ks = iter(contiguous_strides(kept))
    ys = [0 if i in axes else next(ks) for i in range(x.type.rank)]
    d, (_, ys) = fold_dims(x.shape, [contiguous_strides(x.shape), ys], 6,
                           f"{node.op} node '{node.name}'")
    op = {"qcc.reduce_mean": 0, "onnx.ReduceMax": 1, "onnx.ReduceMin": 2}[node.op]
    m = int(node.inputs[1].data.ravel()[0]) if op == 0 else 0
    s = int(node.inputs[2].data.ravel()[0]) if op == 0 else 1
    params = dict(d=d, ys=ys, out_count=out.type.numel, op=op, x_zp=int(node.attr("x_zp", 0)),
                  y_zp=int(node.attr("y_zp", 0)), lo=int(node.attr("act_min", -128)),
                  hi=int(node.attr("act_max", 127)), m=m, s=s)
    lw.step(node, "reduce", "qcc_reduce", "qcc_reduce_p", params,
            [lw.read(x), lw.write(out), Arg("scratch", ctype="int32_t")],
            scratch=4 * out.type.numel)


@rule("qcc.resize")
def resize(lw: Lowerer, node: Node) -> None:
    check_node_dtypes(node)
    x, out = node.inputs[0], node.outputs[0]
    n, c, h, w = x.shape
    oh, ow = out.shape[2:]
    mode = node.attr("mode", "nearest")
    ctm = node.attr("coordinate_transformation_mode", "half_pixel")
    params = dict(planes=n * c, h=h, w=w, oh=oh, ow=ow, x_zp=int(node.attr("x_zp", 0)),
                  lo=-128, hi=127)
    if mode == "nearest":
        nm = node.attr("nearest_mode", "round_prefer_floor")
        ty = lw.table(f"{node.name}.iy", nearest_index(oh, h, ctm, nm))
        tx = lw.table(f"{node.name}.ix", nearest_index(ow, w, ctm, nm))
        fn = "qcc_resize_nearest"
    else:
        ty = lw.table(f"{node.name}.ty", np.stack(linear_table(oh, h, ctm)))
        tx = lw.table(f"{node.name}.tx", np.stack(linear_table(ow, w, ctm)))
        fn = "qcc_resize_linear"
    lw.step(node, "resize", fn, "qcc_resize_p", params, [lw.read(x), ty, tx, lw.write(out)])


@rule("onnx.Max", "onnx.Min")
def max_min(lw: Lowerer, node: Node) -> None:
    """Max/Min of tensors sharing scale and zero point (docs/integer_ops.md): raw values."""
    check_node_dtypes(node, (DType.int8, DType.uint8, DType.int16))
    ins = [v for v in node.inputs if v is not None]
    out = node.outputs[0]
    if len(ins) != 2 or any(v.dtype != out.dtype for v in ins):
        raise LoweringError(f"target c: {node.op} node '{node.name}' needs two inputs of its "
                            f"output dtype, got {len(ins)}")
    a, b = ins
    d, (sa, sb) = fold_dims(out.shape, [broadcast_strides(a.shape, out.shape),
                                        broadcast_strides(b.shape, out.shape)], 4,
                            f"{node.op} node '{node.name}'")
    code = dtype_code(out.dtype)
    params = dict(d=d, sa=sa, sb=sb, op=3 if node.op == "onnx.Max" else 4, a_zp=0, b_zp=0,
                  y_zp=0, lo=out.dtype.min, hi=out.dtype.max, ma=0, mb=0, s=1, a_dt=code,
                  b_dt=code, y_dt=code)
    same = next((v for v in (a, b) if v.shape == out.shape), None)
    lw.step(node, "binary", "qcc_binary", "qcc_binary_p", params,
            [lw.read(a, "void"), lw.read(b, "void"), lw.write(out, "void")], inplace_of=same)


def _clip_bound(node: Node, i: int, attr: str, default: int) -> int:
    v = node.inputs[i] if len(node.inputs) > i else None
    if v is not None:
        if not v.is_const:
            raise LoweringError(f"target c: Clip node '{node.name}' needs constant bounds")
        return int(np.asarray(v.data).ravel()[0])
    return int(node.attr(attr, default))


@rule("onnx.Clip")
def clip(lw: Lowerer, node: Node) -> None:
    """Clip with quantized integer bounds: an exact requant copy (m = 2^30, s = 30) clamped."""
    x, out = node.inputs[0], node.outputs[0]
    if x.dtype not in (DType.int8, DType.uint8, DType.int16):
        raise LoweringError(f"target c: Clip node '{node.name}' on {x.dtype.name}")
    lo = max(_clip_bound(node, 1, "min", x.dtype.min), x.dtype.min)
    hi = min(_clip_bound(node, 2, "max", x.dtype.max), x.dtype.max)
    params = dict(outer=1, channels=1, inner=x.type.numel, per_channel=0,
                  x_dt=dtype_code(x.dtype), y_dt=dtype_code(out.dtype), x_zp=0, y_zp=0,
                  lo=lo, hi=hi)
    m = lw.table("requant.copy.m", np.array([1 << 30], np.int32))
    s = lw.table("requant.copy.s", np.array([30], np.int32))
    lw.step(node, "requant", "qcc_requant_op", "qcc_requant_p", params,
            [lw.read(x), m, s, lw.write(out)], inplace_of=x)


@rule("onnx.ArgMax", "onnx.ArgMin")
def argmax(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    if x.dtype not in (DType.int8, DType.uint8, DType.int16, DType.int32):
        raise LoweringError(f"target c: {node.op} node '{node.name}' on {x.dtype.name}")
    axis = int(node.attr("axis", 0)) % x.type.rank
    params = dict(outer=int(np.prod(x.shape[:axis], dtype=np.int64)), n=int(x.shape[axis]),
                  inner=int(np.prod(x.shape[axis + 1:], dtype=np.int64)),
                  x_dt=dtype_code(x.dtype), is_min=int(node.op == "onnx.ArgMin"),
                  select_last=int(node.attr("select_last_index", 0)))
    lw.step(node, "reduce", "qcc_argmax", "qcc_argmax_p", params,
            [lw.read(x, "void"), lw.write(out, "int64_t")])
