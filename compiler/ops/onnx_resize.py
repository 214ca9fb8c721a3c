"""ONNX Resize (opsets 10..21) as a separable numpy kernel, and its output shape.

``onnx.reference``'s Resize is not used for the plain modes because it differs
from onnxruntime where onnxruntime and ONNX's node tests agree: nearest-neighbour
ties (it rounds coordinates computed in float64), integer inputs (it rounds
instead of truncating), ``tf_half_pixel_for_nn`` (opset 11, missing); and ONNX
shape inference cannot type ``keep_aspect_ratio_policy``.  This kernel follows
the operator's documentation:

* output length: ``sizes`` (with ``keep_aspect_ratio_policy``: one scale, the min
  or max of ``sizes/input`` over the resized axes, lengths ``round(scale * L)``)
  or ``floor(L * scale)``;
* the scale in the coordinate transforms is the given one (``sizes / L`` when
  sizes are given); ``align_corners`` and ``tf_crop_and_resize`` divide by
  ``scale * L - 1``, the output length *before* flooring, as ONNX's own node tests
  expect (``test_resize_downsample_scales_linear_align_corners``); onnxruntime
  uses the integer length there, so with a fractional scale the two differ
  (``qcc.frontend.resize_compat`` gives framework exports their sizes instead);
* nearest: ``nearest_mode`` rounding, index clamped to the input;
* linear: the coordinate clamped to ``[0, L-1]``, two taps; cubic: four taps with
  ``cubic_coeff_a``, reads clamped to the edge, ``exclude_outside`` renormalises;
* ``tf_crop_and_resize``: an output whose coordinate falls outside the input on
  any axis is ``extrapolation_value``.

The interpolation is separable: one gather-and-weight pass per resized axis.
``antialias=1`` (a scale-dependent filter) still runs through ``onnx.reference``,
which matches onnxruntime there.  Coordinates are computed in float32 or float64
(see ``_resize``) so that nearest-neighbour ties round as onnxruntime does (or,
where it departs from ONNX, as ONNX's reference does) in every case of
tests/conformance/test_resize.py; integer inputs interpolate in float64 and
truncate toward zero, as onnxruntime does.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ir import Node
from .onnx_fast import _kernel

F32 = np.float32


def resize_inputs(node: Node, args: list) -> tuple:
    """(roi, scales, sizes) as arrays or None, for opset 10 (scales only) and 11+."""
    if node.opset < 11:
        return None, args[1] if len(args) > 1 else None, None

    def get(i):
        absent = len(args) <= i or args[i] is None or np.size(args[i]) == 0
        return None if absent else np.asarray(args[i])

    return get(1), get(2), get(3)


def resize_geometry(node: Node, in_shape: tuple, roi, scales, sizes) -> tuple[list, list, list]:
    """Output shape, per-axis scales and per-axis (start, end) roi."""
    rank = len(in_shape)
    axes = [a % rank for a in (node.attrs.get("axes") or range(rank))]
    full_scales, out = [1.0] * rank, list(in_shape)
    rois = [(0.0, 1.0)] * rank
    if roi is not None and roi.size == 2 * len(axes):
        for j, a in enumerate(axes):
            rois[a] = (float(roi[j]), float(roi[len(axes) + j]))
    if sizes is not None:
        sizes = [int(s) for s in sizes]
        policy = node.attrs.get("keep_aspect_ratio_policy", "stretch") or "stretch"
        if isinstance(policy, bytes):
            policy = policy.decode()
        if policy == "stretch":
            for j, a in enumerate(axes):
                out[a] = sizes[j]
                full_scales[a] = sizes[j] / in_shape[a]
        else:
            ratios = [sizes[j] / in_shape[a] for j, a in enumerate(axes)]
            s = min(ratios) if policy == "not_larger" else max(ratios)
            for a in axes:
                out[a] = int(math.floor(float(s) * in_shape[a] + 0.5))
                full_scales[a] = s
    elif scales is not None:
        for j, a in enumerate(axes):
            full_scales[a] = float(F32(scales[j]))
            out[a] = int(math.floor(float(F32(in_shape[a]) * F32(scales[j]))))
    return out, full_scales, rois


def _mode(node: Node, name: str, default: str) -> str:
    v = node.attrs.get(name, default) or default
    return v.decode() if isinstance(v, bytes) else v


def _coords(ctm: str, n_out: int, n_in: int, scale: float, width, roi: tuple,
            ft) -> np.ndarray:
    """x_original for every output index, computed in the float type ``ft``; ``width``
    is the output length before flooring (ONNX's output_width)."""
    width = ft(width)
    x, scale, one, half = np.arange(n_out, dtype=ft), ft(scale), ft(1), ft(0.5)
    li = ft(n_in)
    if ctm in ("half_pixel", "pytorch_half_pixel"):
        if ctm == "pytorch_half_pixel" and n_out <= 1:
            return np.zeros(n_out, ft)
        return (x + half) / scale - half
    if ctm == "half_pixel_symmetric":
        offset = li / ft(2) * (one - ft(n_out) / (scale * li))
        return offset + (x + half) / scale - half
    if ctm == "tf_half_pixel_for_nn":
        return (x + half) / scale
    if ctm == "align_corners":
        return x * (li - one) / (width - one) if width != 1 else np.zeros(n_out, ft)
    if ctm == "asymmetric":
        return x / scale
    if ctm == "tf_crop_and_resize":
        start, end = np.float32(roi[0]), np.float32(roi[1])  # roi is float32 data
        first, span = ft(start * np.float32(n_in - 1)), ft(end - start)
        if width != 1:
            return first + x * span * (li - one) / (width - one)
        return np.full(n_out, first + span * (li - one) / ft(2), ft)
    raise ValueError(f"unknown coordinate_transformation_mode '{ctm}'")


def _nearest_index(xo: np.ndarray, mode: str, n_in: int, down: bool) -> np.ndarray:
    x = xo
    if mode == "round_prefer_floor":
        idx = np.where(x == np.floor(x) + 0.5, np.floor(x), np.round(x))
    elif mode == "round_prefer_ceil":
        idx = np.where(x == np.floor(x) + 0.5, np.ceil(x), np.round(x))
    elif mode == "floor":
        idx = np.floor(x)
    elif mode == "ceil":
        idx = np.ceil(x)
    else:  # opset 10 has no nearest_mode: ceil when downsampling, else floor
        idx = np.ceil(x) if down else np.floor(x)
    return np.clip(idx, 0, n_in - 1).astype(np.int64)


def _cubic_weights(s: np.ndarray, a: float) -> np.ndarray:
    """(n, 4) weights of taps floor(x)-1 .. floor(x)+2 at fractional offset s."""
    def near(t):  # |t| <= 1
        return ((a + 2) * t - (a + 3)) * t * t + 1

    def far(t):  # 1 < |t| < 2
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a

    return np.stack([far(s + 1), near(s), near(1 - s), far(2 - s)], axis=1)


def _taps(mode: str, node: Node, xo: np.ndarray, n_in: int, down: bool):
    """(indices (n, k), weights (n, k)) of one axis."""
    if mode == "nearest":
        nm = _mode(node, "nearest_mode", "round_prefer_floor" if node.opset >= 11 else "simple")
        return _nearest_index(xo, nm, n_in, down)[:, None], np.ones((xo.size, 1))
    if mode == "linear":
        x = np.clip(xo.astype(np.float64), 0, n_in - 1)
        x0 = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
        x1 = np.minimum(x0 + 1, n_in - 1)
        d = x - x0
        return np.stack([x0, x1], 1), np.stack([1 - d, d], 1)
    base = np.floor(xo).astype(np.int64)
    a = float(node.attrs.get("cubic_coeff_a", -0.75))
    w = _cubic_weights((xo - base).astype(np.float64), a)
    idx = base[:, None] + np.arange(-1, 3)[None, :]
    if node.attrs.get("exclude_outside", 0):
        w = np.where((idx >= 0) & (idx < n_in), w, 0.0)
        w = w / w.sum(axis=1, keepdims=True)
    return np.clip(idx, 0, n_in - 1), w


def _along(y: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Gather ``idx`` (n, k) along ``axis`` and sum the taps with weights ``w``."""
    moved = np.moveaxis(y, axis, -1)
    if idx.shape[1] == 1:
        return np.moveaxis(np.take(moved, idx[:, 0], axis=-1), -1, axis)
    acc = np.zeros(moved.shape[:-1] + (idx.shape[0],), np.float64)
    for t in range(idx.shape[1]):
        acc += np.take(moved, idx[:, t], axis=-1) * w[:, t]
    return np.moveaxis(acc, -1, axis)


@_kernel("Resize")
def _resize(node: Node, args: list) -> Optional[list]:
    x = args[0]
    if node.attrs.get("antialias", 0) or x.dtype.kind not in "fiu":
        return None
    roi, scales, sizes = resize_inputs(node, args)
    out, scl, rois = resize_geometry(node, x.shape, roi, scales, sizes)
    if tuple(out) != tuple(node.outputs[0].shape):
        return None
    mode = _mode(node, "mode", "nearest")
    ctm = _mode(node, "coordinate_transformation_mode",
                "half_pixel" if node.opset >= 11 else "asymmetric")
    if node.opset < 11:
        ctm = "asymmetric"
    extrap = float(node.attrs.get("extrapolation_value", 0.0))
    y, outside = x, None
    # float32 like onnxruntime, except where a float64 coordinate is what rounds the
    # ties as it does (a scale from sizes) or as ONNX's node tests do (the unfloored
    # output length of align_corners / tf_crop_and_resize, which onnxruntime ignores)
    by_length = ctm in ("align_corners", "tf_crop_and_resize")
    ft = np.float64 if (sizes is not None) != by_length else np.float32
    for a in range(x.ndim):
        if scl[a] == 1 and out[a] == x.shape[a] and rois[a] == (0.0, 1.0):
            continue
        width = out[a] if sizes is not None else ft(scl[a]) * ft(x.shape[a])
        xo = _coords(ctm, out[a], x.shape[a], scl[a], width, rois[a], ft)
        if ctm == "tf_crop_and_resize":
            bad = (xo < 0) | (xo > x.shape[a] - 1)
            shape = [1] * x.ndim
            shape[a] = out[a]
            bad = bad.reshape(shape)
            outside = bad if outside is None else outside | bad
        idx, w = _taps(mode, node, xo, x.shape[a], bool(scl[a] < 1))
        y = _along(y, a, idx, w)
    if outside is not None:
        y = np.where(outside, extrap, y)
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        y = np.clip(np.trunc(y), info.min, info.max)
    return [np.ascontiguousarray(y).astype(x.dtype, copy=False)]
