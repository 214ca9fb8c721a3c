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
from onnx import TensorProto, helper, numpy_helper

from qcc.ir import DType, Value

BLOCK_OPSET = 21


def _int_tensor(name: str, q: np.ndarray, dt: DType):
    if dt is DType.int4:
        return helper.make_tensor(name, TensorProto.INT4, list(q.shape), q.reshape(-1).astype(np.int8).tolist())
    return helper.make_tensor(name, TensorProto.INT8, list(q.shape), q.reshape(-1).astype(np.int8).tolist())


def low_bit_tensor(name: str, q: np.ndarray, dt: DType, opset: int):
    """An int4 weight (or its zero point) as INT4 from opset 21, else INT8 (int2 always INT8)."""
    return _int_tensor(name, np.asarray(q), dt if dt is DType.int4 and opset >= BLOCK_OPSET else DType.int8)


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
        name = ex.const(v.name + "_deq", _float_weight(v))
        if ex.g.opset < BLOCK_OPSET:
            ex.lowbit[name] = v
        return name
    axis, bs, s = blk
    dt = v.dtype if v.dtype is DType.int4 else DType.int8
    qname, zname = ex.name(v.name), ex.name(v.name + "_zp")
    ex.inits.append(_int_tensor(qname, v.data, dt))
    ex.inits.append(_int_tensor(zname, np.zeros(s.shape, np.int8), dt))
    sname = ex.const(v.name + "_scale", np.asarray(s, np.float32))
    return ex.add("DequantizeLinear", [qname, sname, zname], [ex.name(v.name + "_f")],
                  axis=axis, block_size=bs)


def _swap_in_dq(model, name: str, v: Value) -> bool:
    """Replace the float32 initializer ``name`` (``q * s`` of the per-group weight ``v``)
    by INT4/INT8 data and a blocked DequantizeLinear whose output keeps the name."""
    blk = _blocked(v)
    if blk is None:
        return False
    axis, bs, s = blk
    dt = v.dtype if v.dtype is DType.int4 else DType.int8
    g = model.graph
    keep = [t for t in g.initializer if t.name != name]
    del g.initializer[:]
    g.initializer.extend(keep + [_int_tensor(name + "_q", v.data, dt),
                                 _int_tensor(name + "_zp", np.zeros(s.shape, np.int8), dt),
                                 numpy_helper.from_array(np.asarray(s, np.float32), name + "_s")])
    g.node.insert(0, helper.make_node("DequantizeLinear", [name + "_q", name + "_s", name + "_zp"], [name],
                                      name=name + "_dq", axis=axis, block_size=bs))
    return True


def _retype_int4(model, names: set) -> None:
    """INT8 initializers holding int4 values (and the zero points of their
    DequantizeLinear) become INT4."""
    inits = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type != "DequantizeLinear" or n.input[0] not in names:
            continue
        for i in (0, 2):
            if i < len(n.input) and n.input[i] in inits:
                t = inits[n.input[i]]
                t.CopyFrom(_int_tensor(t.name, numpy_helper.to_array(t), DType.int4))


def upgrade_opset(model, lowbit: dict):
    """Below opset 21 ONNX has neither INT4 nor blocked DequantizeLinear: convert the
    exported model to opset 21 (onnx.version_converter) and put the sub-8-bit weights
    back as INT4 (int2: INT8) with per-channel or blocked DequantizeLinear.  When the
    conversion fails (an op it cannot convert) the model stays as it was: float32
    per-group weights, INT8 per-channel ones."""
    import onnx
    from onnx import version_converter

    try:
        new = version_converter.convert_version(model, BLOCK_OPSET)
        new.ir_version = max(new.ir_version, 10)
        for name, v in lowbit.items():
            if v.qparams is not None and v.qparams.group_size is not None:
                _swap_in_dq(new, name, v)
        _retype_int4(new, {k for k, v in lowbit.items() if v.dtype is DType.int4
                           and (v.qparams is None or v.qparams.group_size is None)})
        onnx.checker.check_model(new)
    except Exception:  # noqa: BLE001 - keep the opset-native export
        return model
    return new
