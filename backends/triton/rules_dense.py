"""Lowering rules of the dense ops: ``qcc.conv2d``, ``qcc.linear``, ``qcc.matmul``
(int8 GEMM / implicit-GEMM kernels with the epilogue fused)."""

from __future__ import annotations

from qcc.errors import LoweringError
from qcc.ir import DType, Node

from .calls import OUT_NP, conv_call, conv_transpose_call, linear_call, matmul_call
from .program import TORCH_DTYPES, Lowerer, rule

ACT = (DType.int8, DType.uint8)
BITS = {DType.int8: 8, DType.int4: 4, DType.int2: 2}


def _in(node: Node, i: int):
    return node.inputs[i] if i < len(node.inputs) else None


def epi(lw: Lowerer, node: Node, i_m: int, extra_out=None) -> dict:
    """Epilogue keyword arguments of a call: m/s constants, out dtype, y_zp, clamp."""
    mv = _in(node, i_m)
    if mv is None:
        return dict(m=None, s=None, out="int32")
    out = dict(OUT_NP, **(extra_out or {}))[node.attr("dtype", "i8")]
    dt = node.outputs[0].dtype
    return dict(m=lw.const_data(mv), s=lw.const_data(node.inputs[i_m + 1]), out=out,
                y_zp=int(node.attr("y_zp", 0)), lo=int(node.attr("act_min", dt.min)),
                hi=int(node.attr("act_max", dt.max)))


def _check_act(node: Node, v) -> str:
    if v.dtype not in ACT:
        raise LoweringError(f"target triton: {node.op} node '{node.name}' input '{v.name}' is "
                            f"{v.dtype.name}; the GEMM kernels take int8/uint8 activations")
    return TORCH_DTYPES[v.dtype]


def _weights(lw: Lowerer, node: Node):
    w = lw.const_data(node.inputs[1])
    if w is None:
        raise LoweringError(f"target triton: {node.op} node '{node.name}' needs constant weights")
    bias = lw.const_data(_in(node, 2))
    gm = lw.const_data(_in(node, 5))
    grp = dict(gmult=gm, gsz=int(node.attr("group_size", 0)), gsh=int(node.attr("group_shift", 16)))
    return w, BITS[node.inputs[1].dtype], bias, grp


@rule("qcc.conv2d")
def conv2d(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    xd = _check_act(node, x)
    w, bits, bias, grp = _weights(lw, node)
    e = epi(lw, node, 3)
    group = int(node.attr("group", 1))
    if group == x.shape[1] == w.shape[0] and grp["gmult"] is None:  # depthwise: direct taps
        from .calls_elem import depthwise_call
        from .rules_move import pool_taps

        idx = pool_taps(node, w.shape[2:], x, out)
        call = depthwise_call(lw.kname("dwconv"), x.shape, w, bias, e.pop("m"), e.pop("s"),
                              e.pop("out"), idx, x_zp=int(node.attr("x_zp", 0)), **e)
        lw.step(node, call, {"x": x}, out)
        return
    call = conv_call(lw.kname("conv"), x.shape, xd, w, bits, bias, e.pop("m"), e.pop("s"),
                     e.pop("out"), node.attr("strides", [1, 1]), node.attr("pads", [0, 0, 0, 0]),
                     node.attr("dilations", [1, 1]), int(node.attr("group", 1)),
                     x_zp=int(node.attr("x_zp", 0)), **e, **grp)
    lw.step(node, call, {"a": x}, out)


@rule("qcc.linear")
def linear(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    xd = _check_act(node, x)
    w, bits, bias, grp = _weights(lw, node)
    e = epi(lw, node, 3)
    call = linear_call(lw.kname("linear"), x.shape, xd, w, bits, bias, e.pop("m"), e.pop("s"),
                       e.pop("out"), x_zp=int(node.attr("x_zp", 0)), **e, **grp)
    lw.step(node, call, {"a": x}, out)


@rule("qcc.matmul")
def matmul(lw: Lowerer, node: Node) -> None:
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    ad, bd = _check_act(node, a), _check_act(node, b)
    e = epi(lw, node, 2)
    call = matmul_call(lw.kname("matmul"), a.shape, ad, b.shape, bd, e.pop("m"), e.pop("s"),
                       e.pop("out"), int(node.attr("a_zp", 0)), int(node.attr("b_zp", 0)), **e)
    lw.step(node, call, {"a": a, "b": b}, out)


@rule("qcc.conv_transpose2d")
def conv_transpose2d(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    xd = _check_act(node, x)
    w, bits, bias, _ = _weights(lw, node)
    e = epi(lw, node, 3)
    call = conv_transpose_call(lw.kname("convt"), x.shape, xd, w, bits, bias, e.pop("m"),
                               e.pop("s"), e.pop("out"), out.shape[2:],
                               node.attr("strides", [1, 1]), node.attr("pads", [0, 0, 0, 0]),
                               node.attr("dilations", [1, 1]), int(node.attr("group", 1)),
                               x_zp=int(node.attr("x_zp", 0)), **e)
    lw.step(node, call, {"a": x}, out)

