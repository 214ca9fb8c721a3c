"""Vectorised numpy kernels for the float ONNX ops where ``onnx.reference`` is slow
or wrong: Conv, ConvTranspose, MaxPool, AveragePool, LpPool, LRN, GlobalMaxPool and
BatchNormalization.

``onnx_ops`` asks :func:`fast_run` first; a kernel returns ``None`` for the
attribute combinations it does not cover (integer convolutions ...) and the op
then runs through ``onnx.reference``.  MaxPool's Indices output is computed here
too: ``onnx.reference`` counts positions in the padded input.

All kernels read windows through ``numpy.lib.stride_tricks.as_strided`` views
of a padded copy of the input (no Python loop over output positions):

* Conv: im2col view ``(N, C, *out, *k)`` contracted with the weights per group
  by one batched matmul;
* ConvTranspose: one matmul ``x^T W`` per group, then a scatter-add of each
  kernel tap into the strided output grid (loop over taps only);
* pooling: max / sum (of ``|x|^p`` for LpPool) over the kernel axes of the window view; averages divide
  by the count of positions inside the padded (``count_include_pad``) or the
  real input;
* LRN: a cumulative sum over channels;
* BatchNormalization in inference mode.  ``onnx.reference``'s version-9 class
  (used for opsets 9 to 13) fills in the schema default ``momentum=0.9`` and then
  takes its training branch, normalising with the batch statistics: wrong for
  every inference model of those opsets (ResNet50 of onnx's light models).

Output sizes come from the node's inferred output type (ONNX shape inference,
which applies ``auto_pad`` and ``ceil_mode``), so the kernels only need the
leading pads.  Windows reaching past the padded input (ceil_mode) see -inf for
max and are left out of the count for averages, as ONNX specifies.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..ir import Node

Kernel = Callable[[Node, list], Optional[list]]
_FAST: dict[str, Kernel] = {}
ENABLED = True  # tests and timings switch the kernels off to compare with onnx.reference


def _kernel(op_type: str):
    def deco(fn: Kernel) -> Kernel:
        _FAST[op_type] = fn
        return fn
    return deco


def fast_run(op_type: str, node: Node, args: list) -> Optional[list]:
    """Outputs of ``node`` from a fast kernel, or None when none applies."""
    fn = _FAST.get(op_type) if ENABLED else None
    if fn is None or not node.outputs:
        return None
    return fn(node, args)


def covered_ops() -> list[str]:
    return sorted(_FAST)


# ------------------------------------------------------------------ geometry
def _geometry(node: Node, x_shape, k_shape) -> tuple[list, list, list, list]:
    """(strides, dilations, leading pads, output spatial sizes) of a window op."""
    nd = len(k_shape)
    strides = list(node.attrs.get("strides") or [1] * nd)
    dil = list(node.attrs.get("dilations") or [1] * nd)
    out = list(node.outputs[0].shape[2:])
    auto = node.attrs.get("auto_pad", "NOTSET") or "NOTSET"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin = []
        for i in range(nd):
            total = max(0, (out[i] - 1) * strides[i] + (k_shape[i] - 1) * dil[i] + 1 - x_shape[i])
            begin.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
    elif auto == "VALID":
        begin = [0] * nd
    else:
        begin = list((node.attrs.get("pads") or [0] * 2 * nd)[:nd])
    return strides, dil, begin, out


def _padded(x: np.ndarray, begin, out, strides, dil, k_shape, fill) -> tuple[np.ndarray, list]:
    """``x`` padded with ``fill`` so that every window fits; also the explicit end pads."""
    nd = len(k_shape)
    need = [(out[i] - 1) * strides[i] + (k_shape[i] - 1) * dil[i] + 1 for i in range(nd)]
    ends = [need[i] - begin[i] - x.shape[2 + i] for i in range(nd)]
    pad = [(0, 0), (0, 0)] + [(max(b, 0), max(e, 0)) for b, e in zip(begin, ends)]
    xp = np.pad(x, pad, mode="constant", constant_values=fill)
    # negative pads (allowed by ONNX) crop
    crop = tuple([slice(None), slice(None)] +
                 [slice(max(-b, 0), xp.shape[2 + i] - max(-e, 0))
                  for i, (b, e) in enumerate(zip(begin, ends))])
    return xp[crop], ends


def _windows(xp: np.ndarray, out, strides, dil, k_shape) -> np.ndarray:
    """Read-only view (N, C, *out, *k) of the windows of a padded input."""
    nd = len(k_shape)
    st = xp.strides
    shape = xp.shape[:2] + tuple(out) + tuple(k_shape)
    strides_ = st[:2] + tuple(st[2 + i] * strides[i] for i in range(nd)) + \
        tuple(st[2 + i] * dil[i] for i in range(nd))
    return as_strided(xp, shape, strides_, writeable=False)


# ------------------------------------------------------------------ Conv
@_kernel("Conv")
def _conv(node: Node, args: list) -> Optional[list]:
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    if x.dtype.kind != "f" or w.dtype != x.dtype or x.ndim < 3:
        return None
    k_shape = list(w.shape[2:])
    strides, dil, begin, out = _geometry(node, x.shape[2:], k_shape)
    g = int(node.attrs.get("group", 1) or 1)
    n, c = x.shape[:2]
    m = w.shape[0]
    xp, _ = _padded(x, begin, out, strides, dil, k_shape, 0)
    win = _windows(xp, out, strides, dil, k_shape)  # N, C, *out, *k
    nd, npos, kk = len(k_shape), int(np.prod(out)), int(np.prod(k_shape))
    # (N, G, C/G, P, K) -> (N, G, P, C/G*K) @ (G, C/G*K, M/G) -> (N, G, P, M/G)
    cols = win.reshape(n, g, c // g, npos, kk).transpose(0, 1, 3, 2, 4).reshape(
        n, g, npos, (c // g) * kk)
    wm = w.reshape(g, m // g, (c // g) * kk).transpose(0, 2, 1)
    y = np.matmul(cols, wm).transpose(0, 1, 3, 2).reshape(n, m, *out)
    if b is not None:
        y = y + b.reshape((1, m) + (1,) * nd)
    return [np.ascontiguousarray(y, dtype=x.dtype)]


# ------------------------------------------------------------------ ConvTranspose
def _convt_begin(node: Node, x_shape, k_shape, out) -> list:
    """Leading pads of ConvTranspose (explicit, or from the output size as ONNX says)."""
    nd = len(k_shape)
    strides = list(node.attrs.get("strides") or [1] * nd)
    dil = list(node.attrs.get("dilations") or [1] * nd)
    opad = list(node.attrs.get("output_padding") or [0] * nd)
    auto = node.attrs.get("auto_pad", "NOTSET") or "NOTSET"
    if not node.attrs.get("output_shape") and auto not in ("SAME_UPPER", "SAME_LOWER"):
        return list((node.attrs.get("pads") or [0] * 2 * nd)[:nd])
    begin = []
    for i in range(nd):
        total = strides[i] * (x_shape[i] - 1) + opad[i] + (k_shape[i] - 1) * dil[i] + 1 - out[i]
        # an output_shape one past the natural size gives total = -1: onnxruntime (C
        # division, toward zero) then adds the extra row at the end for both SAME modes
        begin.append(int(total / 2) if auto == "SAME_UPPER" else total - total // 2)
    return begin


@_kernel("ConvTranspose")
def _conv_transpose(node: Node, args: list) -> Optional[list]:
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    if x.dtype.kind != "f" or w.dtype != x.dtype or x.ndim < 3:
        return None
    k_shape = list(w.shape[2:])
    nd = len(k_shape)
    strides = list(node.attrs.get("strides") or [1] * nd)
    dil = list(node.attrs.get("dilations") or [1] * nd)
    g = int(node.attrs.get("group", 1) or 1)
    n, c = x.shape[:2]
    mg = w.shape[1]
    out = list(node.outputs[0].shape[2:])
    begin = _convt_begin(node, x.shape[2:], k_shape, out)
    ins = list(x.shape[2:])
    # full (uncropped) extent, shifted so that output index 0 sits at offset max(begin,0)
    lead = [max(-bg, 0) for bg in begin]
    full = [max((ins[i] - 1) * strides[i] + (k_shape[i] - 1) * dil[i] + 1 + lead[i],
                lead[i] + begin[i] + out[i]) for i in range(nd)]
    acc = np.zeros((n, g, mg, *full), dtype=np.float64 if x.dtype == np.float64 else np.float32)
    xg = x.reshape(n, g, c // g, -1)  # N, G, C/G, P
    wg = w.reshape(g, c // g, mg, -1)  # G, C/G, M/G, K
    for t, tap in enumerate(np.ndindex(*k_shape)):
        contrib = np.matmul(wg[:, :, :, t].transpose(0, 2, 1)[None], xg)  # N, G, M/G, P
        contrib = contrib.reshape(n, g, mg, *ins)
        sl = tuple(slice(lead[i] + tap[i] * dil[i],
                         lead[i] + tap[i] * dil[i] + (ins[i] - 1) * strides[i] + 1, strides[i])
                   for i in range(nd))
        acc[(slice(None),) * 3 + sl] += contrib
    crop = tuple(slice(lead[i] + begin[i], lead[i] + begin[i] + out[i]) for i in range(nd))
    y = acc[(slice(None),) * 3 + crop].reshape(n, g * mg, *out)
    if b is not None:
        y = y + b.reshape((1, g * mg) + (1,) * nd)
    return [np.ascontiguousarray(y, dtype=x.dtype)]


# ------------------------------------------------------------------ pooling
def _pool_setup(node: Node, x: np.ndarray):
    k_shape = list(node.attrs["kernel_shape"])
    strides, dil, begin, out = _geometry(node, x.shape[2:], k_shape)
    return k_shape, strides, dil, begin, out


@_kernel("MaxPool")
def _max_pool(node: Node, args: list) -> Optional[list]:
    x = args[0]
    if x.ndim < 3 or x.dtype.kind not in "fiu":
        return None
    k_shape, strides, dil, begin, out = _pool_setup(node, x)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp, _ = _padded(x, begin, out, strides, dil, k_shape, fill)
    win = _windows(xp, out, strides, dil, k_shape)
    axes = tuple(range(2 + len(k_shape), 2 + 2 * len(k_shape)))
    y = np.ascontiguousarray(win.max(axis=axes)).astype(x.dtype, copy=False)
    if len(node.outputs) == 1:
        return [y]
    return [y, _max_pool_indices(node, x, win, (k_shape, strides, dil, begin, out))]


def _max_pool_indices(node: Node, x: np.ndarray, win: np.ndarray, geo) -> np.ndarray:
    """MaxPool's Indices: the flat position in the unpadded input (N, C, *spatial) of
    each window's first maximum; ``storage_order=1`` flattens the spatial axes
    column-major.  Positions in the padding never win (they hold -inf)."""
    k_shape, strides, dil, begin, out = geo
    nd = len(k_shape)
    spatial = x.shape[2:]
    order = "F" if node.attrs.get("storage_order", 0) else "C"
    pos = np.arange(int(np.prod(spatial)), dtype=np.int64).reshape(spatial, order=order)
    pos = np.broadcast_to(pos, (1, 1) + spatial)
    pp, _ = _padded(pos, begin, out, strides, dil, k_shape, -1)
    pwin = _windows(np.ascontiguousarray(pp), out, strides, dil, k_shape)
    flat = win.reshape(win.shape[:2 + nd] + (-1,))
    arg = np.argmax(flat, axis=-1)[..., None]
    spot = np.take_along_axis(np.broadcast_to(pwin.reshape(pwin.shape[:2 + nd] + (-1,)),
                                              flat.shape), arg, axis=-1)[..., 0]
    n, c = x.shape[:2]
    base = (np.arange(n * c, dtype=np.int64) * int(np.prod(spatial))).reshape(
        (n, c) + (1,) * nd)
    return base + spot


@_kernel("AveragePool")
def _average_pool(node: Node, args: list) -> Optional[list]:
    x = args[0]
    if x.ndim < 3 or x.dtype.kind != "f":
        return None
    k_shape, strides, dil, begin, out = _pool_setup(node, x)
    nd = len(k_shape)
    xp, ends = _padded(x, begin, out, strides, dil, k_shape, 0)
    axes = tuple(range(2 + nd, 2 + 2 * nd))
    total = _windows(xp, out, strides, dil, k_shape).sum(axis=axes, dtype=np.float64)
    # count of window positions inside the input (plus its pads with count_include_pad;
    # the extra end of a ceil_mode window never counts)
    include = bool(node.attrs.get("count_include_pad", 0))
    auto = node.attrs.get("auto_pad", "NOTSET") or "NOTSET"
    explicit_end = list((node.attrs.get("pads") or [0] * 2 * nd)[nd:])
    counts = np.ones((), dtype=np.float64)
    for i in range(nd):
        end_pad = (explicit_end[i] if auto == "NOTSET"
                   else max(ends[i], 0) if auto.startswith("SAME") else 0)
        lo, hi = (-begin[i], x.shape[2 + i] + end_pad) if include else (0, x.shape[2 + i])
        pos = (np.arange(out[i])[:, None] * strides[i] - begin[i]
               + np.arange(k_shape[i])[None, :] * dil[i])
        cnt = ((pos >= lo) & (pos < hi)).sum(axis=1).astype(np.float64)
        shape = [1] * nd
        shape[i] = out[i]
        counts = counts * cnt.reshape(shape)
    return [(total / np.maximum(counts, 1)).astype(x.dtype)]


@_kernel("LpPool")
def _lp_pool(node: Node, args: list) -> Optional[list]:
    """(sum of |x|^p over the window) ^ (1/p); padding adds zeros."""
    x = args[0]
    if x.ndim < 3 or x.dtype.kind != "f":
        return None
    p = float(node.attrs.get("p", 2))
    k_shape, strides, dil, begin, out = _pool_setup(node, x)
    xp, _ = _padded(np.abs(x.astype(np.float64)) ** p, begin, out, strides, dil, k_shape, 0)
    axes = tuple(range(2 + len(k_shape), 2 + 2 * len(k_shape)))
    total = _windows(xp, out, strides, dil, k_shape).sum(axis=axes)
    return [np.power(total, 1.0 / p).astype(x.dtype)]


# ------------------------------------------------------------------ LRN
@_kernel("LRN")
def _lrn(node: Node, args: list) -> Optional[list]:
    x = args[0]
    if x.dtype.kind != "f" or x.ndim < 2:
        return None
    size = int(node.attrs["size"])
    alpha = float(node.attrs.get("alpha", 1e-4))
    beta = float(node.attrs.get("beta", 0.75))
    bias = float(node.attrs.get("bias", 1.0))
    c = x.shape[1]
    sq = np.square(x.astype(np.float64))
    csum = np.concatenate([np.zeros_like(sq[:, :1]), np.cumsum(sq, axis=1)], axis=1)
    lo = np.clip(np.arange(c) - (size - 1) // 2, 0, c)
    hi = np.clip(np.arange(c) + (size - 1) - (size - 1) // 2 + 1, 0, c)
    window = np.take(csum, hi, axis=1) - np.take(csum, lo, axis=1)
    return [(x / np.power(bias + alpha / size * window, beta)).astype(x.dtype)]


# ------------------------------------------------------------------ GlobalMaxPool
@_kernel("GlobalMaxPool")
def _global_max_pool(node: Node, args: list) -> Optional[list]:
    """Max over every spatial axis (2 ..), kept as size 1.  ``onnx.reference`` reduces axes
    (ndim - 2, ndim - 1), which is the channel axis too on 1-D feature maps [N, C, L]."""
    x = np.asarray(args[0])
    if x.ndim < 3:
        return None
    return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]


# ------------------------------------------------------------------ BatchNormalization
@_kernel("BatchNormalization")
def _batch_norm(node: Node, args: list) -> Optional[list]:
    """Inference mode: one output (opsets 9-13) or ``training_mode=0`` (14+)."""
    x, scale, bias, mean, var = args[:5]
    if len(node.outputs) != 1 or node.attrs.get("training_mode", 0) or x.ndim < 2:
        return None
    if node.opset < 7 and not node.attrs.get("is_test", 0) or node.attrs.get("spatial", 1) == 0:
        return None
    eps = float(node.attrs.get("epsilon", 1e-5))
    shape = (-1,) + (1,) * (x.ndim - 2)
    s, b, m, v = (np.asarray(a).reshape(shape) for a in (scale, bias, mean, var))
    return [(s * (x - m) / np.sqrt(v + eps) + b).astype(x.dtype)]


# kernels in their own modules register into the same table
from . import onnx_fast_index, onnx_fast_norm_pad, onnx_resize  # noqa: E402,F401
