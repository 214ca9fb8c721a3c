"""Axis ticks for the report's plots: round values (1, 2 or 5 times a power of ten), no
two labels alike, plain decimals with thousands separators, byte axes in B / KiB / MiB
chosen by the range (never ``2.6e+04 KiB``)."""

from __future__ import annotations

import math

UNITS = (("MiB", 1024.0 ** 2), ("KiB", 1024.0), ("B", 1.0))


def nice_ticks(lo: float, hi: float, n: int = 4) -> tuple[list[float], float]:
    """About ``n`` round tick values inside [lo, hi] and their step; a flat range is widened."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"axis range [{lo}, {hi}] is not finite")
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo < 1e-6 * max(1.0, abs(hi)):  # flat (to plotting precision)
        pad = max(abs(hi) * 0.05, 1.0)
        lo, hi = lo - pad, hi + pad
    for want in (n, 2 * n, 4 * n):  # a narrow range may need a finer step for two ticks
        raw = (hi - lo) / max(want, 1)
        mag = 10.0 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
        k = math.ceil(lo / step - 1e-9)
        ticks = []
        while k * step <= hi + 1e-9 * step:
            ticks.append(float(f"{k * step:.12g}"))
            k += 1
        if len(ticks) >= 2:
            return ticks, step
    return [lo, hi], hi - lo


def decimals(step: float) -> int:
    return 0 if step >= 1 else min(12, -math.floor(math.log10(step) + 1e-9))


def label(v: float, step: float, unit: str = "") -> str:
    d = decimals(step)
    txt = f"{v:,.{d}f}"
    if txt.startswith("-") and float(txt.replace(",", "")) == 0:
        txt = txt[1:]
    return f"{txt} {unit}".rstrip()


def value_ticks(lo: float, hi: float, unit: str, n: int = 4) -> list[tuple[float, str]]:
    ticks, step = nice_ticks(lo, hi, n)
    out = [(t, label(t, step, unit)) for t in ticks]
    return _distinct(out, lo, hi, unit)


def byte_ticks(lo: float, hi: float, n: int = 3) -> list[tuple[float, str]]:
    """Ticks for an axis in bytes, labelled in the largest unit that keeps values >= 1."""
    name, f = next((u, f) for u, f in UNITS if hi >= f or f == 1.0)
    ticks, step = nice_ticks(lo / f, hi / f, n)
    return [(t * f, label(t, step, name)) for t in ticks]


def _distinct(out, lo, hi, unit):
    labels = [s for _, s in out]
    if len(set(labels)) == len(labels):
        return out
    ticks, step = nice_ticks(lo, hi, max(2, len(out) // 2))
    return [(t, label(t, step / 10, unit)) for t in ticks]
