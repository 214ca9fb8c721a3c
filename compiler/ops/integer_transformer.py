"""Integer transformer ops: ``qcc.isoftmax``, ``qcc.igelu``, ``qcc.ilayernorm``
(docs/integer_ops.md "Transformer", algorithms and error tables in docs/transformers.md).

I-BERT style integer algorithms.  Every constant an op needs is an integer
attribute or a constant input computed at compile time by the ``*_consts``
helpers below (float64 there, never at run time).  The reference computes in
int64; the comments give the bound of every intermediate for backends.
"""

from __future__ import annotations

import math

import numpy as np

from .. import arith
from ..ir import DType, Node, TensorType
from . import OpDef, register
from ._integer_common import (act_range, check_mult, check_zp, const_type, err, in_type, inp,
                              out_dtype)

IN_DTYPES = (DType.int8, DType.uint8, DType.int16, DType.int32)
MASK_DTYPES = (DType.int8, DType.uint8, DType.bool)

# I-BERT constants (Kim et al., ICML 2021, arXiv 2101.01321, section 3)
EXP_A, EXP_B, EXP_C = 0.3585, 1.353, 0.344      # exp(p) ~ a (p + b)^2 + c on (-ln2, 0]
ERF_A, ERF_B = 0.2888, 1.769                    # erf(t) ~ sgn(t) [1 - a (min(|t|, b) - b)^2]
SOFTMAX_FRAC = 12                               # softmax works on d at scale 2^-12
SOFTMAX_ZMAX = 20                               # exp(d) < 2^-20 counts as 0
E_BITS = 16                                     # exp values are scaled to <= 2^16
NORM_SHIFT = 40                                 # factor = 2^40 // sum
GELU_L = 1024                                   # i-erf clip level in input units
LN_VAR_BITS = 30                                # variance sums are normalized to <= 2^30
LN_N_BITS = 15                                  # normalized value n has 15 fraction bits
LN_REFINE_BITS = 28                             # the second shift aims var at ~2^28
LN_EPS_F = 32


def _bitlen(a: np.ndarray) -> np.ndarray:
    """Bit length of non-negative int64 values (exact; ``clz`` in backends)."""
    a = np.asarray(a, np.int64).copy()
    bits = np.zeros(a.shape, np.int64)
    while np.any(a > 0):
        bits += a > 0
        a >>= 1
    return bits


# =============================================================================== softmax
def isoftmax_consts(scale: float, variant: str = "ibert") -> dict:
    """Attributes and (mult, shift) of ``qcc.isoftmax`` for an input scale.

    ``d = x - max`` is clamped at ``-d_clip`` (exp < 2^-20 there) and
    requantized to the fixed scale ``2^-12`` by ``m / 2^s = scale * 2^12``.
    """
    s_fine = 2.0 ** -SOFTMAX_FRAC
    d_clip = int(math.ceil((SOFTMAX_ZMAX + 1) * math.log(2) / scale))
    d_clip = min(d_clip, arith.INT32_MAX)
    # An input step above 2^17 pushes every non-max entry past the clip already (exp = 0),
    # so the factor saturates at 2^29 without changing the result (degenerate logits).
    m, s = arith.quantize_multiplier(min(scale / s_fine, float(1 << 29)))
    attrs = {"variant": variant, "frac_bits": SOFTMAX_FRAC, "d_clip": d_clip, "z_max": SOFTMAX_ZMAX}
    if variant == "ibert":
        q_ln2 = int(math.floor(math.log(2) / s_fine))
        q_b = int(math.floor(EXP_B / s_fine))
        q_c = int(math.floor(EXP_C / (EXP_A * s_fine * s_fine)))
        attrs.update(q_ln2=q_ln2, q_b=q_b, q_c=q_c,
                     e_shift=max(0, int(q_b * q_b + q_c).bit_length() - E_BITS))
    elif variant != "shiftmax":
        raise ValueError(f"softmax variant must be 'ibert' or 'shiftmax', got '{variant}'")
    return {"attrs": attrs, "mult": int(m), "shift": int(s)}


def _iexp_ibert(d: np.ndarray, a: dict) -> np.ndarray:
    """I-BERT i-exp of ``d <= 0`` at scale 2^-F: exp values with exp(0) ~ 2^16."""
    q_ln2 = int(a["q_ln2"])
    z = np.minimum((-d) // q_ln2, int(a["z_max"]))       # <= z_max
    p = np.maximum(d + z * q_ln2, -q_ln2 + 1)            # (-q_ln2, 0]
    poly = (p + int(a["q_b"])) ** 2 + int(a["q_c"])      # < 2^27 for F = 12
    return poly >> (z + int(a["e_shift"]))


def _iexp_shift(d: np.ndarray, a: dict) -> np.ndarray:
    """I-ViT shift-exp of ``d <= 0`` at scale 2^-F: exp(0) = 2^16."""
    f = int(a["frac_bits"])
    t = d + (d >> 1) - (d >> 4)                          # d * 1.4375 ~ d * log2(e)
    q = np.minimum((-t) >> f, int(a["z_max"]))           # integer part of -t / 2^F
    r = np.maximum(t + (q << f), -(1 << f) + 1)          # (-2^F, 0]
    base = (r >> 1) + (1 << f)                           # 2^(r 2^-F) ~ 1 + r/2
    return (base << (E_BITS - f)) >> q


def _isoftmax_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", IN_DTYPES)
    check_mult(node, 1, None, sizes=(1,))
    mv = inp(node, 3)
    if mv is not None:
        mt = in_type(node, 3, "mask", MASK_DTYPES)
        try:
            if np.broadcast_shapes(mt.shape, xt.shape) != tuple(xt.shape):
                raise ValueError
        except ValueError:
            raise err(node, f"mask {mt} does not broadcast to x {xt}") from None
    axis = int(node.attr("axis", -1))
    if not -xt.rank <= axis < xt.rank:
        raise err(node, f"axis {axis} out of range for {xt}")
    variant = node.attr("variant", "ibert")
    need = ["frac_bits", "d_clip", "z_max"] + (["q_ln2", "q_b", "q_c", "e_shift"]
                                               if variant == "ibert" else [])
    if variant not in ("ibert", "shiftmax"):
        raise err(node, f"variant must be 'ibert' or 'shiftmax', got '{variant}'")
    missing = [k for k in need if node.attr(k) is None]
    if missing:
        raise err(node, f"missing integer attributes {missing} (see isoftmax_consts)")
    return [TensorType(DType.uint8, xt.shape)]


def isoftmax_ref(x, mult, shift, attrs: dict, axis: int = -1, mask=None) -> np.ndarray:
    """The reference semantics (numpy, int64) shared by the op and the benchmarks."""
    xi = np.asarray(x, np.int64)
    valid = np.ones(xi.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask) == 0, xi.shape)
    big = np.iinfo(np.int64).min
    xmax = np.max(np.where(valid, xi, big), axis=axis, keepdims=True)
    xmax = np.where(xmax == big, 0, xmax)
    d = np.maximum(xi - xmax, -int(attrs["d_clip"]))     # [-d_clip, 0], d_clip < 2^31
    d = -arith.rshift_round(-d * int(mult), int(shift))  # to scale 2^-F (|d * m| < 2^62)
    d = np.minimum(d, 0)
    if attrs.get("variant", "ibert") == "ibert":
        e = _iexp_ibert(d, attrs)
    else:
        e = _iexp_shift(d, attrs)
    e = np.where(valid, e, 0)                            # e <= 2^16 (+1)
    total = np.sum(e, axis=axis, keepdims=True)          # < 2^31 for rows < 2^14
    arith.check_int32(total, "softmax sum")
    factor = np.where(total > 0, (np.int64(1) << NORM_SHIFT) // np.maximum(total, 1), 0)
    y = arith.rshift_round(e * factor, NORM_SHIFT - 8)   # e * factor <= 2^40
    return np.clip(y, 0, 255).astype(np.uint8)


def _isoftmax_run(node: Node, args):
    mask = args[3] if len(args) > 3 else None
    return [isoftmax_ref(args[0], args[1][0], args[2][0], node.attrs,
                         int(node.attr("axis", -1)), mask)]


# ================================================================================= gelu
def igelu_consts(y_hi: float, level: int = GELU_L) -> dict:
    """Integer constants of ``qcc.igelu`` for output values up to ``y_hi``.

    The input must arrive at ``scale = sqrt(2) * 1.769 / level`` (the
    quantizer requantizes the linear accumulator to it), so that the i-erf
    clip point ``-b`` is exactly ``level`` input units.  ``x_max`` clips
    inputs whose GELU would saturate the output anyway; ``f_shift`` keeps
    ``x * g`` inside int32.  ``out_scale`` is the real scale of ``x * g``.
    """
    scale = math.sqrt(2.0) * ERF_B / level
    c1 = int(round(level * level / (ERF_A * ERF_B * ERF_B)))   # the "1" of 1 + erf
    x_max = int(math.ceil((max(y_hi, 0.0) + 0.2) / scale)) + 1
    bound = max(level, x_max)
    k2 = 0
    while bound * ((2 * c1) >> k2) > arith.INT32_MAX:
        k2 += 1
    return {"scale": scale, "attrs": {"q_l": level, "c1": c1, "f_shift": k2, "x_max": x_max},
            "out_scale": scale * (1 << k2) / (2.0 * c1)}


def igelu_acc(x, attrs: dict, x_zp: int = 0) -> np.ndarray:
    """``x * g(x)``: the int32 accumulator of i-GELU (before requantization)."""
    lvl, c1 = int(attrs["q_l"]), int(attrs["c1"])
    xi = np.clip(np.asarray(x, np.int64) - int(x_zp), -lvl, int(attrs["x_max"]))
    u = np.minimum(np.abs(xi), lvl)
    mag = c1 - (lvl - u) ** 2                            # c1 * |erf|, > 0
    g = (c1 + np.sign(xi) * mag) >> int(attrs["f_shift"])  # c1 * (1 + erf) >> k2
    return xi * g                                        # |.| <= 2^31 - 1 by f_shift


def _igelu_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", IN_DTYPES)
    check_zp(node, "x_zp", xt.dtype)
    check_mult(node, 1, None, sizes=(1,))
    for k in ("q_l", "c1", "f_shift", "x_max"):
        if node.attr(k) is None:
            raise err(node, f"missing integer attribute '{k}' (see igelu_consts)")
    bound = max(int(node.attr("q_l")), int(node.attr("x_max")))
    if bound * ((2 * int(node.attr("c1"))) >> int(node.attr("f_shift"))) > arith.INT32_MAX:
        raise err(node, "x_max * g can leave int32: raise f_shift")
    dt = out_dtype(node)
    act_range(node, dt)
    check_zp(node, "y_zp", dt)
    return [TensorType(dt, xt.shape)]


def _igelu_run(node: Node, args):
    acc = igelu_acc(args[0], node.attrs, int(node.attr("x_zp", 0)))
    dt = out_dtype(node)
    lo, hi = act_range(node, dt)
    y = arith.requantize(acc, args[1][0], args[2][0], int(node.attr("y_zp", 0)), lo, hi)
    return [y.astype(dt.np)]


# ============================================================================ layernorm
def ilayernorm_consts(gamma, beta, in_scale: float, out_scale: float, count: int,
                      eps: float = 0.0) -> dict:
    """Integer gamma (int32 values of <= 15 bits), int32 bias, the dyadic output
    multiplier and the eps attribute of ``qcc.ilayernorm``.

    The normalized value ``n`` has real value ``sqrt(C) * n / 2^15``; with
    ``gamma ~ g * s_g`` the accumulator ``n * g + b`` has scale
    ``s_acc = sqrt(C) * s_g / 2^15``.
    """
    gamma = np.asarray(gamma, np.float64).reshape(-1)
    beta = np.zeros_like(gamma) if beta is None else np.asarray(beta, np.float64).reshape(-1)
    gmax = float(np.max(np.abs(gamma))) or 1.0
    n_max = 1 << (LN_N_BITS + 1)
    for gb in range(14, 2, -1):
        s_g = gmax / ((1 << gb) - 1)
        s_acc = math.sqrt(count) * s_g / (1 << LN_N_BITS)
        b = np.rint(beta / s_acc)
        if n_max * ((1 << gb) - 1) + float(np.max(np.abs(b))) <= arith.INT32_MAX:
            break
    else:
        raise ValueError("LayerNorm bias too large against gamma for an int32 accumulator")
    g = np.rint(gamma / s_g).astype(np.int32)
    m, s = arith.quantize_multiplier(s_acc / out_scale)
    eps_y = eps * float(count) ** 3 / (in_scale * in_scale)   # eps in units of sum(y^2)
    frac = LN_EPS_F
    while frac > -LN_EPS_F and eps_y * 2.0 ** frac >= 2.0 ** 62:
        frac -= 1
    eps_q = int(round(eps_y * 2.0 ** frac))
    return {"gamma": g, "bias": b.astype(np.int32), "mult": int(m), "shift": int(s),
            "eps_q": eps_q, "eps_frac": frac, "s_acc": s_acc, "s_g": s_g, "g_bits": gb}


def _ln_shift(ymax: np.ndarray, count: int) -> np.ndarray:
    """Per-row shift so that ``sum((y >> sh)^2) <= 2^30`` (negative: left shift)."""
    cl = (count - 1).bit_length()                        # ceil(log2(C))
    sh = (2 * _bitlen(ymax) + cl - LN_VAR_BITS + 1) // 2
    return np.maximum(sh, -15)


def _ln_y2(y: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """``rshift_round(y, sh)`` for ``sh > 0``, else ``y << -sh`` (exact)."""
    pos = np.maximum(sh, 0)
    return np.where(sh > 0, (y + ((np.int64(1) << pos) >> 1)) >> pos, y << np.maximum(-sh, 0))


def ilayernorm_norm(x, count_axes: tuple, x_zp: int = 0, eps_q: int = 0,
                    eps_frac: int = LN_EPS_F) -> np.ndarray:
    """The normalized value ``n`` (real ``sqrt(C) n / 2^15``), int64 reference.

    ``eps_q / 2^eps_frac`` is epsilon in units of ``sum(y^2)``; the row shift
    keeps both ``sum((y >> sh)^2)`` and the shifted epsilon below 2^30, so
    their sum fits int32 (< 2^31).
    """
    xc = np.asarray(x, np.int64) - int(x_zp)
    c = int(np.prod([xc.shape[a] for a in count_axes]))
    y = c * xc - np.sum(xc, axis=count_axes, keepdims=True)   # exact centering, scale S / C
    sh = _ln_shift(np.max(np.abs(y), axis=count_axes, keepdims=True), c)
    sh_eps = -((LN_VAR_BITS + int(eps_frac) - int(eps_q).bit_length()) // 2)  # ceil
    sh = np.maximum(sh, sh_eps)
    y2 = _ln_y2(y, sh)
    var = np.sum(y2 * y2, axis=count_axes, keepdims=True)      # <= 2^30
    # refinement: the shift assumed C values as large as the largest; a row dominated by
    # a few (an outlier) has a far smaller var and so too few bits in std.  Shift less by
    # d = (28 - bitlen(var)) // 2 and keep it when the new sum still fits 2^30.
    sh_r = np.maximum(np.maximum(sh - np.maximum((LN_REFINE_BITS - _bitlen(var)) // 2, 0),
                                 sh_eps), -15)
    y2_r = _ln_y2(y, sh_r)
    var_r = np.sum(y2_r * y2_r, axis=count_axes, keepdims=True)
    keep = var_r <= (1 << LN_VAR_BITS)
    sh, y2, var = np.where(keep, sh_r, sh), np.where(keep, y2_r, y2), np.where(keep, var_r, var)
    e_sh = int(eps_frac) + 2 * sh
    eps_row = np.where(e_sh >= 0, int(eps_q) >> np.clip(e_sh, 0, 62),
                       int(eps_q) << np.clip(-e_sh, 0, 62))    # < 2^30 by sh_eps
    var = np.minimum(var + eps_row, arith.INT32_MAX)           # < 2^31: never clamps
    std = arith.isqrt(var)                                     # <= 46340
    factor = np.where(std > 0, arith.INT32_MAX // np.maximum(std, 1), 0)
    return arith.rshift_round(y2 * factor, 31 - LN_N_BITS)     # |y2 * factor| < 2^32 (int64)


def _ln_axes(node: Node, rank: int) -> tuple:
    axis = int(node.attr("axis", -1))
    if not -rank <= axis < rank:
        raise err(node, f"axis {axis} out of range for rank {rank}")
    return tuple(range(axis % rank, rank))


def _ilayernorm_infer(node: Node) -> list[TensorType]:
    xt = in_type(node, 0, "x", IN_DTYPES)
    check_zp(node, "x_zp", xt.dtype)
    norm = tuple(xt.shape[a] for a in _ln_axes(node, xt.rank))
    c = int(np.prod(norm))
    for i, what in ((1, "gamma"), (2, "bias")):
        t = const_type(node, i, what, (DType.int32,))
        if t.numel != c:
            raise err(node, f"{what} has {t.numel} values, normalized size is {c}")
    g = node.inputs[1].data
    if g.size and int(np.max(np.abs(g))) >= 1 << 15:
        raise err(node, "gamma values must lie in (-2^15, 2^15)")
    check_mult(node, 3, None, sizes=(1,))
    dt = out_dtype(node)
    act_range(node, dt)
    check_zp(node, "y_zp", dt)
    return [TensorType(dt, xt.shape)]


def _ilayernorm_run(node: Node, args):
    axes = _ln_axes(node, args[0].ndim)
    n = ilayernorm_norm(args[0], axes, int(node.attr("x_zp", 0)), int(node.attr("eps_q", 0)),
                        int(node.attr("eps_frac", LN_EPS_F)))
    norm_shape = tuple(args[0].shape[a] for a in axes)
    acc = n * args[1].astype(np.int64).reshape(norm_shape) + args[2].astype(np.int64).reshape(norm_shape)
    dt = out_dtype(node)
    lo, hi = act_range(node, dt)
    y = arith.requantize(acc, args[3][0], args[4][0], int(node.attr("y_zp", 0)), lo, hi)
    return [y.astype(dt.np)]


def _reg(name, infer, run, doc, lo, hi):
    register(OpDef(name=name, infer=infer, run=run, family="integer", doc=doc,
                   float_arith=False, min_inputs=lo, max_inputs=hi, num_outputs=1))


_reg("qcc.isoftmax", _isoftmax_infer, _isoftmax_run,
     "integer softmax (I-BERT i-exp or I-ViT shiftmax), uint8 output at scale 2^-8, "
     "optional mask (nonzero = probability 0)", 3, 4)
_reg("qcc.igelu", _igelu_infer, _igelu_run,
     "I-BERT i-erf GELU on a fine-scale integer input, requantized output", 3, 3)
_reg("qcc.ilayernorm", _ilayernorm_infer, _ilayernorm_run,
     "integer LayerNorm: exact centering, per-row shift, isqrt, integer gamma/bias", 5, 5)
