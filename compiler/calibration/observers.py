"""Streaming activation statistics and range estimators (docs/calibration.md).

One :class:`Observer` per float value.  It keeps the exact min/max and a
mergeable histogram of ``|x|`` split by sign (two count arrays over one grid
of ``BINS`` bins on ``[0, R)``).  ``R`` is a power of two, the smallest above
every |x| seen; when a sample exceeds it, ``R`` doubles (as often as needed)
and adjacent bin pairs are summed.  This re-binning is exact, so the histogram
does not depend on the sample order or chunking at all (``R`` is within 2x of
the true |max|, leaving more than ``BINS/2`` bins over the data).

Estimators turn an observer into a ``(min, max)`` range:

* ``minmax``      exact extremes;
* ``percentile``  each tail separately: the smallest ``hi`` with at most
  ``(100 - p)%`` of all elements above it, and likewise ``lo`` below
  (p = 99.99 by default);
* ``entropy``     TensorRT's KL-divergence threshold search on ``|x|``
  (2048 bins, thresholds from bin 128 up, 128 quantized levels for
  signed tensors, 256 for one-signed ones, last argmin);
* ``mse``         threshold on the same grid minimising the expected
  quantization MSE ``sum_in n * step^2 / 12 + sum_out n * (|x| - T)^2``.

All ranges include 0 (the int8 zero point must represent it exactly).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

BINS = 2048
METHODS = ("minmax", "percentile", "entropy", "mse")


class Observer:
    """Streaming min/max plus sign-split |x| histograms on a shared grid."""

    __slots__ = ("min", "max", "range", "pos", "neg", "count", "nonfinite", "zeros")

    def __init__(self):
        self.min = math.inf
        self.max = -math.inf
        self.range = 0.0  # R: histogram covers [0, R), a power of two (0: nothing yet)
        self.pos = np.zeros(BINS, np.int64)
        self.neg = np.zeros(BINS, np.int64)
        self.count = 0
        self.nonfinite = 0
        self.zeros = 0  # exact zeros (in bin 0 of ``pos``): the zero point stores them exactly

    def update(self, x: np.ndarray, hist: bool = True) -> None:
        x = np.asarray(x).reshape(-1)
        if x.size == 0:
            return
        if x.dtype != np.float32 and x.dtype != np.float64:
            x = x.astype(np.float32)
        fin = np.isfinite(x)
        if not fin.all():
            self.nonfinite += int(x.size - fin.sum())
            x = x[fin]
            if x.size == 0:
                return
        lo, hi = float(x.min()), float(x.max())
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        self.count += x.size
        if hist:
            self.zeros += x.size - int(np.count_nonzero(x))
            self._grow(max(abs(lo), abs(hi)))
            if self.range > 0:
                self._add(x)
            else:  # only zeros so far: bin 0 holds them whatever R becomes
                self.pos[0] += x.size

    def _grow(self, amax: float) -> None:
        """Make ``R`` the smallest power of two strictly above every |x| seen.

        A power-of-two ``R`` makes the grid a function of the overall |max| alone,
        so the histogram is bit-identical whatever the sample order (or chunking):
        binning multiplies by ``BINS / R`` (a power of two, exact in floating point)
        and truncates, and halving the resolution merges bin pairs exactly as if
        every value had been binned on the coarser grid."""
        if amax < self.range:
            return
        target = math.ldexp(1.0, math.frexp(amax)[1])  # 2**e > amax >= 2**(e-1)
        if self.range == 0.0:
            self.range = target
            return
        while self.range < target:
            self.range *= 2.0
            for h in (self.pos, self.neg):
                merged = h.reshape(BINS // 2, 2).sum(axis=1)
                h[:BINS // 2] = merged
                h[BINS // 2:] = 0
            self.pos[0] += self.neg[0]  # |x| now within the first bin: counted in pos[0]
            self.neg[0] = 0

    def _add(self, x: np.ndarray) -> None:
        # signed bin index truncated toward 0, so |index| is the bin of |x|; one bincount
        # over [-(BINS-1), BINS-1] (5x faster than abs/compare/int64).  |x| < R, so the
        # index needs no clipping.  Negatives within the first bin land in pos[0].
        scale = BINS / self.range
        if scale > np.finfo(x.dtype).max / 2:  # tiny R: a float32 scale would overflow
            x = x.astype(np.float64)
        t = x * x.dtype.type(scale)
        idx = t.astype(np.int32)
        idx += BINS - 1
        both = np.bincount(idx, minlength=2 * BINS - 1)
        self.pos += both[BINS - 1:]
        self.neg[1:] += both[BINS - 2::-1]

    @property
    def width(self) -> float:
        return self.range / BINS

    @property
    def hist(self) -> np.ndarray:
        return self.pos + self.neg

    @property
    def hist_nonzero(self) -> np.ndarray:
        """``hist`` without the exact zeros.  Zeros (ReLU outputs, padding) are stored
        exactly by the zero point whatever the range, so the KL and MSE searches leave
        them out: counted in bin 0 they dominate the KL divergence and pull the
        threshold far down (digits_cnn's last ReLU: 5.1 instead of ~15)."""
        h = self.pos + self.neg
        h[0] -= min(self.zeros, int(h[0]))
        return h


# ------------------------------------------------------------------------ estimators
def _with_zero(lo: float, hi: float) -> tuple[float, float]:
    return min(lo, 0.0), max(hi, 0.0)


def _tail_threshold(h: np.ndarray, width: float, allowed: float) -> float:
    """Smallest bin edge with at most ``allowed`` counts of ``h`` above it."""
    above = np.cumsum(h[::-1])[::-1]  # above[i] = counts in bins >= i
    ok = np.nonzero(above <= allowed)[0]
    k = int(ok[0]) if ok.size else BINS
    return k * width


def percentile_range(ob: Observer, p: float) -> tuple[float, float]:
    if ob.count == 0 or ob.range == 0:
        return _with_zero(ob.min if ob.count else 0.0, ob.max if ob.count else 0.0)
    allowed = (100.0 - p) / 100.0 * ob.count
    hi = min(ob.max, _tail_threshold(ob.pos, ob.width, allowed)) if ob.max > 0 else ob.max
    lo = max(ob.min, -_tail_threshold(ob.neg, ob.width, allowed)) if ob.min < 0 else ob.min
    return _with_zero(lo, hi)


def _levels(ob: Observer) -> int:
    """Quantization levels available to |x|: 128 for signed data, 256 one-signed."""
    small = 1e-3 * ob.count
    return 256 if ob.pos.sum() <= small or ob.neg.sum() <= small else 128


def _clip(ob: Observer, t: float) -> tuple[float, float]:
    return _with_zero(max(ob.min, -t), min(ob.max, t))


def _kl_candidates(h: np.ndarray, levels: int, ks: np.ndarray) -> np.ndarray:
    out = np.full(ks.shape, np.inf)
    tail = np.cumsum(h[::-1])[::-1]
    for j, k in enumerate(ks):
        p = h[:k].astype(np.float64)
        if k < BINS:
            p[k - 1] += tail[k]
        total = p.sum()
        if total == 0:
            continue
        edges = np.linspace(0, k, levels + 1).astype(np.int64)
        src = h[:k].astype(np.float64)
        nz = (src > 0).astype(np.float64)
        qsum = np.add.reduceat(src, edges[:-1])
        qnz = np.add.reduceat(nz, edges[:-1])
        per = np.divide(qsum, qnz, out=np.zeros_like(qsum), where=qnz > 0)
        q = np.repeat(per, np.diff(edges)) * nz
        mask = p > 0
        qm = q[mask] / q.sum() if q.sum() > 0 else q[mask]
        pm = p[mask] / total
        with np.errstate(divide="ignore"):
            out[j] = float(np.sum(pm * np.log(pm / np.maximum(qm, 1e-12))))
    return out


def entropy_range(ob: Observer) -> tuple[float, float]:
    """KL search; coarse pass with stride 16, then every bin around the best."""
    if ob.count == 0 or ob.range == 0:
        return minmax_range(ob)
    h, levels = ob.hist_nonzero, _levels(ob)
    if not h.any():
        return minmax_range(ob)
    nz = np.nonzero(h)[0]
    last = int(nz[-1]) + 1
    # at least `levels` bins above the first occupied one: data far from 0 (all in
    # [68, 151], say) would otherwise reach KL = 0 with every value in the last bin
    start = min(levels + int(nz[0]), BINS)
    if last <= start:
        return minmax_range(ob)
    coarse = np.unique(np.append(np.arange(start, last + 1, 16), last))
    kl = _kl_candidates(h, levels, coarse)
    best = int(coarse[len(kl) - 1 - int(np.argmin(kl[::-1]))])
    fine = np.arange(max(start, best - 16), min(last, best + 16) + 1)
    kl = _kl_candidates(h, levels, fine)
    k = int(fine[len(kl) - 1 - int(np.argmin(kl[::-1]))])
    return _clip(ob, k * ob.width)


def mse_range(ob: Observer) -> tuple[float, float]:
    if ob.count == 0 or ob.range == 0:
        return minmax_range(ob)
    h = ob.hist_nonzero.astype(np.float64)
    levels = _levels(ob)
    c = (np.arange(BINS) + 0.5) * ob.width  # bin centres
    ks = np.arange(1, BINS + 1)
    t = ks * ob.width
    n_in = np.cumsum(h)
    s0, s1, s2 = (np.cumsum((h * c ** e)[::-1])[::-1] for e in (0, 1, 2))
    s0, s1, s2 = (np.append(s[1:], 0.0) for s in (s0, s1, s2))  # sums over bins >= k
    step = t / (levels - 1)
    err = n_in * step * step / 12 + (s2 - 2 * t * s1 + t * t * s0)
    k = int(ks[int(np.argmin(err))])
    return _clip(ob, k * ob.width)


def minmax_range(ob: Observer) -> tuple[float, float]:
    if ob.count == 0:
        return 0.0, 0.0
    return _with_zero(ob.min, ob.max)


def estimate(ob: Observer, method: str, percentile: float = 99.99) -> tuple[float, float]:
    if method == "minmax":
        return minmax_range(ob)
    if method == "percentile":
        return percentile_range(ob, percentile)
    if method == "entropy":
        return entropy_range(ob)
    if method == "mse":
        return mse_range(ob)
    raise ValueError(f"unknown calibration method '{method}'")


def needs_histogram(method: Optional[str]) -> bool:
    return method != "minmax"
