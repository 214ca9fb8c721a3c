"""Lowering rules for the integer transformer ops (``qcc.isoftmax``, ``qcc.igelu``,
``qcc.ilayernorm``) and for float pre-processing of integer inputs.

Float pre-processing: a quantizer may leave a short float chain on an integer
tensor, e.g. an attention mask ``Cast -> Sub(1, .) -> Mul(-10000) ->
qcc.quantize``.  Every op of the chain is elementwise with scalar constants and
monotone, so the chain is a monotone step function from the integer input to
the quantized output with at most 2^bits - 1 steps.  Its thresholds are found at
compile time by bisection over the input dtype's whole range, evaluating the
interpreter's own ops, and the C code is a threshold search (no float at run
time, bit-exact for every input value).
"""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import Node, Value
from qcc.ops import lookup

from .lower import Arg, Lowerer, NULL
from .program import dtype_code, rule
from .rules_elem import broadcast_strides, fold_dims
from .rules_logic import integer_arith, integer_cast, integer_operands

CHAIN_OPS = ("onnx.Cast", "onnx.Add", "onnx.Sub", "onnx.Mul", "onnx.Div", "onnx.Neg")
VIEWS = ("onnx.Reshape", "onnx.Flatten", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Identity")


def _last_axis(node: Node, rank: int) -> None:
    axis = int(node.attr("axis", -1))
    if axis % rank != rank - 1:
        raise LoweringError(f"target c: {node.op} node '{node.name}' normalizes axis {axis}; "
                            f"the C kernel handles the last axis only")


def _epi(node: Node, i_m: int, dt) -> dict:
    return dict(m=int(node.inputs[i_m].data.ravel()[0]), s=int(node.inputs[i_m + 1].data.ravel()[0]),
                y_zp=int(node.attr("y_zp", 0)), lo=int(node.attr("act_min", dt.min)),
                hi=int(node.attr("act_max", dt.max)))


@rule("qcc.isoftmax")
def isoftmax(lw: Lowerer, node: Node) -> None:
    x, m, s = node.inputs[:3]
    mask = node.inputs[3] if len(node.inputs) > 3 else None
    out = node.outputs[0]
    rank = x.type.rank
    _last_axis(node, rank)
    n = int(x.shape[-1])
    rows = x.shape[:-1]
    ml, ms = 0, [0, 0, 0]
    if mask is not None:
        if mask.dtype.bits != 8:
            raise LoweringError(f"target c: isoftmax node '{node.name}' mask '{mask.name}' is "
                                f"{mask.dtype.name}; the C kernel takes an 8-bit mask")
        bs = broadcast_strides(mask.shape, x.shape)
        ml = bs[-1]
        d, (ms,) = fold_dims(rows, [bs[:-1]], 3, f"isoftmax node '{node.name}' mask")
    else:
        d, _ = fold_dims(rows, [], 3, f"isoftmax node '{node.name}'")
    a = node.attrs
    ib = a.get("variant", "ibert") == "ibert"
    params = dict(d=d, ms=ms, ml=ml, len=n, x_dt=dtype_code(x.dtype), variant=0 if ib else 1,
                  frac_bits=int(a["frac_bits"]), d_clip=int(a["d_clip"]), z_max=int(a["z_max"]),
                  q_ln2=int(a.get("q_ln2", 1)) if ib else 1, q_b=int(a.get("q_b", 0)),
                  q_c=int(a.get("q_c", 0)), e_shift=int(a.get("e_shift", 0)),
                  m=int(m.data.ravel()[0]), s=int(s.data.ravel()[0]))
    margs = lw.read(mask, "uint8_t") if mask is not None else NULL
    lw.step(node, "transformer", "qcc_isoftmax", "qcc_isoftmax_p", params,
            [lw.read(x, "void"), margs, lw.write(out, "uint8_t"), Arg("scratch", ctype="int32_t")],
            scratch=4 * n)


@rule("qcc.igelu")
def igelu(lw: Lowerer, node: Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    a = node.attrs
    params = dict(count=x.type.numel, x_dt=dtype_code(x.dtype), y_dt=dtype_code(out.dtype),
                  x_zp=int(a.get("x_zp", 0)), q_l=int(a["q_l"]), c1=int(a["c1"]),
                  f_shift=int(a["f_shift"]), x_max=int(a["x_max"]), **_epi(node, 1, out.dtype))
    lw.step(node, "transformer", "qcc_igelu", "qcc_igelu_p", params,
            [lw.read(x, "void"), lw.write(out, "void")],
            inplace_of=x if x.dtype == out.dtype else None)


@rule("qcc.ilayernorm")
def ilayernorm(lw: Lowerer, node: Node) -> None:
    x, g, b = node.inputs[:3]
    out = node.outputs[0]
    rank = x.type.rank
    axis = int(node.attr("axis", -1)) % rank
    n = int(np.prod(x.shape[axis:], dtype=np.int64))
    eps_q, eps_frac = int(node.attr("eps_q", 0)), int(node.attr("eps_frac", 32))
    params = dict(rows=x.type.numel // max(n, 1), len=n, x_dt=dtype_code(x.dtype),
                  y_dt=dtype_code(out.dtype), x_zp=int(node.attr("x_zp", 0)),
                  cl=(n - 1).bit_length(),
                  sh_eps=-((30 + eps_frac - eps_q.bit_length()) // 2), eps_frac=eps_frac,
                  **_epi(node, 3, out.dtype), eps_q=eps_q)
    lw.step(node, "transformer", "qcc_ilayernorm", "qcc_ilayernorm_p", params,
            [lw.read(x, "void"), lw.const(g), lw.const(b), lw.write(out, "void")])


# -- float pre-processing of integer tensors ---------------------------------------------
@rule(*CHAIN_OPS)
def float_prep(lw: Lowerer, node: Node) -> None:
    """No code: a float chain op is folded into the thresholds of the ``qcc.quantize`` it feeds."""
    out = node.outputs[0]
    if node.op in ("onnx.Cast", "onnx.Add", "onnx.Sub", "onnx.Mul") and integer_operands(node):
        (integer_cast if node.op == "onnx.Cast" else integer_arith)(lw, node)
        return
    if not out.dtype.is_float:
        raise LoweringError(f"target c: {node.op} node '{node.name}' on integer tensors has no "
                            f"C kernel (output '{out.name}' {out.dtype.name})")
    for u in out.users:
        if u.op not in CHAIN_OPS + VIEWS + ("qcc.quantize",):
            raise LoweringError(f"target c: float {node.op} node '{node.name}' feeds {u.op} "
                                f"'{u.name}'; float arithmetic is only lowered when a "
                                f"qcc.quantize ends it")
    if lw.g.is_output(out):
        raise LoweringError(f"target c: float {node.op} node '{node.name}' makes graph output "
                            f"'{out.name}'; the C model code has no float")


def _chain(node: Node):
    """(integer source value, chain nodes from the source up) of a quantize of a float chain."""
    chain, v = [], node.inputs[0]
    while v.dtype.is_float:
        p = v.producer
        if p is None or p.op not in CHAIN_OPS + VIEWS:
            what = "a graph input" if p is None else f"{p.op} '{p.name}'"
            raise LoweringError(f"target c: qcc.quantize node '{node.name}' quantizes float "
                                f"'{v.name}' made by {what}; only elementwise Cast/Add/Sub/Mul/"
                                f"Div/Neg chains on an integer tensor are lowered")
        live = [i for i in p.inputs if i is not None and not i.is_const]
        consts = [i for i in p.inputs[1:] if i is not None and i.is_const]
        if len(live) != 1 or (p.op not in VIEWS and any(c.type.numel != 1 for c in consts)):
            raise LoweringError(f"target c: {p.op} node '{p.name}' in the float chain of "
                                f"'{node.name}' needs one tensor input and scalar constants")
        if p.op == "onnx.Div" and live[0] is not p.inputs[0]:
            raise LoweringError(f"target c: Div node '{p.name}' divides by the tensor; "
                                f"only division by a constant is lowered")
        chain.append(p)
        v = live[0]
    return v, chain[::-1]


def _evaluator(src: Value, chain: list, quant: Node):
    def f(xs: np.ndarray) -> np.ndarray:
        cur = np.asarray(xs, src.dtype.np)
        val = src
        for n in chain + [quant]:
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


@rule("qcc.quantize")
def quantize_chain(lw: Lowerer, node: Node) -> None:
    src, chain = _chain(node)
    out = node.outputs[0]
    if src.dtype.bits not in (8, 16, 32, 64) or src.type.numel != out.type.numel:
        raise LoweringError(f"target c: qcc.quantize node '{node.name}': the chain from "
                            f"'{src.name}' is not elementwise on an integer tensor")
    f = _evaluator(src, chain, node)
    info = np.iinfo(src.dtype.np)
    t, vals = step_function(f, int(info.min), int(info.max))
    probe = np.unique(np.concatenate([np.arange(-4096, 4097), np.array(t, np.int64),
                                      np.array(t, np.int64) - 1]).clip(info.min, info.max))
    want = f(probe)
    got = np.array(vals)[np.searchsorted(np.array(t, np.int64), probe, side="right")]
    if not np.array_equal(want, got):
        raise LoweringError(f"target c: qcc.quantize node '{node.name}': the float chain from "
                            f"'{src.name}' is not monotone; it cannot be lowered to integers")
    params = dict(count=out.type.numel, nt=len(t), x_dt=dtype_code(src.dtype),
                  y_dt=dtype_code(out.dtype))
    tt = lw.table(f"{node.name}.thresholds", np.array(t or [0], np.int64), "int64_t")
    tv = lw.table(f"{node.name}.values", np.array(vals, np.int32))
    lw.step(node, "threshold", "qcc_threshold", "qcc_threshold_p", params,
            [lw.read(src, "void"), tt, tv, lw.write(out, "void")])
