"""Accuracy metrics shared by the benchmarks."""

from __future__ import annotations

from typing import Optional

import numpy as np


def sqnr_db(ref: np.ndarray, out: np.ndarray) -> float:
    ref = np.asarray(ref, np.float64)
    err = np.asarray(out, np.float64) - ref
    p_err = float(np.sum(err * err))
    if p_err == 0:
        return float("inf")
    return float(10 * np.log10(max(float(np.sum(ref * ref)), 1e-30) / p_err))


def min_cosine(ref: np.ndarray, out: np.ndarray) -> float:
    """Smallest per-sample cosine similarity (samples along axis 0)."""
    a = np.asarray(ref, np.float64).reshape(ref.shape[0], -1)
    b = np.asarray(out, np.float64).reshape(out.shape[0], -1)
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min(np.where(den > 0, num / np.maximum(den, 1e-30), 1.0)))


def max_rel(ref: np.ndarray, out: np.ndarray) -> float:
    """Largest absolute error relative to the largest reference magnitude."""
    ref = np.asarray(ref, np.float64)
    err = float(np.max(np.abs(np.asarray(out, np.float64) - ref))) if ref.size else 0.0
    return err / max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)


def compare(ref: np.ndarray, out: np.ndarray, labels: Optional[np.ndarray] = None,
            classifier: bool = True) -> dict:
    ref = np.asarray(ref)
    out = np.asarray(out)
    r = {"sqnr_db": round(sqnr_db(ref, out), 2),
         "max_abs": float(np.max(np.abs(out.astype(np.float64) - ref))),
         "max_rel": round(max_rel(ref, out), 5),
         "min_cosine": round(min_cosine(ref, out), 5)}
    if classifier and (ref.ndim == 2 or (ref.ndim == 4 and ref.shape[2:] == (1, 1))):
        a = ref.reshape(ref.shape[0], -1).argmax(1)
        b = out.reshape(out.shape[0], -1).argmax(1)
        r["top1_agree_pct"] = round(float((a == b).mean() * 100), 2)
        if labels is not None:
            r["top1_pct"] = round(float((b == labels).mean() * 100), 2)
    return r
