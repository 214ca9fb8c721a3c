"""Lowering rules of the elementwise ops: requant, add/sub/mul, LUT, i-GELU, concat,
integer logic (comparisons, boolean and bitwise ops, Where, Cast, wrapping integer
arithmetic, Max/Min/Clip) and ``qcc.threshold`` (a monotone step function of an integer
input, made by the lower-thresholds pass from a quantized float chain)."""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node

from .adapter import CHAIN_OPS
from .calls import OUT_NP
from .render import TL_TYPES
from .calls_elem import bstrides, binary_call, ewise_call, igelu_call, lut_call, requant_call
from .program import TORCH_DTYPES, Lowerer, rule
from .rules_dense import epi

COMPARE = {"onnx.Equal": "av == bv", "onnx.Less": "av < bv", "onnx.LessOrEqual": "av <= bv",
           "onnx.Greater": "av > bv", "onnx.GreaterOrEqual": "av >= bv",
           "onnx.And": "(av != 0) & (bv != 0)", "onnx.Or": "(av != 0) | (bv != 0)",
           "onnx.Xor": "(av != 0) ^ (bv != 0)", "onnx.Not": "av == 0"}
ARITH = {"onnx.BitwiseAnd": "av & bv", "onnx.BitwiseOr": "av | bv", "onnx.BitwiseXor": "av ^ bv",
         "onnx.BitwiseNot": "~av", "onnx.Add": "av + bv", "onnx.Sub": "av - bv",
         "onnx.Mul": "av * bv", "onnx.Max": "tl.maximum(av, bv)", "onnx.Min": "tl.minimum(av, bv)",
         "onnx.Cast": "av", "onnx.Where": "tl.where(av != 0, bv, wv)",
         "onnx.Clip": "tl.minimum(tl.maximum(av, bv), wv)"}


def tdt(v) -> str:
    return TORCH_DTYPES[v.dtype] if v.dtype is not DType.bool else "bool"


@rule("qcc.requant")
def requant(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    e = epi(lw, node, 1, {"i32": "int32"})
    call = requant_call(lw.kname("requant"), x.shape, e["out"], e["m"], e["s"],
                        int(node.attr("x_zp", 0)), e["y_zp"], e["lo"], e["hi"],
                        int(node.attr("axis", 1)) if x.type.rank else 0)
    lw.step(node, call, {"a": x}, out)


@rule("qcc.add", "qcc.sub", "qcc.mul")
def binary(lw: Lowerer, node: Node) -> None:
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    e = epi(lw, node, 2)
    if node.op in ("qcc.add", "qcc.sub") and fuse_residual(lw, node, e):
        return
    call = binary_call(lw.kname("binary"), node.op[4:], a.shape, b.shape, out.shape, e["out"],
                       e["m"], e["s"], int(node.attr("a_zp", 0)), int(node.attr("b_zp", 0)),
                       e["y_zp"], e["lo"], e["hi"])
    lw.step(node, call, {"a": a, "b": b}, out)


def _writer(lw: Lowerer, v):
    """Index of the last step writing ``v``'s storage, or None."""
    r = lw.find(v)
    for i in range(len(lw.p.steps) - 1, -1, -1):
        st = lw.p.steps[i]
        if lw.find(st.out) is r or any(lw.find(o) is r for o in st.extra_outs.values()):
            return i
    return None


def fuse_residual(lw: Lowerer, node: Node, e: dict) -> bool:
    """Fold a residual ``qcc.add``/``qcc.sub`` into the epilogue of the GEMM/conv call that
    makes one operand, when that operand has no other reader: the call requantizes and
    clamps as before, then adds the other operand with the add's own single rounding."""
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    if not (tuple(a.shape) == tuple(b.shape) == tuple(out.shape)) or a is b:
        return False
    m, s = np.asarray(e["m"]).reshape(-1), int(np.asarray(e["s"]).ravel()[0])
    zps = (int(node.attr("a_zp", 0)), int(node.attr("b_zp", 0)))
    for side, (y, r) in enumerate(((a, b), (b, a))):
        if node.op == "qcc.sub" and side == 1:
            break
        i = _writer(lw, y)
        if i is None or lw.find(y) is not y or len(y.users) != 1 or lw.g.is_output(y):
            continue
        st = lw.p.steps[i]
        c = st.call
        if c.family != "gemm" or not c.cfg["e"]["requant"] or c.cfg.get("res") or st.out_offset:
            continue
        ri = None if lw.const_data(r) is not None else _writer(lw, r)
        if ri is not None and ri >= i:  # the other operand is computed after the GEMM
            continue
        c.cfg["res"] = {"op": node.op[4:], "out_tl": TL_TYPES[e["out"]]}
        c.cfg["fused"] = node.name
        c.params.update(RMA=int(m[side]), RMB=int(m[1 - side]), RS=s, RZA=zps[side],
                        RZB=zps[1 - side], RZY=e["y_zp"], RLO=e["lo"], RHI=e["hi"])
        if lw.const_data(r) is not None:
            c.consts["r"] = lw.const_data(r)
        else:
            st.reads["r"] = r
        st.out = out
        return True
    return False


@rule("qcc.lut")
def lut(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    call = lut_call(lw.kname("lut"), x.shape, TORCH_DTYPES[x.dtype], lw.const_data(node.inputs[1]),
                    TORCH_DTYPES[out.dtype])
    lw.step(node, call, {"a": x}, out)


@rule("qcc.igelu")
def igelu(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    e = epi(lw, node, 1)
    call = igelu_call(lw.kname("igelu"), x.shape, e["out"], node.attrs, e["m"], e["s"],
                      int(node.attr("x_zp", 0)), e["y_zp"], e["lo"], e["hi"])
    lw.step(node, call, {"a": x}, out)


def concat_parts(lw: Lowerer, node: Node, xs: list, make) -> None:
    """One call per input writing its slab of the output (strided destination)."""
    out = node.outputs[0]
    axis = int(node.attr("axis", 1)) % out.type.rank
    inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    so = bstrides(out.shape, out.shape)
    off = 0
    for i, x in enumerate(xs):
        lw.step(node, make(i, x, so), {"a": x}, out, off * inner)
        off += x.shape[axis]


@rule("qcc.concat")
def concat(lw: Lowerer, node: Node) -> None:
    n = len(node.inputs) - 2
    m, s = lw.const_data(node.inputs[n]), lw.const_data(node.inputs[n + 1])
    e = epi(lw, node, n)
    zps = node.attr("zps", [0] * n)
    concat_parts(lw, node, node.inputs[:n], lambda i, x, so: requant_call(
        lw.kname("concat"), x.shape, e["out"], m[i:i + 1], s[i:i + 1], int(zps[i]), e["y_zp"],
        e["lo"], e["hi"], 0, out_strides=so))


def _logic_expr(node: Node) -> tuple:
    if node.op in COMPARE:
        return COMPARE[node.op], True
    if node.op in ARITH:
        return ARITH[node.op], node.outputs[0].dtype is DType.bool
    raise LoweringError(f"target triton: no integer kernel for {node.op} node '{node.name}'")


@rule(*COMPARE, *[k for k in ARITH if k not in CHAIN_OPS])
def logic(lw: Lowerer, node: Node) -> None:
    out = node.outputs[0]
    ins = list(node.inputs)
    if node.op == "onnx.Clip":  # absent bounds: the dtype's extremes (numpy scalars)
        dt = node.inputs[0].dtype
        ins += [None] * (3 - len(ins))
        ins = [ins[0]] + [np.array(b, np.int64) if v is None else v
                          for v, b in zip(ins[1:], (dt.min, dt.max))]
    if (node.op in ("onnx.Max", "onnx.Min") and len(ins) != 2) or any(v is None for v in ins):
        raise LoweringError(f"target triton: {node.op} node '{node.name}' needs "
                            f"{'two' if node.op in ('onnx.Max', 'onnx.Min') else 'all'} inputs")
    for v in ins:
        if not isinstance(v, np.ndarray) and (v.dtype.is_float or v.dtype not in TORCH_DTYPES):
            raise LoweringError(f"target triton: {node.op} node '{node.name}' on {v.dtype.name} "
                                f"'{v.name}' has no integer kernel")
    if out.dtype.is_float:
        raise LoweringError(f"target triton: {node.op} node '{node.name}' computes float "
                            f"'{out.name}'; the kernels have no float")
    expr, as_bool = _logic_expr(node)
    roles = ["a", "b", "w"][:len(ins)]
    consts = {r: v for r, v in zip(roles, ins) if isinstance(v, np.ndarray)}
    call = ewise_call(lw.kname("logic"), "logic", out.shape, [v.shape for v in ins], tdt(out),
                      consts=consts, expr=expr, out_bool=as_bool)
    lw.step(node, call, {r: v for r, v in zip(roles, ins) if r not in consts}, out)


@rule(*CHAIN_OPS)
def float_chain(lw: Lowerer, node: Node) -> None:
    """Integer operands: a logic kernel.  A float one has no kernel: a float chain on an
    integer tensor ending in a qcc.quantize became a qcc.threshold (lower-thresholds)."""
    if not node.outputs[0].dtype.is_float:
        logic(lw, node)
        return
    raise LoweringError(f"target triton: float {node.op} node '{node.name}' has no kernel; "
                        f"float arithmetic is only lowered when a qcc.quantize ends a chain on "
                        f"an integer tensor (the lower-thresholds pass)")


@rule("qcc.threshold")
def threshold(lw: Lowerer, node: Node) -> None:
    """``qcc.threshold(x, thresholds, values)`` (made by the lower-thresholds pass)."""
    src, tc, vc = node.inputs
    t = np.asarray(lw.const_data(tc), np.int64).ravel()
    vals = np.asarray(lw.const_data(vc), np.int64).ravel()
    out = node.outputs[0]
    call = ewise_call(lw.kname("threshold"), "threshold", out.shape, [src.shape],
                      TORCH_DTYPES[out.dtype], {"NT": len(t)},
                      {"t": t if t.size else np.zeros(1, np.int64),  # NT = 0: never read
                       "m": vals.astype(np.int32)})
    lw.step(node, call, {"a": src}, out)


_ = OUT_NP
