"""lower-thresholds: a ``qcc.quantize`` of a float chain on an integer tensor becomes a
``qcc.threshold`` (a meaning-preserving change the reference interpreter executes).

A quantizer may leave a short float chain on an integer tensor, e.g. an attention mask
``Cast -> Sub(1, .) -> Mul(-10000) -> qcc.quantize``.  Every op of the chain is
elementwise with scalar constants and monotone, so the chain is a monotone step function
of the integer input with at most 2^bits - 1 steps.  Its thresholds are found by bisection
over the input dtype's whole range, evaluating the interpreter's own ops, and checked on a
dense probe; the quantize becomes ``qcc.threshold(x, thresholds, values)`` (bit-exact for
every input value) and ``dce`` drops the chain.  A chain that is not monotone, or not
elementwise on an integer tensor, fails naming the node: no integer target can run it.
Quantizes of float graph inputs (the boundary) and of other float values are left alone.
"""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Graph, Node, Value
from qcc.ops import lookup
from qcc.passmanager import PassContext, register_pass

CHAIN_OPS = ("onnx.Cast", "onnx.Add", "onnx.Sub", "onnx.Mul", "onnx.Div", "onnx.Neg")
VIEWS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")
PROBE = 4096   # every input in [-PROBE, PROBE] (and around each threshold) is checked


def chain_of(node: Node):
    """(integer source, chain nodes from the source up) of a quantize of a float chain, or
    None when the quantized value is not made by such a chain."""
    nodes, v = [], node.inputs[0]
    while v.dtype.is_float:
        p = v.producer
        if p is None or p.op not in CHAIN_OPS + VIEWS:
            return None
        live = [i for i in p.inputs if i is not None and not i.is_const]
        consts = [i for i in p.inputs[1:] if i is not None and i.is_const]
        if len(live) != 1 or (p.op not in VIEWS and any(c.type.numel != 1 for c in consts)):
            raise LoweringError(f"{p.op} node '{p.name}' in the float chain of '{node.name}' "
                                f"needs one tensor input and scalar constants")
        if p.op == "onnx.Div" and live[0] is not p.inputs[0]:
            raise LoweringError(f"Div node '{p.name}' divides by the tensor; only division by "
                                f"a constant is lowered")
        nodes.append(p)
        v = live[0]
    return v, nodes[::-1]


def evaluator(src: Value, nodes: list, quant: Node):
    """The chain and the quantize as a function of source values (the interpreter's ops)."""
    def f(xs: np.ndarray) -> np.ndarray:
        cur = np.asarray(xs).astype(src.dtype.np)
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


def source_range(src: Value) -> tuple[int, int]:
    """The values an integer or bool source can take (a bool, e.g. a one-hot made by Equal,
    is 0 or 1)."""
    if src.dtype == DType.bool:
        return 0, 1
    info = np.iinfo(src.dtype.np)
    return int(info.min), int(info.max)


def thresholds(node: Node, src: Value, f):
    """(thresholds, values) of ``f`` over ``src``'s dtype, checked on a dense probe."""
    lo, hi = source_range(src)
    t, vals = step_function(f, lo, hi)
    ta = np.array(t, np.int64)
    probe = np.unique(np.concatenate([np.arange(-PROBE, PROBE + 1), ta, ta - 1]).clip(lo, hi))
    got = np.array(vals)[np.searchsorted(ta, probe, side="right")]
    if not np.array_equal(f(probe), got):
        raise LoweringError(f"qcc.quantize node '{node.name}': the float chain from "
                            f"'{src.name}' is not monotone; it cannot be lowered to integers")
    return ta, np.array(vals, np.int32)


@register_pass("lower-thresholds", "quantized float chains on integer tensors -> qcc.threshold",
               kind="integer")
def lower_thresholds(graph: Graph, ctx: PassContext) -> bool:
    done = []
    for node in list(graph.nodes):
        if node.op != "qcc.quantize":
            continue
        found = chain_of(node)
        if found is None:
            continue
        src, nodes = found
        out = node.outputs[0]
        integer = src.dtype == DType.bool or src.dtype.bits in (8, 16, 32, 64)
        if not integer or src.type.numel != out.type.numel:
            raise LoweringError(f"qcc.quantize node '{node.name}': the chain from "
                                f"'{src.name}' is not elementwise on an integer tensor")
        t, v = thresholds(node, src, evaluator(src, nodes, node))
        tc = graph.add_const(f"{node.name}.thresholds", t, DType.int64)
        vc = graph.add_const(f"{node.name}.values", v, DType.int32)
        graph.replace_node(node, "qcc.threshold", [src, tc, vc],
                           {"dtype": node.attr("dtype", "i8")})
        done.append((node.name, len(t)))
    ctx.note("lower-thresholds", rewritten=len(done),
             thresholds={name: n for name, n in done})
    return bool(done)
