"""Lowering of float pre-processing on integer tensors into thresholds.

A quantizer may leave a short float chain on an integer tensor, e.g. an attention
mask ``Cast -> Sub(1, .) -> Mul(-10000) -> qcc.quantize``.  Every op of the chain
is elementwise with scalar constants and monotone, so the chain is a monotone step
function from the integer input to the quantized output with at most 2^bits - 1
steps.  Its thresholds are found at compile time by bisection over the input
dtype's whole range, evaluating the interpreter's own ops; the call is a
:class:`~qcc.lower.kernels.Threshold` (no float at run time, bit-exact for every
input value).
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Node, Value
from qcc.ops import lookup

from .kernels import Threshold
from .program import Lowerer
from .rules_logic import integer_arith, integer_cast, integer_operands

CHAIN_OPS = ("onnx.Cast", "onnx.Add", "onnx.Sub", "onnx.Mul", "onnx.Div", "onnx.Neg")
VIEWS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")


def float_prep(lw: Lowerer, node: Node) -> None:
    """No call: a float chain op is folded into the thresholds of the ``qcc.quantize`` it
    feeds.  On integer tensors Cast/Add/Sub/Mul are raw-integer logic ops."""
    out = node.outputs[0]
    if node.op in ("onnx.Cast", "onnx.Add", "onnx.Sub", "onnx.Mul") and integer_operands(node):
        (integer_cast if node.op == "onnx.Cast" else integer_arith)(lw, node)
        return
    if not out.dtype.is_float:
        raise lw.err(f"{node.op} node '{node.name}' on integer tensors has no kernel "
                     f"(output '{out.name}' {out.dtype.name})")
    for u in out.users:
        if u.op not in CHAIN_OPS + VIEWS + ("qcc.quantize",):
            raise lw.err(f"float {node.op} node '{node.name}' feeds {u.op} '{u.name}'; float "
                         f"arithmetic is only lowered when a qcc.quantize ends it")
    if lw.g.is_output(out):
        raise lw.err(f"float {node.op} node '{node.name}' makes graph output '{out.name}'; "
                     f"the integer program has no float")


def chain(lw: Lowerer, node: Node):
    """(integer source value, chain nodes from the source up) of a quantize of a float chain."""
    nodes, v = [], node.inputs[0]
    while v.dtype.is_float:
        p = v.producer
        if p is None or p.op not in CHAIN_OPS + VIEWS:
            what = "a graph input" if p is None else f"{p.op} '{p.name}'"
            raise lw.err(f"qcc.quantize node '{node.name}' quantizes float '{v.name}' made by "
                         f"{what}; only elementwise Cast/Add/Sub/Mul/Div/Neg chains on an "
                         f"integer tensor are lowered")
        live = [i for i in p.inputs if i is not None and not i.is_const]
        consts = [i for i in p.inputs[1:] if i is not None and i.is_const]
        if len(live) != 1 or (p.op not in VIEWS and any(c.type.numel != 1 for c in consts)):
            raise lw.err(f"{p.op} node '{p.name}' in the float chain of '{node.name}' needs "
                         f"one tensor input and scalar constants")
        if p.op == "onnx.Div" and live[0] is not p.inputs[0]:
            raise lw.err(f"Div node '{p.name}' divides by the tensor; only division by a "
                         f"constant is lowered")
        nodes.append(p)
        v = live[0]
    return v, nodes[::-1]


def evaluator(src: Value, nodes: list, quant: Node):
    """The chain (and the quantize) as a function of int64 source values, by the
    interpreter's own op implementations."""
    def f(xs: np.ndarray) -> np.ndarray:
        cur = np.asarray(xs, src.dtype.np)
        val = src
        for n in nodes + [quant]:
            if n.op in VIEWS:
                val = n.outputs[0]
                continue
            args = [cur if i is val else (None if i is None else i.data) for i in n.inputs]
            cur = np.asarray(lookup(n.op).run(n, args)[0]).ravel()
            val = n.outputs[0]
        return cur.astype(np.int64)
    return f


def step_function(f, lo: int, hi: int):
    """Thresholds t (ascending) and values v of a monotone f on [lo, hi]: f(x) = v[#(t <= x)]."""
    ylo, yhi = (int(y) for y in f(np.array([lo, hi])))
    todo, cuts = ([(lo, hi, ylo, yhi)] if ylo != yhi else []), []
    while todo:
        mids = [a + (b - a) // 2 for a, b, _, _ in todo]
        ym = f(np.array(mids)).tolist()
        nxt = []
        for (a, b, ya, yb), mid, y in zip(todo, mids, ym):
            if b - a == 1:
                cuts.append((b, yb))
                continue
            if ya != y:
                nxt.append((a, mid, ya, y))
            if y != yb:
                nxt.append((mid, b, y, yb))
        todo = nxt
    cuts.sort()
    return [c for c, _ in cuts], [ylo] + [y for _, y in cuts]


def monotone_steps(lw: Lowerer, node: Node, src: Value, f):
    """(thresholds, values) of ``f`` over ``src``'s dtype, checked on a dense probe."""
    info = np.iinfo(src.dtype.np)
    t, vals = step_function(f, int(info.min), int(info.max))
    probe = np.unique(np.concatenate([np.arange(-4096, 4097), np.array(t, np.int64),
                                      np.array(t, np.int64) - 1]).clip(info.min, info.max))
    want = f(probe)
    got = np.array(vals)[np.searchsorted(np.array(t, np.int64), probe, side="right")]
    if not np.array_equal(want, got):
        raise lw.err(f"{node.op} node '{node.name}': the float chain from '{src.name}' is not "
                     f"monotone; it cannot be lowered to integers")
    return t, vals


def quantize_chain(lw: Lowerer, node: Node) -> None:
    src, nodes = chain(lw, node)
    out = node.outputs[0]
    if src.dtype.bits not in (8, 16, 32, 64) or src.type.numel != out.type.numel:
        raise lw.err(f"qcc.quantize node '{node.name}': the chain from '{src.name}' is not "
                     f"elementwise on an integer tensor")
    t, vals = monotone_steps(lw, node, src, evaluator(src, nodes, node))
    tt = lw.table(f"{node.name}.thresholds", np.array(t or [0], np.int64), DType.int64)
    tv = lw.table(f"{node.name}.values", np.array(vals, np.int32))
    lw.call(Threshold(node=node, x=lw.read(src), thresholds=tt, values=tv, y=out,
                      count=out.type.numel, nt=len(t)))


RULES = {**{op: float_prep for op in CHAIN_OPS}, "qcc.quantize": quantize_chain}
