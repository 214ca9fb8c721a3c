"""check-headroom: prove every integer intermediate fits its width (docs/transformers.md).

Walks the integer graph in order and bounds, per op, the worst-case magnitude
of each intermediate the reference semantics compute (docs/integer_ops.md),
for any input value its type and zero point allow -- a quantized tensor's
integer range *is* its calibrated range, and int32 accumulators carry the
bound of the op that produced them.  Headroom is ``width - 1 - bitlen(bound)``
bits (signed containers: int32 for accumulators, int64 for products before a
requantizing shift).  The report (per op: its tightest intermediate and its
headroom; the worst op overall) goes to ``ctx.note`` / the manifest.  A
negative headroom raises ``HeadroomError`` naming the node and intermediate.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from qcc import arith
from qcc.errors import PassError
from qcc.ir import DType, Graph, Node, Value
from qcc.passmanager import PassContext, register_pass

Bound = tuple[str, int, int]  # (intermediate, |value| bound, container bits)
BOUNDS: dict[str, Callable[[Node, Callable[[Value], int]], list[Bound]]] = {}


class HeadroomError(PassError):
    """An integer intermediate can leave its container for the calibrated ranges."""


def bound_rule(*ops: str):
    def deco(fn):
        for op in ops:
            BOUNDS[op] = fn
        return fn
    return deco


def headroom_bits(bound: int, bits: int) -> int:
    return bits - 1 - int(bound).bit_length()


def _const_absmax(v) -> int:
    return int(np.max(np.abs(v.data.astype(np.int64)))) if v is not None and v.data.size else 0


def _attr(node: Node, key: str) -> int:
    return int(node.attrs.get(key, 0) or 0)


def acc_container(node: Node) -> int:
    """32, or 64 for a node that ``widen-accumulators`` gave an int64 accumulator."""
    return 64 if int(node.attrs.get("acc_bits", 32) or 32) == 64 else 32


def _epi(node: Node, acc: int, i_m: int) -> list[Bound]:
    """The accumulator (int32, or int64 with ``acc_bits=64``), and ``acc * m`` in int64
    when requantized."""
    out = [("acc", acc, acc_container(node))]
    if i_m < len(node.inputs) and node.inputs[i_m] is not None:
        out.append(("acc*mult", acc * _const_absmax(node.inputs[i_m]), 64))
    return out


@bound_rule("qcc.linear", "qcc.conv2d")
def _dense(node: Node, amax) -> list[Bound]:
    x, w = node.inputs[0], node.inputs[1]
    k = int(np.prod(w.shape[1:])) if node.op == "qcc.conv2d" else int(w.shape[0])
    b = node.inputs[2] if len(node.inputs) > 2 else None
    acc = arith.acc_bound(k, x_absmax=amax(x, "x_zp", node), bias_absmax=_const_absmax(b),
                          w_absmax=_const_absmax(w))
    return _epi(node, acc, 3)


@bound_rule("qcc.conv_transpose2d")
def _conv_transpose(node: Node, amax) -> list[Bound]:
    """Each output sums at most ``C/group * kH * kW`` products (fewer with strides)."""
    x, w = node.inputs[0], node.inputs[1]
    k = int(w.shape[0]) // max(_attr(node, "group"), 1) * int(np.prod(w.shape[2:]))
    b = node.inputs[2] if len(node.inputs) > 2 else None
    acc = arith.acc_bound(k, x_absmax=amax(x, "x_zp", node), bias_absmax=_const_absmax(b),
                          w_absmax=_const_absmax(w))
    return _epi(node, acc, 3)


def _sum_rule(node: Node, amax, count: int) -> list[Bound]:
    """A sum of ``count`` centered values in int32, then ``acc * mult`` in int64."""
    acc = int(count) * amax(node.inputs[0], "x_zp", node)
    return _epi(node, acc, 1)


@bound_rule("qcc.avgpool")
def _avgpool(node: Node, amax) -> list[Bound]:
    k = node.attrs.get("kernel_shape") or (1, 1)
    return _sum_rule(node, amax, int(np.prod([int(d) for d in k])))


@bound_rule("qcc.global_avgpool")
def _gap(node: Node, amax) -> list[Bound]:
    return _sum_rule(node, amax, int(np.prod(node.inputs[0].shape[2:])))


@bound_rule("qcc.reduce_mean")
def _reduce(node: Node, amax) -> list[Bound]:
    x = node.inputs[0]
    axes = node.attrs.get("axes")
    axes = range(x.type.rank) if axes is None else [int(a) % max(x.type.rank, 1) for a in axes]
    return _sum_rule(node, amax, int(np.prod([x.shape[a] for a in set(axes)])))


@bound_rule("qcc.matmul")
def _matmul(node: Node, amax) -> list[Bound]:
    a, b = node.inputs[0], node.inputs[1]
    return _epi(node, int(a.shape[-1]) * amax(a, "a_zp", node) * amax(b, "b_zp", node), 2)


@bound_rule("qcc.add", "qcc.sub")
def _add(node: Node, amax) -> list[Bound]:
    m = node.inputs[2].data.astype(np.int64)
    s = amax(node.inputs[0], "a_zp", node) * int(m[0]) + amax(node.inputs[1], "b_zp", node) * int(m[1])
    return [("a*m_a + b*m_b", s, 64)]


@bound_rule("qcc.mul")
def _mul(node: Node, amax) -> list[Bound]:
    p = amax(node.inputs[0], "a_zp", node) * amax(node.inputs[1], "b_zp", node)
    return [("a*b", p, 32), ("a*b*mult", p * _const_absmax(node.inputs[2]), 64)]


@bound_rule("qcc.isoftmax")
def _isoftmax(node: Node, amax) -> list[Bound]:
    x = node.inputs[0]
    row = int(x.shape[int(node.attrs.get("axis", -1))])
    d = min(2 * amax(x, None, node), _attr(node, "d_clip"))
    out = [("x - max", 2 * amax(x, None, node), 64 if x.dtype is DType.int32 else 32),
           ("d * mult", d * _const_absmax(node.inputs[1]), 64)]
    e_max = (1 << 16) + 1
    if node.attrs.get("variant", "ibert") == "ibert":
        q_b, q_c = _attr(node, "q_b"), _attr(node, "q_c")
        out.append(("i-exp poly", q_b * q_b + q_c, 32))
        e_max = ((q_b * q_b + q_c) >> _attr(node, "e_shift")) + 1
    out += [("sum exp", row * e_max, 32),
            ("exp * factor", e_max * (1 << 40), 64)]
    return out


@bound_rule("qcc.igelu")
def _igelu(node: Node, amax) -> list[Bound]:
    lvl, c1 = _attr(node, "q_l"), _attr(node, "c1")
    xb = min(amax(node.inputs[0], "x_zp", node), max(lvl, _attr(node, "x_max")))
    acc = xb * ((2 * c1) >> _attr(node, "f_shift"))
    return [("(q_l - |x|)^2", lvl * lvl, 32), ("c1 * (1 + erf)", 2 * c1, 32), ("x * g", acc, 32),
            ("acc*mult", acc * _const_absmax(node.inputs[1]), 64)]


@bound_rule("qcc.ilayernorm")
def _ilayernorm(node: Node, amax) -> list[Bound]:
    x = node.inputs[0]
    axis = int(node.attrs.get("axis", -1)) % x.type.rank
    c = int(np.prod(x.shape[axis:]))
    xb = amax(x, "x_zp", node)
    acc = (1 << 15) * _const_absmax(node.inputs[1]) + _const_absmax(node.inputs[2])
    return [("sum(x)", c * xb, 32), ("C*x - sum", 2 * c * xb, 32),
            ("sum((y >> sh)^2)", 1 << 30, 32),   # by the choice of sh
            ("refined sum((y >> sh')^2)", c << 30, 64),  # |y >> sh'| <= 2^15, kept iff <= 2^30
            ("var + eps", (1 << 31) - 1, 32),    # shifted eps < 2^30 too
            ("y2 * factor", 1 << 32, 64),        # |y2| < std + 1, factor <= 2^31 / std
            ("n * gamma + bias", acc, 32), ("acc*mult", acc * _const_absmax(node.inputs[3]), 64)]


def _rnn_rule(node: Node, amax, i_mx: int, i_mh: int) -> list[Bound]:
    """LSTM/GRU gate accumulators: the x path over I inputs, the h path over H (int8 h
    centered by ``h_zp``), each requantized to Q3.12 through an int64 product."""
    x, w, r = node.inputs[0], node.inputs[1], node.inputs[2]
    hz = _attr(node, "h_zp")
    ax = int(x.shape[-1]) * amax(x, "x_zp", node) * _const_absmax(w)
    ah = int(r.shape[-1]) * max(abs(-128 - hz), abs(127 - hz)) * _const_absmax(r)
    return [("x-path acc", ax, 32), ("h-path acc", ah, 32),
            ("x acc*mult", ax * _const_absmax(node.inputs[i_mx]), 64),
            ("h acc*mult", ah * _const_absmax(node.inputs[i_mh]), 64)]


@bound_rule("qcc.lstm")
def _lstm(node: Node, amax) -> list[Bound]:
    return _rnn_rule(node, amax, 4, 6)


@bound_rule("qcc.gru")
def _gru(node: Node, amax) -> list[Bound]:
    return _rnn_rule(node, amax, 5, 7)


def value_absmax(known: dict) -> Callable:
    """``max |v - zp|`` over the values ``v`` may hold (zp from ``node.attrs[zp_key]``)."""
    def amax(v: Value, zp_key, node: Node) -> int:
        if id(v) in known:
            return known[id(v)]
        zp = _attr(node, zp_key) if zp_key else 0
        if v.is_const:
            return int(np.max(np.abs(v.data.astype(np.int64) - zp))) if v.data.size else 0
        return max(abs(v.dtype.min - zp), abs(v.dtype.max - zp))
    return amax


def analyse(graph: Graph) -> dict:
    """Per-op headroom ``{node: {"worst": name, "bits": h, "bounds": {...}}}``."""
    known: dict = {}
    amax = value_absmax(known)
    report = {}
    for n in graph.nodes:
        fn = BOUNDS.get(n.op)
        if fn is None:
            continue
        bounds = fn(n, amax)
        if n.outputs[0].dtype is DType.int32 and bounds and bounds[0][0] == "acc" \
                and bounds[0][2] == 32:
            known[id(n.outputs[0])] = int(bounds[0][1])
        rows = {name: headroom_bits(b, bits) for name, b, bits in bounds}
        worst = min(rows, key=rows.get)
        report[n.name] = {"op": n.op, "worst": worst, "bits": rows[worst], "bounds": rows}
    return report


@register_pass("check-headroom", "prove integer intermediates fit their widths; report headroom bits per op",
               kind="integer")
def check_headroom(graph: Graph, ctx: PassContext) -> bool:
    if not any(n.domain == "qcc" for n in graph.nodes):
        return False
    report = analyse(graph)
    bad = [(k, r) for k, r in report.items() if r["bits"] < 0]
    summary = {k: {"op": r["op"], "worst": r["worst"], "bits": r["bits"]} for k, r in report.items()}
    worst = min(report, key=lambda k: report[k]["bits"]) if report else None
    ctx.note("check-headroom", ops=summary, worst_node=worst,
             min_bits=report[worst]["bits"] if worst else None)
    if bad:
        name, r = bad[0]
        raise HeadroomError(f"{r['op']} node '{name}': intermediate '{r['worst']}' can need "
                            f"{-r['bits']} more bit(s) than its container for the calibrated ranges"
                            + (f" (and {len(bad) - 1} more node(s))" if len(bad) > 1 else "")
                            + "; narrow its operands (input dtype, calibrated ranges) or split the reduction")
    return False
