"""The quantization scheme: how real tensors become integers (public API).

Activations: int8 per tensor, asymmetric, the range always holding 0 exactly
(:func:`act_qparams`).  Weights: symmetric per output channel
(:func:`weight_qparams`) or per group along the reduction axis with an int32
multiplier per group (:func:`group_weight_qparams`); below 8 bits the clip
value of each channel or group is searched (:func:`clipped_absmax`).  The
quantize pass (``qcc.passes.quantize``) applies these; mixed precision
(``qcc.mixed_precision.sensitivity``) fake-quantizes with the very same
functions, so what it measures is what is deployed.  docs/arithmetic.md and
docs/lowbit.md give the formulas.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc import arith
from qcc.errors import CalibrationError
from qcc.ir import DType, QParams


def act_qparams(lo: float, hi: float, bits: int = 8) -> QParams:
    """Per-tensor asymmetric qparams covering [lo, hi] and 0 exactly."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise CalibrationError(f"non-finite calibrated range [{lo}, {hi}]")
    if (hi - lo) / (qmax - qmin) < float(np.finfo(np.float32).tiny):
        hi = lo + 1e-6  # a zero (or denormal) range: any scale represents it
    # a tiny but real range (1e-13: a random-init network's vanishing residual branch)
    # keeps its own scale: an absolute floor would quantize every value to one code
    scale = float(arith.f32_scale((hi - lo) / (qmax - qmin)))
    zp = int(np.clip(np.round(qmin - lo / scale), qmin, qmax))
    return QParams(scale=scale, zero_point=zp, bits=bits)


CLIP_GRID = np.linspace(0.3, 1.0, 29)  # clip ratios tried for weights below 8 bits


def clipped_absmax(rows: np.ndarray, qmax) -> np.ndarray:
    """Per row of ``rows`` [R, n]: the clip value ``c * max|row|`` (c in CLIP_GRID) whose
    symmetric quantization to [-qmax-1, qmax] has the least squared error.  int8 keeps
    c = 1 (plain absmax); int4/int2 gain much from clipping (int2 with absmax maps
    most weights to 0)."""
    rows = rows.astype(np.float64)
    amax = np.abs(rows).max(axis=1)
    qmax = np.broadcast_to(np.asarray(qmax, np.float64), amax.shape)
    best, best_err = amax.copy(), np.full(amax.shape, np.inf)
    for c in CLIP_GRID:
        s = np.where(amax > 0, c * amax / qmax, 1.0)[:, None]
        q = np.clip(np.rint(rows / s), -qmax[:, None] - 1, qmax[:, None])
        err = ((q * s - rows) ** 2).sum(axis=1)
        better = err < best_err
        best[better], best_err[better] = c * amax[better], err[better]
    return best


# A channel's weight scale is at least this fraction of the layer's largest (docs/arithmetic.md
# "Near-dead channels"): trained nets carry channels whose weights are ~1e-34, whose own
# absmax scale would turn a normal bias into an int32 far beyond any accumulator bound.
# Floored, such weights quantize to 0 (the channel is its bias, carried exactly) and the
# bias stays within 2^12 of the layer's largest-channel bias codes.
SCALE_FLOOR = 2.0 ** -12


def channel_scales(amax: np.ndarray, qmax) -> np.ndarray:
    """Per-channel symmetric scales ``amax / qmax``, floored at SCALE_FLOOR times the
    largest (an all-zero channel gets the floor, or 1 when the whole tensor is zero)."""
    s = np.asarray(amax, np.float64) / qmax
    top = float(np.max(s)) if s.size else 0.0
    if top <= 0:
        return np.ones_like(s)
    return np.maximum(s, top * SCALE_FLOOR)


def floored_channels(amax: np.ndarray, qmax) -> list[int]:
    """Channels whose scale :func:`channel_scales` raised to the floor."""
    s = np.asarray(amax, np.float64).reshape(-1) / qmax
    top = float(np.max(s)) if s.size else 0.0
    return [int(i) for i in np.nonzero(s < top * SCALE_FLOOR)[0]] if top > 0 else []


def weight_qparams(w: np.ndarray, axis: int, bits: int = 8) -> tuple[np.ndarray, QParams]:
    """Symmetric per-channel weights along ``axis``: (int values, qparams).  Below
    8 bits the per-channel clip value is chosen by :func:`clipped_absmax`."""
    qmax = (1 << (bits - 1)) - 1
    red = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.max(np.abs(w.astype(np.float64)), axis=red) if red else np.abs(w.astype(np.float64))
    if bits < 8 and red:
        amax = clipped_absmax(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1), qmax)
    scale = arith.f32_scale(channel_scales(amax, qmax))
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -qmax - 1, qmax).astype(np.int8)
    return q, QParams(scale=scale, zero_point=np.zeros_like(scale, dtype=np.int64), bits=bits, axis=axis)


WDTYPE = {8: DType.int8, 4: DType.int4, 2: DType.int2}
GROUP_SHIFT = 16  # fractional bits of the per-group multipliers (docs/integer_ops.md "Per-group")


def group_weight_qparams(w2: np.ndarray, bits: int, group_size: int, high_from: Optional[int] = None,
                         shift: int = GROUP_SHIFT, floor: Optional[np.ndarray] = None):
    """Symmetric per-group weights of ``w2`` [M, K] (groups of ``group_size`` along K).

    Returns ``(q [M, K] int8, s_eff [M, ng], S [M], gm [M, ng] int32)``: each group's
    scale is ``S[m] * gm[m, g] / 2^shift`` with ``S[m]`` the largest group scale of the
    channel (so ``gm`` lies in [1, 2^shift]); ``q = clamp(rint(w / s_eff))``.  With
    ``high_from`` set, every group holding a column at or after ``high_from`` uses
    8-bit values (Atom-style outlier block, widened to whole groups) and the
    others ``bits``.  Below 8 bits each
    group's clip value comes from :func:`clipped_absmax`.  ``floor`` [M] (float32 values):
    a least channel scale ``S[m]`` (the bias fit of a channel whose bias would not fit
    int32 at ``s_x * S``); a group then takes at least ``S[m] / 2^shift``.
    """
    m, k = w2.shape
    ng = -(-k // group_size)
    wp = np.pad(w2.astype(np.float64), ((0, 0), (0, ng * group_size - k))).reshape(m, ng, group_size)
    qmax = np.full(ng, (1 << (bits - 1)) - 1, np.float64)
    if high_from is not None:
        qmax[(np.arange(ng) + 1) * group_size > high_from] = 127
    if bits < 8:
        amax = clipped_absmax(wp.reshape(m * ng, group_size), np.tile(qmax, m)).reshape(m, ng)
    else:
        amax = np.abs(wp).max(axis=2)
    sg = np.where(amax > 0, amax / qmax, 0.0)
    # the channel scale is floored at float32's smallest normal: a channel of subnormal
    # weights would otherwise round it to 0 and divide by it (q = 0 there, exactly)
    top = sg.max(axis=1)
    big = arith.f32_scale(np.where(top > 0, np.maximum(top, np.finfo(np.float32).tiny), 1.0))
    if floor is not None:
        big = np.maximum(big, np.asarray(floor, np.float64).reshape(-1))
    gm = np.clip(np.floor(sg / big[:, None] * (1 << shift) + 0.5), 1, 1 << shift).astype(np.int32)
    s_eff = big[:, None] * gm / float(1 << shift)
    qw = np.rint(wp / s_eff[:, :, None])
    q = np.clip(qw, -qmax[None, :, None] - 1, qmax[None, :, None]).reshape(m, ng * group_size)[:, :k]
    return q.astype(np.int8), s_eff, big, gm


def check_lowbit_options(options: dict) -> None:
    """Reject bad sub-8-bit / channel-pass options before any work is done (the passes
    check again when called through the API)."""
    from qcc.errors import QccError

    gsz, wb = options.get("group_size"), str(options.get("weight_bits") or "8")
    if wb not in ("8", "4", "2", "mixed"):
        raise QccError(f"--weight-bits must be 8, 4, 2 or mixed, got '{wb}'")
    if gsz is not None and (isinstance(gsz, bool) or int(gsz) != gsz or int(gsz) < 2):
        raise QccError(f"--group-size must be an integer >= 2 (e.g. 32, 64, 128), got {gsz}")
    alpha = options.get("smoothquant")
    if alpha is not None and alpha is not False and not 0.0 < float(alpha) < 1.0:
        raise QccError(f"--smoothquant ALPHA must be in (0, 1) (0.5 is the usual choice), got {alpha}")
    keep = options.get("outlier_8bit")
    if keep is not None:
        if int(keep) < 1:
            raise QccError(f"--outlier-8bit N must be >= 1, got {keep}")
        if not options.get("reorder_channels"):
            raise QccError("--outlier-8bit needs --reorder-channels sort|cluster (the outlier "
                           "channels must be made contiguous first)")
        if wb == "8":
            raise QccError("--outlier-8bit needs --weight-bits 4, 2 or mixed (at 8 bits every "
                           "weight is 8-bit already)")
