"""Pattern matching for attention (docs/transformers.md): the Add/Where steps between the
scores ``MatMul`` and the ``Softmax`` that are masks (additive, boolean, folded constants) or
constant biases (relative position bias), found on the float graph before quantization.
``rules_transformer`` emits the integer ops for what these functions find."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from qcc.ir import DType, Node, Value
from qcc.ops import integer_transformer as itx

from .state import QState

MASK_MIN = 2 * itx.SOFTMAX_ZMAX * math.log(2)   # an additive mask must reach <= -29.1


def _sole_user(st: QState, v: Value) -> Optional[Node]:
    if st.old.is_output(v) or len(v.users) != 1:
        return None
    return v.users[0]


def _scalar_const(v: Optional[Value]) -> Optional[float]:
    if v is None or not v.is_const or v.data.size != 1 or not v.dtype.is_float:
        return None
    return float(v.data.reshape(-1)[0])


def _is_mask_source(v: Value) -> bool:
    """``v`` can be computed outside the integer region: a graph input, or made
    from non-float graph inputs and scalar float constants only (key-padding
    masks: Cast/Sub/Mul/Equal/Not/Where/Unsqueeze of ``attention_mask``).
    Embedding tables, weights and float inputs (the data path) disqualify."""
    if v.is_const:
        return False
    if v.producer is None:
        return True
    stack, seen = [v], set()
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if x.is_const:
            if x.dtype.is_float and x.data.size > 1:
                return False
        elif x.producer is None:
            if x.dtype.is_float:
                return False
        else:
            stack.extend(x.producer.inputs)
    return True


# -- attention ---------------------------------------------------------------------------
def _mask_step(st: QState, n: Node, prev: Value):
    """(mask value, polarity) of ``Add(prev, mask)`` or ``Where(cond, fill, prev)``, or None.

    polarity +1: the mask value is additive (0 / <= -MASK_MIN); 'cond': a
    boolean that is true where masked; 'not': true where kept."""
    if n.op == "onnx.Add":
        other = n.inputs[1] if n.inputs[0] is prev else n.inputs[0]
        if other.is_const and _const_mask(other):
            return other, "add"  # a folded causal mask (GPT-2): 0 / -inf constants
        if not other.dtype.is_float or not _is_mask_source(other):
            return None
        sel = _select_mask(other)
        if sel is not None:
            return sel
        return (other, "add") if _binary_mask(st, other) else None
    if n.op == "onnx.Where" and len(n.inputs) == 3:
        cond, a, b = n.inputs
        if b is prev and a is not prev:
            fill, pol = _scalar_const(a), "cond"
        elif a is prev and b is not prev:
            fill, pol = _scalar_const(b), "not"
        else:
            return None
        if fill is not None and fill <= -MASK_MIN and (_is_mask_source(cond) or (
                cond.is_const and cond.dtype is DType.bool)):  # a folded causal mask (GPT-Neo)
            return cond, pol
    return None


def _const_mask(v: Value) -> bool:
    """A float constant holding only 0 and values <= -MASK_MIN (-inf included), with at
    least one of the latter: an additive mask folded to a constant."""
    d = v.data
    if not v.dtype.is_float or d.size < 2:
        return False
    return bool(np.all((d == 0) | (d <= -MASK_MIN)) and np.any(d <= -MASK_MIN))


def _select_mask(v: Value):
    """``v = Where(cond, a, b)`` with constants {a, b} = {0, <= -MASK_MIN} (torch's
    scaled_dot_product_attention turns a boolean mask into this): (cond, polarity)."""
    p = v.producer
    if p is None or p.op != "onnx.Where" or len(p.inputs) != 3:
        return None
    a, b = _scalar_const(p.inputs[1]), _scalar_const(p.inputs[2])
    if a is None or b is None:
        return None
    if b == 0.0 and a <= -MASK_MIN:
        return p.inputs[0], "cond"
    if a == 0.0 and b <= -MASK_MIN:
        return p.inputs[0], "not"
    return None


MAX_MASK_STEPS = 4  # a causal mask then a key-padding mask (GPT-Neo, OPT) is two


def _bias_mask(v: Value):
    """``v = Where(cond, B, fill)`` (or ``Where(cond, fill, B)``) with ``B`` a finite float
    constant and a scalar ``fill <= -MASK_MIN``, ``cond`` a mask: T5's relative position
    bias with the padding mask folded in.  (B, (cond, polarity)) or None."""
    p = v.producer
    if p is None or p.op != "onnx.Where" or len(p.inputs) != 3:
        return None
    cond, a, b = p.inputs
    if not (_is_mask_source(cond) or (cond.is_const and cond.dtype is DType.bool)):
        return None
    for bias, fill, pol in ((a, b, "not"), (b, a, "cond")):
        f = _scalar_const(fill)
        if f is not None and f <= -MASK_MIN and _const_bias(bias):
            return bias, (cond, pol)
    return None


def _const_bias(v: Value) -> bool:
    return v.is_const and v.dtype.is_float and v.data.size > 1 and bool(np.all(np.isfinite(v.data)))


def _attn_step(st: QState, n: Node, prev: Value):
    """The steps ``[("mask", (value, polarity)) | ("bias", constant)]`` of one Add/Where
    between the scores and the Softmax, or None: a mask (see ``_mask_step``), a constant
    additive bias (relative position bias: T5, Swin, BEiT), or both (T5's masked bias)."""
    m = _mask_step(st, n, prev)
    if m is not None:
        return [("mask", m)]
    if n.op != "onnx.Add":
        return None
    other = n.inputs[1] if n.inputs[0] is prev else n.inputs[0]
    if other is prev:
        return None
    if _const_bias(other):
        return [("bias", other)]
    bm = _bias_mask(other)
    return None if bm is None else [("bias", bm[0]), ("mask", bm[1])]


def _scores_chain(st: QState, node: Node):
    """(scale, [(kind, step) ...], consumed nodes, softmax) for
    MatMul [-> Mul/Div const] [-> Add(mask | bias) | Where(mask, fill, .)]* -> Softmax, or None."""
    scale, steps, chain = 1.0, [], []
    prev = node.outputs[0]
    n = _sole_user(st, prev)
    if n is not None and n.op in ("onnx.Mul", "onnx.Div"):
        other = n.inputs[1] if n.inputs[0] is prev else n.inputs[0]
        k = _scalar_const(other)
        if k is None or k <= 0 or (n.op == "onnx.Div" and other is not n.inputs[1]):
            return None
        scale *= k if n.op == "onnx.Mul" else 1.0 / k
        chain.append(n)
        prev, n = n.outputs[0], _sole_user(st, n.outputs[0])
    while n is not None and n.op in ("onnx.Add", "onnx.Where") and len(chain) < MAX_MASK_STEPS + 1:
        step = _attn_step(st, n, prev)
        if step is None:
            return None
        steps += step
        chain.append(n)
        prev, n = n.outputs[0], _sole_user(st, n.outputs[0])
    if n is None or n.op != "onnx.Softmax":
        return None
    rank = n.inputs[0].type.rank
    if int(n.attrs.get("axis", -1)) % rank != rank - 1:
        return None
    return scale, steps, chain + [n], n


def _binary_mask(st: QState, v: Value) -> bool:
    """Calibration shows ``v`` only at 0 or <= -MASK_MIN (a key-padding mask)."""
    r = st.range_of(v.name)
    if r is None or r[1] > 0.0 or r[0] > -MASK_MIN:
        return False
    ob = getattr(st.ranges, "observers", {}).get(v.name)
    if ob is None or not ob.neg.any():
        return True  # minmax calibration: no histogram, trust the range
    width = float(ob.width)
    k = int(math.ceil(MASK_MIN / width)) if width > 0 else 0
    return int(ob.neg[1:k].sum()) == 0  # bin 0 may hold -0.0 and exact zeros


def softmax_mask_tail(st: QState, softmax: Node):
    """``Softmax(mask steps(x))`` where ``x`` is not a scores MatMul this module matches
    (DeBERTa: ``Where(mask, float_min, c2c + c2p + p2c)``): (x, [(mask, polarity) ...],
    the mask nodes), or None.  ``x`` must already be quantizable (quantized or calibrated)."""
    v, masks, nodes = softmax.inputs[0], [], []
    while len(nodes) < MAX_MASK_STEPS:
        p = v.producer
        if p is None or p.op not in ("onnx.Add", "onnx.Where") or \
                _sole_user(st, v) is not (nodes[-1] if nodes else softmax):
            break
        cands = p.inputs[1:3] if p.op == "onnx.Where" else p.inputs[:2]
        found = next(((c, m) for c in cands if c is not None and not c.is_const
                      for m in [_mask_step(st, p, c)] if m is not None), None)
        if found is None:
            break
        v = found[0]
        masks.append(found[1])
        nodes.append(p)
    if not nodes or not v.dtype.is_float or not (st.is_q(v) or v.name in st.ranges):
        return None
    return v, masks[::-1], nodes


def in_softmax_tail(st: QState, node: Node) -> bool:
    """``node`` is one of the mask steps of a ``softmax_mask_tail``."""
    n = node
    for _ in range(MAX_MASK_STEPS):
        n = _sole_user(st, n.outputs[0])
        if n is None or n.op not in ("onnx.Add", "onnx.Where", "onnx.Softmax"):
            return False
        if n.op == "onnx.Softmax":
            rank = n.inputs[0].type.rank
            tail = softmax_mask_tail(st, n) if int(n.attrs.get("axis", -1)) % rank == rank - 1 else None
            return tail is not None and any(m is node for m in tail[2])
    return False
