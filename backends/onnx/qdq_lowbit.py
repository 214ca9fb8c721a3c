"""QDQ export of per-group (block-quantized) sub-8-bit weights.

ONNX opset >= 21 has DequantizeLinear with ``block_size`` and INT4 tensors: a
per-group int4 weight becomes an INT4 initializer plus a blocked
DequantizeLinear (``axis`` = the reduction axis).  int2 has no ONNX type: its
values travel as INT8 (same blocked DequantizeLinear).  Conv weights group the
flattened ``(C/g, kH, kW)`` axis; ONNX blocks one axis only, so a conv group
must cover whole kernels (``group_size % (kH*kW) == 0``).  Where the form
cannot be expressed (opset < 21, or a conv group that splits a kernel) the
weight is exported as its dequantized float32 constant ``q * s_eff``, which is
the same real weight the integer graph uses.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from qcc.ir import DType, Value

BLOCK_OPSET = 21


def _int_tensor(name: str, q: np.ndarray, dt: DType):
    if dt is DType.int4:
        return helper.make_tensor(name, TensorProto.INT4, list(q.shape), q.reshape(-1).astype(np.int8).tolist())
    return helper.make_tensor(name, TensorProto.INT8, list(q.shape), q.reshape(-1).astype(np.int8).tolist())


def _blocked(v: Value):
    """(axis, block_size, scale array with the blocked shape) or None."""
    qp, q = v.qparams, v.data
    if q.ndim == 2 and qp.axis == 1:  # linear [K, N], groups along K
        s = qp.scale.reshape(q.shape[1], -1).T  # [ng, N]
        return 0, int(qp.group_size), s
    if q.ndim == 4 and qp.axis == 0:
        kk = int(q.shape[2] * q.shape[3])
        if qp.group_size % kk:
            return None
        bs = qp.group_size // kk
        s = qp.scale.reshape(q.shape[0], -1)  # [M, ng]
        s = np.broadcast_to(s[:, :, None, None], s.shape + tuple(q.shape[2:]))
        return 1, bs, np.ascontiguousarray(s)
    return None


def _float_weight(v: Value) -> np.ndarray:
    qp, q = v.qparams, v.data.astype(np.float64)
    if q.ndim == 2:
        k, n = q.shape
        s = np.repeat(qp.scale.reshape(n, -1), qp.group_size, axis=1)[:, :k].T
    else:
        m = q.shape[0]
        s = np.repeat(qp.scale.reshape(m, -1), qp.group_size, axis=1)[:, :q[0].size].reshape(q.shape)
    return (q * s).astype(np.float32)


def grouped_weight_dq(ex, v: Value) -> str:
    """Float ONNX tensor name standing for the per-group weight ``v``."""
    blk = _blocked(v) if ex.g.opset >= BLOCK_OPSET else None
    if blk is None:
        return ex.const(v.name + "_deq", _float_weight(v))
    axis, bs, s = blk
    dt = v.dtype if v.dtype is DType.int4 else DType.int8
    qname, zname = ex.name(v.name), ex.name(v.name + "_zp")
    ex.inits.append(_int_tensor(qname, v.data, dt))
    ex.inits.append(_int_tensor(zname, np.zeros(s.shape, np.int8), dt))
    sname = ex.const(v.name + "_scale", np.asarray(s, np.float32))
    return ex.add("DequantizeLinear", [qname, sname, zname], [ex.name(v.name + "_f")],
                  axis=axis, block_size=bs)
