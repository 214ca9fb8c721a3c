"""Integer recurrent ops: ``qcc.lstm`` and ``qcc.gru`` (docs/integer_ops.md "Recurrent").

In the style of TFLite Micro's int8 LSTM: int8 inputs, weights and hidden state,
gate pre-activations in int16 at the fixed scale 2^-12 (Q3.12), gate activations
in int16 at 2^-15 (Q0.15) from 513-entry interpolated tables, the LSTM cell state
in int16 at a power-of-two scale 2^-cell_frac chosen from calibration.  Every
step is integer arithmetic with one documented rounding (``arith.rshift_round``:
ties toward +inf) and explicit saturation, so backends reproduce it bit for bit.

Layout follows ONNX (``layout = 0``): x ``[S, B, I]``, weights per direction
``[D, G*H, I]`` and ``[D, G*H, H]`` (gate order ONNX: LSTM ``i o f c``, GRU
``z r h``), outputs Y ``[S, D, B, H]``, Y_h ``[D, B, H]`` (and LSTM Y_c).

Inputs of ``qcc.lstm`` (index: meaning):
 0 x int8/uint8 [S,B,I]; 1 w int8 [D,4H,I]; 2 r int8 [D,4H,H]; 3 bias int32 [D,4H] (Q3.12);
 4/5 mult/shift int32 [D*4H]: x-path accumulators (scale s_x*s_w[row]) -> Q3.12;
 6/7 mult/shift int32 [D*4H]: h-path accumulators (scale s_h*s_r[row]) -> Q3.12;
 8 h0 int8 [D,B,H] (optional); 9 c0 int16 [D,B,H] (optional);
 10 sigmoid table, 11 tanh table: int16 [513] (:func:`gate_tables`);
 12/13 mult/shift int32 [1]: o * tanh(c) (Q0.30) -> h (int8 at s_h).
Inputs of ``qcc.gru``: 0-2 as LSTM with 3H rows; 3 bias_x, 4 bias_h int32 [D,3H] (Q3.12);
 5/6 x-path and 7/8 h-path mult/shift [D*3H]; 9 h0 (optional); 10/11 tables;
 12/13 mult/shift [1]: (1 - z) * h~ (Q0.30) -> h.  Attribute ``linear_before_reset``.
"""

from __future__ import annotations

import numpy as np

from .. import arith
from ..ir import DType, Node, TensorType
from . import OpDef, register
from ._integer_common import ACT_DTYPES, check_mult, check_zp, const_type, err, in_type, inp

GATE_FRAC = 12          # gate pre-activations: int16 at 2^-12 (Q3.12, range [-8, 8))
ACT_FRAC = 15           # gate activations: int16 at 2^-15 (Q0.15)
LUT_SIZE = 513          # table entries over [-8, 8]: step 1/32, 7 interpolation bits
LUT_FRAC = 7
I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1
DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


# -- compile-time helpers -----------------------------------------------------------------
def gate_tables() -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid, tanh) int16 tables: entry k is f(-8 + k/32) at scale 2^-15, rounded
    half away from zero (float64, at compile time) and clamped to int16 (sigmoid to
    [0, 32767], tanh to [-32767, 32767])."""
    x = -8.0 + np.arange(LUT_SIZE, dtype=np.float64) / 32.0
    sig = np.clip(np.floor(32768.0 / (1.0 + np.exp(-x)) + 0.5), 0, I16_MAX)
    th = np.tanh(x) * 32768.0
    th = np.clip(np.sign(th) * np.floor(np.abs(th) + 0.5), -I16_MAX, I16_MAX)
    return sig.astype(np.int16), th.astype(np.int16)


def cell_frac(cell_absmax: float) -> int:
    """Fraction bits of the int16 cell state covering ``|c| <= cell_absmax`` (with 10 %
    headroom): ``15 - ceil(log2(1.1 * absmax))``, in [0, 15]."""
    a = float(cell_absmax) * 1.1
    ib = 0 if not np.isfinite(a) or a <= 1.0 else int(np.ceil(np.log2(a)))
    return int(min(15, max(0, 15 - ib)))


# -- the arithmetic (shared by both ops) -------------------------------------------------------
def lut16(g: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Interpolated table lookup of int16 Q3.12 ``g``: ``u = g + 2^15``, ``i = u >> 7``,
    ``f = u & 127``, ``y = t[i] + (((t[i+1] - t[i]) * f + 64) >> 7)`` (floor shift)."""
    u = np.asarray(g, np.int64) + (1 << 15)
    i, f = u >> LUT_FRAC, u & ((1 << LUT_FRAC) - 1)
    t = np.asarray(table, np.int64)
    lo, hi = t[i], t[np.minimum(i + 1, LUT_SIZE - 1)]
    return lo + (((hi - lo) * f + (1 << (LUT_FRAC - 1))) >> LUT_FRAC)


def _sat(x, lo, hi):
    return np.clip(x, lo, hi)


def _rq32(acc: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Requantize int32 accumulators [B, R] by per-row ``m / 2^s``, saturated to int32."""
    arith.check_int32(acc, "recurrent accumulator")
    return _sat(arith.rshift_round(acc * m[None, :], s[None, :]), arith.INT32_MIN, arith.INT32_MAX)


def _gates(wq, rq, xc, hc, mx, sx, mh, sh):
    """int32-saturated x-path and h-path gate terms at Q3.12: ([B, R], [B, R])."""
    return _rq32(xc @ wq.T, mx, sx), _rq32(hc @ rq.T, mh, sh)


def _to_q312(c: np.ndarray, cf: int) -> np.ndarray:
    """Cell state at 2^-cf -> int16 at 2^-12 (round, or shift left with saturation)."""
    if cf > GATE_FRAC:
        return arith.rshift_round(c, cf - GATE_FRAC)
    return _sat(c << (GATE_FRAC - cf), I16_MIN, I16_MAX)


def _steps(node: Node, s: int, d: int) -> range:
    rev = node.attr("direction", "forward") == "reverse" or d == 1
    return range(s - 1, -1, -1) if rev else range(s)


# -- LSTM --------------------------------------------------------------------------------------
def _check_common(node: Node, gates: int):
    xt = in_type(node, 0, "x", ACT_DTYPES)
    if xt.rank != 3:
        raise err(node, f"x must be [seq, batch, input], got {list(xt.shape)}")
    direction = node.attr("direction", "forward")
    if direction not in DIRECTIONS:
        raise err(node, f"direction '{direction}' not in {sorted(DIRECTIONS)}")
    nd, hsz = DIRECTIONS[direction], int(node.attr("hidden_size", 0))
    s, b, i = xt.shape
    wt = const_type(node, 1, "w", (DType.int8,))
    rt = const_type(node, 2, "r", (DType.int8,))
    if wt.shape != (nd, gates * hsz, i) or rt.shape != (nd, gates * hsz, hsz):
        raise err(node, f"w {list(wt.shape)} / r {list(rt.shape)} do not match "
                        f"[{nd}, {gates * hsz}, {i}] / [{nd}, {gates * hsz}, {hsz}]")
    check_zp(node, "x_zp", xt.dtype)
    check_zp(node, "h_zp", DType.int8)
    return s, b, nd, hsz


def _check_tables(node: Node, first: int) -> None:
    for j, what in ((first, "sigmoid table"), (first + 1, "tanh table")):
        t = const_type(node, j, what, (DType.int16,))
        if t.shape != (LUT_SIZE,):
            raise err(node, f"{what} must be int16 [{LUT_SIZE}], got {list(t.shape)}")


def _check_state(node: Node, i: int, what: str, dt: DType, shape) -> None:
    if inp(node, i) is not None:
        t = in_type(node, i, what, (dt,))
        if t.shape != shape:
            raise err(node, f"{what} shape {list(t.shape)} != {list(shape)}")


def _lstm_infer(node: Node) -> list[TensorType]:
    s, b, nd, hsz = _check_common(node, 4)
    bt = const_type(node, 3, "bias", (DType.int32,))
    if bt.shape != (nd, 4 * hsz):
        raise err(node, f"bias shape {list(bt.shape)} != [{nd}, {4 * hsz}]")
    check_mult(node, 4, None, sizes=(nd * 4 * hsz,))
    check_mult(node, 6, None, sizes=(nd * 4 * hsz,))
    check_mult(node, 12, None, sizes=(1,))
    _check_state(node, 8, "h0", DType.int8, (nd, b, hsz))
    _check_state(node, 9, "c0", DType.int16, (nd, b, hsz))
    _check_tables(node, 10)
    cf = int(node.attr("cell_frac", 11))
    if not 0 <= cf <= 15:
        raise err(node, f"cell_frac must be in [0, 15], got {cf}")
    return [TensorType(DType.int8, (s, nd, b, hsz)), TensorType(DType.int8, (nd, b, hsz)),
            TensorType(DType.int16, (nd, b, hsz))]


def _state(args, i: int, nd: int, b: int, hsz: int, fill: int) -> np.ndarray:
    a = args[i] if i < len(args) and args[i] is not None else None
    return np.full((nd, b, hsz), fill, np.int64) if a is None else np.asarray(a, np.int64).copy()


def _lstm_run(node: Node, args):
    x = np.asarray(args[0], np.int64)
    s, b, _ = x.shape
    hsz, nd = int(node.attr("hidden_size")), DIRECTIONS[node.attr("direction", "forward")]
    xz, hz, cf = int(node.attr("x_zp", 0)), int(node.attr("h_zp", 0)), int(node.attr("cell_frac", 11))
    w, r, bias = (np.asarray(a, np.int64) for a in args[1:4])
    mx, sx, mh, sh = (np.asarray(a, np.int64).reshape(nd, 4 * hsz) for a in args[4:8])
    h, c = _state(args, 8, nd, b, hsz, hz), _state(args, 9, nd, b, hsz, 0)
    sig, tanh = args[10], args[11]
    mo, so = int(args[12][0]), int(args[13][0])
    y = np.zeros((s, nd, b, hsz), np.int64)
    for d in range(nd):
        for t in _steps(node, s, d):
            gx, gh = _gates(w[d], r[d], x[t] - xz, h[d] - hz, mx[d], sx[d], mh[d], sh[d])
            g = _sat(gx + gh + bias[d][None, :], I16_MIN, I16_MAX)
            gi, go, gf, gc = (g[:, k * hsz:(k + 1) * hsz] for k in range(4))
            i_, o_, f_, c_ = lut16(gi, sig), lut16(go, sig), lut16(gf, sig), lut16(gc, tanh)
            c[d] = _sat(arith.rshift_round(f_ * c[d], ACT_FRAC)
                        + arith.rshift_round(i_ * c_, 2 * ACT_FRAC - cf), I16_MIN, I16_MAX)
            hprod = o_ * lut16(_to_q312(c[d], cf), tanh)
            h[d] = _sat(arith.rshift_round(hprod * mo, so) + hz, -128, 127)
            y[t, d] = h[d]
    return [y.astype(np.int8), h.astype(np.int8), c.astype(np.int16)]


# -- GRU ---------------------------------------------------------------------------------------
def _gru_infer(node: Node) -> list[TensorType]:
    s, b, nd, hsz = _check_common(node, 3)
    for j, what in ((3, "bias_x"), (4, "bias_h")):
        bt = const_type(node, j, what, (DType.int32,))
        if bt.shape != (nd, 3 * hsz):
            raise err(node, f"{what} shape {list(bt.shape)} != [{nd}, {3 * hsz}]")
    check_mult(node, 5, None, sizes=(nd * 3 * hsz,))
    check_mult(node, 7, None, sizes=(nd * 3 * hsz,))
    check_mult(node, 12, None, sizes=(1,))
    _check_state(node, 9, "h0", DType.int8, (nd, b, hsz))
    _check_tables(node, 10)
    return [TensorType(DType.int8, (s, nd, b, hsz)), TensorType(DType.int8, (nd, b, hsz))]


def _gru_run(node: Node, args):
    x = np.asarray(args[0], np.int64)
    s, b, _ = x.shape
    hsz, nd = int(node.attr("hidden_size")), DIRECTIONS[node.attr("direction", "forward")]
    xz, hz = int(node.attr("x_zp", 0)), int(node.attr("h_zp", 0))
    lbr = int(node.attr("linear_before_reset", 0))
    w, r, bx, bh = (np.asarray(a, np.int64) for a in args[1:5])
    mx, sx, mh, sh = (np.asarray(a, np.int64).reshape(nd, 3 * hsz) for a in args[5:9])
    h = _state(args, 9, nd, b, hsz, hz)
    sig, tanh = args[10], args[11]
    mo, so = int(args[12][0]), int(args[13][0])
    y = np.zeros((s, nd, b, hsz), np.int64)
    zs, rs, hs = slice(0, hsz), slice(hsz, 2 * hsz), slice(2 * hsz, 3 * hsz)
    for d in range(nd):
        for t in _steps(node, s, d):
            hc = h[d] - hz
            gx, gh = _gates(w[d], r[d], x[t] - xz, hc, mx[d], sx[d], mh[d], sh[d])
            z = lut16(_sat(gx[:, zs] + gh[:, zs] + bx[d, zs] + bh[d, zs], I16_MIN, I16_MAX), sig)
            rr = lut16(_sat(gx[:, rs] + gh[:, rs] + bx[d, rs] + bh[d, rs], I16_MIN, I16_MAX), sig)
            if lbr:
                hterm = arith.rshift_round(rr * _sat(gh[:, hs] + bh[d, hs], I16_MIN, I16_MAX), ACT_FRAC)
            else:  # (r * h) quantized back to h's int8 grid, then the recurrent weights
                rh = _sat(arith.rshift_round(rr * hc, ACT_FRAC), -128 - hz, 127 - hz)
                hterm = _rq32(rh @ r[d][hs].T, mh[d, hs], sh[d, hs]) + bh[d, hs]
            hh = lut16(_sat(gx[:, hs] + bx[d, hs] + hterm, I16_MIN, I16_MAX), tanh)
            upd = arith.rshift_round(((1 << ACT_FRAC) - z) * hh * mo, so) \
                + arith.rshift_round(z * hc, ACT_FRAC)
            h[d] = _sat(upd + hz, -128, 127)
            y[t, d] = h[d]
    return [y.astype(np.int8), h.astype(np.int8)]


register(OpDef(name="qcc.lstm", infer=_lstm_infer, run=_lstm_run, family="integer",
               doc="int8 LSTM (ONNX layout 0, gates iofc): Q3.12 gates, interpolated int16 "
                   "sigmoid/tanh tables, int16 cell state at 2^-cell_frac",
               float_arith=False, min_inputs=14, max_inputs=14, num_outputs=3))
register(OpDef(name="qcc.gru", infer=_gru_infer, run=_gru_run, family="integer",
               doc="int8 GRU (ONNX layout 0, gates zrh, linear_before_reset 0/1): Q3.12 gates, "
                   "interpolated int16 sigmoid/tanh tables",
               float_arith=False, min_inputs=14, max_inputs=14, num_outputs=2))
