"""The integer arithmetic contract of qcc (see docs/arithmetic.md).

Implemented once here and used by the quantizer, the reference integer ops and
every backend's code generator.  All integer functions are vectorised over
numpy arrays and compute in int64; scalars come back as numpy scalars/arrays.

* ``quantize_multiplier(r) -> (m, s)``: ``r ~= m / 2^s``, ``m`` in [2^30, 2^31),
  ``s`` in [1, 62]; ``r == 0`` or ``r < 2^-32`` gives ``(0, 1)``.
* ``requantize(acc, m, s, zp, qmin, qmax)``:
  ``clamp(((acc * m) + 2^(s-1)) >> s + zp, qmin, qmax)`` in int64, one rounding,
  ties toward +inf.
* ``quantize``/``dequantize``: ONNX QuantizeLinear/DequantizeLinear (float32,
  round half to even).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .errors import LoweringError, QccError

SHIFT_MIN = 1
SHIFT_MAX = 62
M_MIN = 1 << 30
M_LIMIT = 1 << 31  # exclusive upper bound of m
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _as_i64(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iub":
        raise QccError(f"integer arithmetic got a {a.dtype} operand")
    if a.dtype == np.uint64 and a.size and int(a.max()) > np.iinfo(np.int64).max:
        raise QccError("uint64 operand exceeds int64")
    return a.astype(np.int64)


# -- multipliers --------------------------------------------------------------------
def quantize_multiplier(r):
    """Dyadic ``(m, s)`` with ``m / 2^s ~= r`` (docs/arithmetic.md §2).

    ``r`` is a float or an array of floats (per channel).  Returns int32
    ``m`` in [2^30, 2^31) (or 0) and int32 ``s`` in [1, 62], with the shape of
    ``r`` (numpy scalars for a scalar ``r``).
    """
    ra = np.asarray(r, dtype=np.float64)
    if not np.all(np.isfinite(ra)) or np.any(ra < 0):
        raise LoweringError(f"rescale factor must be finite and >= 0, got {ra.ravel()[:8]}")
    q, e = np.frexp(ra)  # ra = q * 2^e, q in [0.5, 1) (q = 0 for ra = 0)
    m = np.floor(q * float(M_LIMIT) + 0.5).astype(np.int64)  # round half up, exact
    e = e.astype(np.int64)
    carry = m == M_LIMIT
    m = np.where(carry, M_MIN, m)
    e = np.where(carry, e + 1, e)
    s = 31 - e
    tiny = (ra == 0) | (s > SHIFT_MAX)
    m = np.where(tiny, 0, m)
    s = np.where(tiny, SHIFT_MIN, s)
    if np.any(s < SHIFT_MIN):
        bad = ra[s < SHIFT_MIN].ravel()[:4]
        raise LoweringError(f"rescale factor {bad} is too large for a dyadic multiplier "
                            f"(needs r < 2^30); choose a larger output scale")
    m32, s32 = m.astype(np.int32), s.astype(np.int32)
    if m32.ndim == 0:
        return m32[()], s32[()]
    return m32, s32


def quantize_multipliers_shared(rs):
    """Several factors with one common shift: ``(ms int32[n], s int32)``.

    ``s`` comes from the largest factor (``quantize_multiplier``); each
    ``m_i = floor(r_i * 2^s + 1/2)`` lies in [0, 2^31).
    """
    ra = np.atleast_1d(np.asarray(rs, dtype=np.float64))
    _, s = quantize_multiplier(float(ra.max()))
    if not np.all(np.isfinite(ra)) or np.any(ra < 0):
        raise LoweringError(f"rescale factors must be finite and >= 0, got {ra}")
    ms = np.floor(np.ldexp(ra, int(s)) + 0.5)  # exact: ldexp scales by a power of two
    ms = np.minimum(ms, M_LIMIT - 1).astype(np.int64)
    return ms.astype(np.int32), np.int32(s)


def multiplier_to_float(m, s):
    """The real value ``m / 2^s`` (for diagnostics and tests)."""
    return np.ldexp(np.asarray(m, dtype=np.float64), -np.asarray(s, dtype=np.int64))


# -- rounding primitives --------------------------------------------------------------
def saturate(x, qmin: int, qmax: int) -> np.ndarray:
    """Clamp integers to [qmin, qmax] (int64 result)."""
    return np.clip(_as_i64(x), qmin, qmax)


def rshift_round(x, s) -> np.ndarray:
    """``(x + 2^(s-1)) >> s`` in int64: round to nearest, ties toward +inf."""
    xa = _as_i64(x)
    sa = _as_i64(s)
    if sa.size and (sa.min() < SHIFT_MIN or sa.max() > SHIFT_MAX):
        raise QccError(f"shift out of [{SHIFT_MIN}, {SHIFT_MAX}]: {np.unique(sa)[:8]}")
    one = np.int64(1)
    return (xa + (one << (sa - 1))) >> sa


def div_round(a, b) -> np.ndarray:
    """Integer ``a / b`` rounded to nearest, ties toward +inf (``b > 0``)."""
    aa, ba = _as_i64(a), _as_i64(b)
    if ba.size and ba.min() <= 0:
        raise QccError("div_round needs a positive divisor")
    return np.floor_divide(2 * aa + ba, 2 * ba)


def div_floor(a, b) -> np.ndarray:
    """Integer ``floor(a / b)`` (``b > 0``)."""
    aa, ba = _as_i64(a), _as_i64(b)
    if ba.size and ba.min() <= 0:
        raise QccError("div_floor needs a positive divisor")
    return np.floor_divide(aa, ba)


def check_int32(acc, what: str = "accumulator") -> np.ndarray:
    """Raise if any value leaves the int32 range (the overflow contract)."""
    a = np.asarray(acc)
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        raise QccError(f"int32 {what} overflow (range [{int(a.min())}, {int(a.max())}]); "
                       f"the quantizer's bound check (arith.acc_fits_int32) must reject this layer")
    return a


def broadcast_channel(v, ndim: int, axis: Optional[int]) -> np.ndarray:
    """Reshape a per-tensor ``[1]`` or per-channel ``[C]`` array to broadcast on ``axis``."""
    va = np.asarray(v)
    if va.size == 1 or axis is None:
        return va.reshape(()) if va.size == 1 else va
    axis = axis % ndim
    shape = [1] * ndim
    shape[axis] = va.size
    return va.reshape(shape)


def requantize(acc, m, s, zp: int = 0, qmin: int = -128, qmax: int = 127,
               axis: Optional[int] = None) -> np.ndarray:
    """``clamp(rshift_round(acc * m, s) + zp, qmin, qmax)`` in int64.

    ``acc`` must be in the int32 range, ``m`` in [0, 2^31), ``s`` in [1, 62].
    Per-channel ``m``/``s`` (1-D) broadcast along ``axis`` of ``acc``.
    """
    a = check_int32(_as_i64(acc))
    ma = _as_i64(m)
    sa = _as_i64(s)
    if ma.size and (ma.min() < 0 or ma.max() >= M_LIMIT):
        raise QccError("multiplier out of [0, 2^31)")
    if axis is not None:
        ma = broadcast_channel(ma, a.ndim, axis)
        sa = broadcast_channel(sa, a.ndim, axis)
    return np.clip(rshift_round(a * ma, sa) + int(zp), qmin, qmax)


def requantize_wide(acc, m, s, zp: int = 0, qmin: int = -128, qmax: int = 127,
                    axis: Optional[int] = None) -> np.ndarray:
    """:func:`requantize` of an int64 accumulator (the ``acc_bits=64`` form, §5.1).

    Same formula and rounding; ``acc`` may use all of int64 provided ``|acc| * m`` stays
    below 2^63 (the multiplier was narrowed by :func:`narrow_multiplier` for that), which
    is checked here, not assumed: numpy would wrap silently."""
    a = _as_i64(acc)
    ma = _as_i64(m)
    sa = _as_i64(s)
    if ma.size and (ma.min() < 0 or ma.max() >= M_LIMIT):
        raise QccError("multiplier out of [0, 2^31)")
    peak = int(np.max(np.abs(a))) if a.size else 0
    if ma.size and peak * int(ma.max()) >= 1 << 63:
        raise QccError(f"int64 accumulator x multiplier overflow (|acc| up to {peak}, "
                       f"m up to {int(ma.max())}); check-headroom must reject this layer")
    if axis is not None:
        ma = broadcast_channel(ma, a.ndim, axis)
        sa = broadcast_channel(sa, a.ndim, axis)
    return np.clip(rshift_round(a * ma, sa) + int(zp), qmin, qmax)


def narrow_multiplier(m, s, acc_bits_needed: int):
    """``(m', s')`` with ``m'/2^s' ~= m/2^s`` and ``|acc| * m' < 2^63`` for every
    ``|acc| < 2^acc_bits_needed`` (§5.1): drops ``p = acc_bits_needed - 31`` low bits of
    ``m`` (rounded, so ``m' <= 2^(31-p)``) and of ``s``.  A zero multiplier stays
    ``(0, 1)``.  Raises ``QccError`` when a shift would fall below 1 (a rescale factor
    too large for the widened accumulator)."""
    ma, sa = _as_i64(m), _as_i64(s)
    p = max(0, int(acc_bits_needed) - 31)
    if p == 0:
        return ma.astype(np.int32), sa.astype(np.int32)
    if p > SHIFT_MAX - 1:
        raise QccError(f"an accumulator of {acc_bits_needed} bits does not fit int64")
    zero = ma == 0
    if np.any(~zero & (sa - p < SHIFT_MIN)):
        raise QccError(f"rescale factor too large to requantize a {acc_bits_needed}-bit "
                       f"accumulator in int64 (shift {int(sa.min())} - {p} < {SHIFT_MIN})")
    mn = np.where(zero, 0, (ma + (np.int64(1) << (p - 1))) >> p)
    sn = np.where(zero, 1, sa - p)
    return mn.astype(np.int32), sn.astype(np.int32)


def acc_bound(k: int, w_bits: int = 8, x_absmax: int = 255, bias_absmax: int = 0,
              w_absmax: Optional[int] = None) -> int:
    """Largest |accumulator| of a K-long dot product (docs/arithmetic.md §5).

    ``w_absmax`` defaults to ``2^(w_bits-1)``; pass 255 for activation x
    activation (both centered)."""
    wmax = (1 << (int(w_bits) - 1)) if w_absmax is None else int(w_absmax)
    return int(k) * int(x_absmax) * wmax + int(bias_absmax)


def acc_fits_int32(k: int, w_bits: int = 8, x_absmax: int = 255, bias_absmax: int = 0,
                   w_absmax: Optional[int] = None) -> bool:
    return acc_bound(k, w_bits, x_absmax, bias_absmax, w_absmax) <= INT32_MAX


# -- float <-> integer at the boundary ----------------------------------------------------
def f32_scale(scale):
    """Round scales to float32-representable values (what QDQ export stores)."""
    return np.asarray(scale, dtype=np.float32).astype(np.float64)


def quantize(x, scale, zp=0, qmin: int = -128, qmax: int = 127,
             axis: Optional[int] = None) -> np.ndarray:
    """ONNX QuantizeLinear: ``clamp(rint(f32(x) / f32(scale)) + zp)`` (int64 result).

    Division in float32, round half to even; NaN gives ``zp``, +-inf saturate.
    Per-channel ``scale``/``zp`` broadcast along ``axis``.
    """
    xa = np.asarray(x, dtype=np.float32)
    sc = np.asarray(scale, dtype=np.float32)
    za = np.asarray(zp, dtype=np.int64)
    if axis is not None:
        sc = broadcast_channel(sc, xa.ndim, axis)
        za = broadcast_channel(za, xa.ndim, axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.rint(xa / sc).astype(np.float64)
    q = np.where(np.isnan(q), 0.0, q)
    q = np.clip(q, -2.0**40, 2.0**40).astype(np.int64)
    return np.clip(q + za, qmin, qmax)


def dequantize(q, scale, zp=0, axis: Optional[int] = None) -> np.ndarray:
    """ONNX DequantizeLinear: ``f32(q - zp) * f32(scale)`` (float32 result)."""
    qa = _as_i64(q)
    sc = np.asarray(scale, dtype=np.float32)
    za = np.asarray(zp, dtype=np.int64)
    if axis is not None:
        sc = broadcast_channel(sc, qa.ndim, axis)
        za = broadcast_channel(za, qa.ndim, axis)
    return (qa - za).astype(np.float32) * sc


def quantize_bias(bias, s_in, s_w) -> np.ndarray:
    """int32 bias at scale ``s_in * s_w[c]``: float64, round half to even, saturated."""
    scale = np.asarray(s_in, np.float64) * np.asarray(s_w, np.float64)
    q = np.rint(np.asarray(bias, np.float64) / scale)
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int32)


def isqrt(n) -> np.ndarray:
    """Exact ``floor(sqrt(n))`` of integers ``0 <= n < 2^62`` (vectorised, int64).

    Newton's iteration with a stop test (I-BERT Alg. 4): ``x0 = 2^ceil(bits(n)/2)``
    (>= sqrt(n)), ``x' = (x + n // x) // 2``; the sequence decreases
    strictly while ``x > isqrt(n)``, so stop at the first ``x' >= x`` and return
    ``x``.  At most 6 updates plus the stop test for ``n < 2^32``.  Backends
    run the same loop with the same stop test (integer division only).
    """
    na = _as_i64(n)
    if na.size and na.min() < 0:
        raise QccError("isqrt of a negative number")
    bits = np.zeros(na.shape, np.int64)
    t = na.copy()
    while np.any(t > 0):  # bit length without float log2 (exact for every int64)
        nz = t > 0
        bits += nz
        t >>= 1
    x = np.where(na > 0, np.int64(1) << ((bits + 1) // 2), 0)
    active = na > 0
    while np.any(active):
        safe = np.where(active, x, 1)
        nxt = (safe + na // safe) >> 1
        stop = active & (nxt >= x)
        active = active & ~stop
        x = np.where(active, nxt, x)
    return x
