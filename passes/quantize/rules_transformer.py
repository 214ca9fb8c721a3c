"""Quantize rules for transformer blocks (docs/transformers.md).

* attention: ``MatMul(q, k^T) [-> Mul/Div by a constant] [-> Add(mask) |
  Where(cond, fill, .)]* -> Softmax`` (up to four mask steps) becomes one ``qcc.matmul`` in
  accumulator form (int32 scores) and one ``qcc.isoftmax``: the constant
  (1/sqrt(d)) folds into the dyadic multiplier that brings the scores to the
  softmax's fixed scale, and a key-padding mask computed from graph inputs the
  scores do not depend on (additive, or torch's masked_fill) becomes an int8
  mask input (masked positions get probability exactly 0).  The softmax is
  emitted when the mask node is reached (it may follow the MatMul in graph
  order).  Softmax elsewhere (int8 input) is ``qcc.isoftmax`` on the int8 values.
* GELU (erf or tanh form) is the exact 256-entry ``qcc.lut`` on its int8
  input (option ``gelu`` = ``lut``, the default): the same arithmetic as
  onnxruntime's QDQ GELU (float on the dequantized input, requantized).
  With ``gelu`` = ``ibert``, ``fused.linear -> fused.gelu`` (erf form)
  requantizes the linear's int32 accumulator to the i-GELU input scale
  (int16) and ``qcc.igelu`` (I-BERT's second-order polynomial) follows.
* ``fused.layernorm`` -> ``qcc.ilayernorm`` (integer gamma/bias).
* residual ``Add`` feeding a LayerNorm (and otherwise only further adds:
  pre-LN) outputs the residual stream at ``st.opts.residual_bits`` (8 or
  16, default 16; docs/transformers.md).

Options: ``softmax`` = ``ibert`` (default) | ``shift`` (I-ViT shiftmax);
``gelu`` = ``lut`` (default, chosen by measurement: docs/transformers.md) | ``ibert``.
Where a pattern does not match, the rules call the generic ones of
``rules_nn``/``rules_elementwise``/``rules_math`` by name.
"""

from __future__ import annotations

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Node, QParams, Value
from qcc.ops import integer_transformer as itx
from qcc.quant_scheme import act_qparams

from . import rules_elementwise, rules_math, rules_nn, rules_select
from .attention_match import (MASK_MIN, _scores_chain, _sole_user, in_softmax_tail,
                              softmax_mask_tail)
from .state import SOFTMAX_VARIANTS, QState, QuantizeOptions

PROB_QP = QParams(scale=2.0 ** -8, zero_point=0, bits=8, signed=False)
RESIDUAL_BITS = QuantizeOptions.residual_bits  # 16, chosen by measurement (docs/transformers.md)


def softmax_variant(st: QState) -> str:
    return SOFTMAX_VARIANTS[st.opts.softmax]  # validated by QuantizeOptions


def _done(st: QState) -> set:
    """Ids of old nodes already lowered as part of a larger pattern."""
    if not hasattr(st, "_tx_done"):
        st._tx_done = set()
    return st._tx_done



def _mask_input(st: QState, mask: tuple, name: str) -> Value:
    """The isoftmax mask input (nonzero = excluded).  Additive: int8
    ``rint(m / MASK_MIN)``, nonzero exactly where ``m <= -MASK_MIN / 2``;
    boolean: the condition itself, or its negation."""
    v, pol = mask
    if pol in ("cond", "not") and v.is_const:  # a folded boolean mask: its int8 form directly
        excluded = v.data.astype(bool) if pol == "cond" else ~v.data.astype(bool)
        return st.g.add_const(name + ".mask", excluded.astype(np.int8), DType.int8)
    if pol in ("cond", "not"):     # boolean -> int8 0/1 (backends take an 8-bit mask)
        b = st.f(v)
        if pol == "not":
            b = st.emit("onnx.Not", [b], {}, name=name + ".not", out_name=v.name + ".excluded").outputs[0]
        return st.emit("onnx.Cast", [b], {"to": 3}, name=name + ".mask",
                       out_name=v.name + ".imask").outputs[0]
    if v.is_const:  # a constant mask: its int8 form directly (-inf has no float path)
        return st.g.add_const(name + ".mask", (v.data <= -MASK_MIN / 2).astype(np.int8), DType.int8)
    n = st.emit("qcc.quantize", [st.f(v)], {"scale": float(np.float32(MASK_MIN)),
                "zero_point": 0, "dtype": "i8"}, name=name + ".mask", out_name=v.name + ".imask")
    return n.outputs[0]


def _masks_input(st: QState, masks: list, name: str) -> Value:
    """One int8 mask (nonzero = excluded) for several mask steps: a position is excluded
    when any step excludes it (each step adds 0 or <= -MASK_MIN, or fills it)."""
    if len(masks) == 1:
        return _mask_input(st, masks[0], name)
    parts = [_mask_input(st, m, f"{name}.{i}") for i, m in enumerate(masks)]
    if all(p.is_const for p in parts):
        out = np.zeros((), bool)
        for p in parts:
            out = out | (p.data != 0)
        return st.g.add_const(name + ".mask", out.astype(np.int8), DType.int8)
    bools = [st.emit("onnx.Cast", [p], {"to": 9}, name=f"{name}.{i}.bool",
                     out_name=f"{p.name}.bool").outputs[0] for i, p in enumerate(parts)]
    acc = bools[0]
    for i, b in enumerate(bools[1:], 1):
        acc = st.emit("onnx.Or", [acc, b], {}, name=f"{name}.or{i}", out_name=f"{name}.or{i}").outputs[0]
    return st.emit("onnx.Cast", [acc], {"to": 3}, name=name + ".mask",
                   out_name=name + ".imask").outputs[0]


def _emit_isoftmax(st: QState, x: Value, s_x: float, softmax: Node, masks: list) -> None:
    c = itx.isoftmax_consts(s_x, softmax_variant(st))
    m = st.g.add_const(softmax.name + ".mult", np.asarray([c["mult"]], np.int32))
    s = st.g.add_const(softmax.name + ".shift", np.asarray([c["shift"]], np.int32))
    ins = [x, m, s] + ([_masks_input(st, masks, softmax.name)] if masks else [])
    n = st.emit("qcc.isoftmax", ins, dict(c["attrs"], axis=-1), name=softmax.name,
                out_name=softmax.outputs[0].name)
    st.set_q(softmax.outputs[0], n.outputs[0], PROB_QP)


def _pending(st: QState) -> dict:
    """Masked softmaxes waiting for their mask node (keyed by its id): the mask
    is computed by nodes that may come after the scores MatMul in graph order,
    so the isoftmax is emitted when the Add/Where that consumes it is reached."""
    if not hasattr(st, "_tx_pending"):
        st._tx_pending = {}
    return st._tx_pending


def _finish_pending(st: QState, node: Node) -> bool:
    args = _pending(st).pop(id(node), None)
    if args is None:
        return False
    _emit_isoftmax(st, *args)
    return True


def _int_bias(data: np.ndarray, s_x: float) -> np.ndarray:
    """A float bias in units of the scores' scale, as int64 (clipped far outside int32)."""
    return np.clip(np.rint(np.asarray(data, np.float64) / s_x), -2 ** 40, 2 ** 40).astype(np.int64)


def attention_scores(st: QState, node: Node) -> bool:
    a, b = node.inputs
    chain = None
    if not a.is_const and not b.is_const and a.type.rank >= 2 and b.type.rank >= 2:
        chain = _scores_chain(st, node)
    if chain is None:
        return rules_nn.matmul(st, node)
    scale, steps, consumed, softmax = chain
    qa, qb = st.q(a), st.q(b)
    s_x = float(qa.qparams.scale[0]) * float(qb.qparams.scale[0]) * scale
    biases = [_int_bias(b.data, s_x) for kind, b in steps if kind == "bias"]
    acc_bound = a.shape[-1] * 255 * 255 + sum(int(np.abs(b).max()) for b in biases)
    if acc_bound >= 2 ** 31:  # the biased scores would not fit int32: the generic path
        return rules_nn.matmul(st, node)
    acc = st.emit("qcc.matmul", [qa, qb], {"a_zp": int(qa.qparams.zero_point[0]),
                  "b_zp": int(qb.qparams.zero_point[0])}, name=node.name,
                  out_name=node.outputs[0].name)
    acc.outputs[0].qparams = QParams(scale=s_x, zero_point=0, bits=32)
    x = acc.outputs[0]
    for i, b in enumerate(biases):  # int32 scores + the bias at the scores' scale (exact add)
        bc = st.g.add_const(f"{node.name}.bias{i}", b, DType.int32)
        x = st.emit("onnx.Add", [x, bc], {}, name=f"{node.name}.bias{i}",
                    out_name=f"{node.outputs[0].name}.bias{i}").outputs[0]
        x.qparams = QParams(scale=s_x, zero_point=0, bits=32)
    masks = [m for kind, m in steps if kind == "mask"]
    if not masks:
        _emit_isoftmax(st, x, s_x, softmax, [])
    else:
        _pending(st)[id(consumed[-2])] = (x, s_x, softmax, masks)
    _done(st).update(id(n) for n in consumed)
    return True


def masked_fill(st: QState, node: Node) -> bool:
    if _finish_pending(st, node) or id(node) in _done(st) or in_softmax_tail(st, node):
        return True  # (a mask step before a Softmax: the softmax rule emits it)
    return _nan_guard(st, node) or rules_select.where_select(st, node)


def _nan_guard(st: QState, node: Node) -> bool:
    """``Where(IsNaN(p), c, p)`` on an integer ``p`` (torch's guard for fully
    masked softmax rows) is ``p`` itself: integers are never NaN."""
    cond, a, b = (list(node.inputs) + [None, None, None])[:3]
    g = None if cond is None else cond.producer
    out = node.outputs[0]
    if g is None or g.op != "onnx.IsNaN" or g.inputs[0] is not b or not st.is_q(b) \
            or not a.is_const or st.old.is_output(out):
        return False
    qb = st.q(b)
    st.set_q(out, qb, qb.qparams)
    return True


def isnan(st: QState, node: Node) -> bool:
    """IsNaN of an integer value feeding only NaN guards (see ``_nan_guard``): nothing to emit."""
    x = node.inputs[0]
    users = node.outputs[0].users
    return st.is_q(x) and bool(users) and not st.old.is_output(node.outputs[0]) and all(
        u.op == "onnx.Where" and u.inputs[0] is node.outputs[0] and u.inputs[2] is x
        and u.inputs[1].is_const for u in users)


def softmax(st: QState, node: Node) -> bool:
    if id(node) in _done(st):
        return True
    x = node.inputs[0]
    rank = x.type.rank
    if int(node.attrs.get("axis", -1)) % rank != rank - 1:
        return False
    tail = softmax_mask_tail(st, node)  # masks on a value that is not a scores MatMul
    masks = []
    if tail is not None:
        x, masks, _ = tail
    if not st.is_q(x) and x.name not in st.ranges:
        return False
    qx = st.q(x)
    _emit_isoftmax(st, qx, float(qx.qparams.scale[0]), node, masks)
    return True


def mul(st: QState, node: Node) -> bool:
    """Mul: done when it was the scale of attention scores, else the generic rule."""
    return id(node) in _done(st) or rules_elementwise.mul(st, node)


def div(st: QState, node: Node) -> bool:
    """Div: done when it was the scale of attention scores, else the generic rule."""
    return id(node) in _done(st) or rules_math.div(st, node)


# -- residual add --------------------------------------------------------------------------
def _residual_stream(st: QState, node: Node) -> bool:
    """The add's output is the residual stream: it feeds a LayerNorm and
    otherwise only further adds (post-LN: the LN alone; pre-LN: the next
    block's LN and its residual add)."""
    v = node.outputs[0]
    if st.old.is_output(v) or not v.users:
        return False
    ops = [u.op for u in v.users]
    return "fused.layernorm" in ops and all(o in ("fused.layernorm", "onnx.Add") for o in ops)


def residual_add(st: QState, node: Node) -> bool:
    if _finish_pending(st, node) or id(node) in _done(st) or in_softmax_tail(st, node):
        return True
    bits = st.opts.residual_bits  # 8 or 16 (QuantizeOptions), default RESIDUAL_BITS
    if bits == 8 or not _residual_stream(st, node) or len(node.inputs) != 2 \
            or not any(st.is_q(v) for v in node.inputs) or not node.inputs[0].dtype.is_float:
        return rules_elementwise.add_sub(st, node)
    a, b = node.inputs
    qa, qb = st.q(a), st.q(b)
    r = st.range_of(node.outputs[0].name)
    if r is None:
        return rules_elementwise.add_sub(st, node)
    # an output range so small that one input step is 2^29 output steps or more (a branch
    # the calibration data never exercised: scale 1 against a near-zero stream) is widened
    # until the dyadic multipliers exist; nothing representable is lost
    floor = max(float(qa.qparams.scale[0]), float(qb.qparams.scale[0])) / 2.0 ** 29
    yqp = act_qparams(min(r[0], -floor * 32768), max(r[1], floor * 32767), bits=16)
    sy = float(yqp.scale[0])
    from qcc import arith

    ms, s = arith.quantize_multipliers_shared(np.array([float(qa.qparams.scale[0]) / sy,
                                                        float(qb.qparams.scale[0]) / sy]))
    mult = st.g.add_const(node.name + ".mult", np.asarray(ms, np.int32).reshape(2))
    shift = st.g.add_const(node.name + ".shift", np.asarray(s, np.int32).reshape(1))
    n = st.emit("qcc.add", [qa, qb, mult, shift],
                {"a_zp": int(qa.qparams.zero_point[0]), "b_zp": int(qb.qparams.zero_point[0]),
                 "y_zp": int(yqp.zero_point[0]), "dtype": "i16"},
                name=node.name, out_name=node.outputs[0].name)
    st.set_q(node.outputs[0], n.outputs[0], yqp)
    return True


# -- layernorm --------------------------------------------------------------------------------
def layernorm(st: QState, node: Node) -> bool:
    x, gamma = node.inputs[0], node.inputs[1]
    beta = node.inputs[2] if len(node.inputs) > 2 else None
    if not gamma.is_const or (beta is not None and not beta.is_const):
        return False
    if not st.is_q(x) and x.name not in st.ranges:
        return False
    qx = st.q(x)
    out = node.outputs[0]
    yqp = st.act_qp(out)
    rank = x.type.rank
    axis = int(node.attrs.get("axis", -1)) % rank
    count = int(np.prod(x.shape[axis:]))
    c = itx.ilayernorm_consts(gamma.data, None if beta is None else beta.data,
                              float(qx.qparams.scale[0]), float(yqp.scale[0]), count,
                              float(node.attrs.get("epsilon", 1e-5)))
    norm_shape = tuple(x.shape[axis:])
    gq = st.g.add_const(node.name + ".gamma", c["gamma"].reshape(norm_shape), DType.int32,
                        qparams=QParams(scale=c["s_g"], zero_point=0, bits=c["g_bits"] + 1))
    bq = st.g.add_const(node.name + ".bias", c["bias"].reshape(norm_shape), DType.int32,
                        qparams=QParams(scale=c["s_acc"], zero_point=0, bits=32))
    m = st.g.add_const(node.name + ".mult", np.asarray([c["mult"]], np.int32))
    s = st.g.add_const(node.name + ".shift", np.asarray([c["shift"]], np.int32))
    n = st.emit("qcc.ilayernorm", [qx, gq, bq, m, s],
                {"axis": axis, "x_zp": int(qx.qparams.zero_point[0]), "y_zp": int(yqp.zero_point[0]),
                 "eps_q": int(c["eps_q"]), "eps_frac": int(c["eps_frac"]),
                 "epsilon": float(node.attrs.get("epsilon", 1e-5))},
                name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True


# -- linear -> gelu -------------------------------------------------------------------------------
def _gelu_consts(y_hi: float) -> dict:
    """i-GELU constants whose int16 input holds the calibrated range: the clip
    level (input units per 1.769 sqrt(2)) halves from 1024 while ``x_max``
    would not fit int16 (GELU outputs above ~80)."""
    level = itx.GELU_L
    gc = itx.igelu_consts(y_hi, level)
    while gc["attrs"]["x_max"] > 32767 and level > 64:
        level //= 2
        gc = itx.igelu_consts(y_hi, level)
    return gc


def gelu_errors(x_range, x_qp: QParams, y_qp: QParams, y_hi: float, n: int = 4097) -> dict:
    """Mean squared error against float (erf) GELU of the two integer forms, on ``n``
    inputs spread evenly over the calibrated input range ``x_range``: ``lut`` (input
    rounded to ``x_qp``'s int8 grid, the exact table) and ``ibert`` (input at the
    i-GELU int16 scale, I-BERT's polynomial, output rounded to ``y_qp``)."""
    from qcc import lut

    x = np.linspace(float(x_range[0]), float(x_range[1]), n)
    f = lut.function("Gelu")(x)
    sx, zx = float(x_qp.scale[0]), int(x_qp.zero_point[0])
    sy, zy = float(y_qp.scale[0]), int(y_qp.zero_point[0])
    table = lut.build_table("Gelu", sx, zx, sy, zy).astype(np.int64)
    q = np.clip(np.round(x / sx) + zx, x_qp.qmin, x_qp.qmax).astype(np.int64)
    y_lut = (table[q - x_qp.qmin] - zy) * sy
    gc = _gelu_consts(y_hi)
    acc = itx.igelu_acc(np.clip(np.round(x / gc["scale"]), -32768, 32767), gc["attrs"])
    y_ib = (np.clip(np.round(acc * gc["out_scale"] / sy) + zy, y_qp.qmin, y_qp.qmax) - zy) * sy
    return {"lut": float(np.mean((y_lut - f) ** 2)), "ibert": float(np.mean((y_ib - f) ** 2))}


def _gelu_form(st: QState, node: Node, gelu: Node) -> str:
    """``lut`` or ``ibert`` for this linear -> GELU pair: the option, or for ``auto``
    the form with the smaller :func:`gelu_errors` on the calibrated ranges."""
    if st.opts.gelu != "auto":
        return st.opts.gelu
    r = st.range_of(node.outputs[0].name)
    if r is None:  # no calibrated GELU input (pinned qparams only): the int16 form needs none
        return "ibert"
    if not r[1] > r[0]:
        return "lut"
    e = gelu_errors(r, st.act_qp(node.outputs[0]), st.act_qp(gelu.outputs[0]),
                    float(st.range_of(gelu.outputs[0].name)[1]))
    st.gelu_forms[gelu.name] = dict(e, form=min(("lut", "ibert"), key=lambda k: e[k]))
    return st.gelu_forms[gelu.name]["form"]


def linear_residual(st: QState, node: Node) -> bool:
    """A linear layer whose sole reader is a 16-bit residual-stream Add
    (``residual_bits`` 16) writes its output at 16 bits (``qcc.linear``
    ``dtype`` i16, its calibrated range): the int8 step would be set by a few
    outlier features of the block's output projection and erase the others
    before the add widens them (docs/transformers.md); else the generic rule."""
    w, user = node.inputs[1], _sole_user(st, node.outputs[0])
    act = str(node.attrs.get("activation", "none") or "none")
    r = st.range_of(node.outputs[0].name)
    if st.opts.residual_bits != 16 or user is None or user.op != "onnx.Add" or act != "none" \
            or not _residual_stream(st, user) or not w.is_const or w.type.rank != 2 \
            or r is None or node.outputs[0].name in st.pinned or not st.is_q(node.inputs[0]) \
            and node.inputs[0].name not in st.ranges:
        return rules_nn.linear(st, node)
    return rules_nn._linear(st, node, node.inputs[0], w, node.inputs[2] if len(node.inputs) > 2 else None,
                            yqp=act_qparams(*r, bits=16))


def linear_gelu(st: QState, node: Node) -> bool:
    w = node.inputs[1]
    gelu = _sole_user(st, node.outputs[0])
    act = str(node.attrs.get("activation", "none") or "none")
    if gelu is None or gelu.op != "fused.gelu" or act != "none" \
            or not w.is_const or w.type.rank != 2 or gelu.attrs.get("approximate", "none") != "none" \
            or st.range_of(gelu.outputs[0].name) is None or _gelu_form(st, node, gelu) != "ibert":
        return linear_residual(st, node)
    from .rules_nn import _bias, _wbits

    x = node.inputs[0]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    qx = st.q(x)
    sx = float(qx.qparams.scale[0])
    yqp = st.act_qp(gelu.outputs[0])
    gc = _gelu_consts(float(st.range_of(gelu.outputs[0].name)[1]))
    wv, wqp = st.weight(w.data, 1, w.name + ".q", _wbits(st, node), source=w.name)
    mult, shift = st.requant_consts(sx * wqp.scale / gc["scale"], node.name)
    lin = st.emit("qcc.linear", [qx, wv, _bias(st, b, sx, wqp.scale, node.name + ".bias"), mult, shift],
                  {"x_zp": int(qx.qparams.zero_point[0]), "y_zp": 0, "dtype": "i16"},
                  name=node.name, out_name=node.outputs[0].name)
    lin.outputs[0].qparams = QParams(scale=gc["scale"], zero_point=0, bits=16)
    m2, s2 = st.requant_consts(gc["out_scale"] / float(yqp.scale[0]), gelu.name)
    attrs = dict(gc["attrs"], x_zp=0, y_zp=int(yqp.zero_point[0]))
    n = st.emit("qcc.igelu", [lin.outputs[0], m2, s2], attrs, name=gelu.name,
                out_name=gelu.outputs[0].name)
    st.set_q(gelu.outputs[0], n.outputs[0], yqp)
    st.layers.append({"node": node.name, "op": "linear", "weight": wv.name, "bits": wqp.bits,
                      "params": int(w.type.numel)})
    _done(st).add(id(gelu))
    return True


def gelu(st: QState, node: Node) -> bool:
    if id(node) in _done(st):
        return True
    return rules_elementwise.unary_lut(st, node)
