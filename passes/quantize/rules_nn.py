"""Quantize rules for dense and pooling ops (conv, linear, matmul, pools).

Weights: symmetric per output channel; bias int32 at ``s_x * s_w``; the
requantization factor ``s_x * s_w[c] / s_y`` becomes dyadic multipliers
(docs/arithmetic.md).  Activations the integer epilogue can express (ReLU,
ReLU6, Clip) become its clamp; others (LeakyRelu, HardSwish, HardSigmoid)
requantize to the pre-activation range and go through a ``qcc.lut``.
"""

from __future__ import annotations

import fnmatch
from typing import Optional

import numpy as np

from qcc import arith, lut
from qcc.errors import LoweringError
from qcc.ir import DType, Node, QParams
from qcc.quant_scheme import WDTYPE, act_qparams

from .state import QState

CLAMP_ACTS = {"none", "relu", "relu6", "clip"}
LUT_ACTS = {"leaky_relu": "LeakyRelu", "hardswish": "HardSwish", "hardsigmoid": "HardSigmoid",
            "sigmoid": "Sigmoid", "tanh": "Tanh", "silu": "SiLU", "gelu": "Gelu"}


def activation(node: Node) -> tuple[str, dict]:
    kind = str(node.attrs.get("activation", "none") or "none").lower()
    params = {}
    for k in ("alpha", "beta", "min", "max", "clip_min", "clip_max", "act_alpha", "act_beta"):
        if k in node.attrs and node.attrs[k] is not None:
            params[k.replace("act_", "").replace("clip_", "")] = float(node.attrs[k])
    if isinstance(node.attrs.get("activation_params"), (list, tuple)):
        vals = [float(x) for x in node.attrs["activation_params"]]
        keys = {"clip": ["min", "max"], "leaky_relu": ["alpha"], "hardsigmoid": ["alpha", "beta"]}
        params.update(dict(zip(keys.get(kind, []), vals)))
    return kind, params


def clip_params(node: Node) -> Optional[dict]:
    """A Clip's constant bounds as ``{"min": .., "max": ..}`` (absent ones left out); None
    when a bound is computed at run time."""
    params = {}
    for i, k in ((1, "min"), (2, "max")):
        v = node.inputs[i] if len(node.inputs) > i else None
        if v is not None and not v.is_const:
            return None
        if v is not None:
            params[k] = float(v.data)
        elif k in node.attrs:
            params[k] = float(node.attrs[k])
    return params


def clamp_bounds(kind: str, params: dict, qp: QParams) -> tuple[int, int]:
    s, zp = float(qp.scale[0]), int(qp.zero_point[0])
    lo, hi = qp.qmin, qp.qmax
    if kind == "relu":
        lo = max(lo, zp)
    elif kind == "relu6":
        lo, hi = max(lo, zp), min(hi, zp + int(np.round(6.0 / s)))
    elif kind == "clip":  # an absent bound may arrive as +-inf (Clip with only a min)
        if np.isfinite(params.get("min", np.nan)):
            lo = max(lo, zp + int(np.clip(np.ceil(params["min"] / s - 1e-9), -2**31, 2**31)))
        if np.isfinite(params.get("max", np.nan)):
            hi = min(hi, zp + int(np.clip(np.floor(params["max"] / s + 1e-9), -2**31, 2**31)))
    return int(lo), int(min(max(hi, lo), qp.qmax))


def resolve_pads(node: Node, in_hw, k_hw, strides, dil) -> list[int]:
    auto = str(node.attrs.get("auto_pad", "NOTSET") or "NOTSET")
    if auto in ("NOTSET", ""):
        p = list(node.attrs.get("pads", [0, 0, 0, 0]))
        return [int(p[0]), int(p[1]), int(p[2]), int(p[3])] if len(p) == 4 else [0, 0, 0, 0]
    if auto == "VALID":
        return [0, 0, 0, 0]
    begin, end = [], []
    for size, k, s, d in zip(in_hw, k_hw, strides, dil):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else big)
        end.append(big if auto == "SAME_UPPER" else small)
    return [begin[0], begin[1], end[0], end[1]]


def _epilogue(st: QState, node: Node, acc_scale: np.ndarray,
              yqp: QParams = None) -> tuple[QParams, dict, list, str, dict]:
    """Output qparams (``yqp`` when the caller chose them), epilogue attrs, (mult, shift)
    and the activation left for a LUT."""
    out = node.outputs[0]
    kind, params = activation(node)
    if kind in CLAMP_ACTS:
        yqp = yqp or st.act_qp(out)
        lo, hi = clamp_bounds(kind, params, yqp)
        left = "none"
    else:
        pre = node.attrs.get("pre_act")
        r = st.range_of(pre) if pre else None
        if pre in st.pinned:  # a pre-quantized (QDQ) model: the scale it gives that tensor
            yqp = st.pinned[pre]
        elif r is None:
            raise LoweringError(f"{node.op} node '{node.name}': no calibrated pre-activation range "
                                f"for its fused {kind}")
        else:
            yqp = act_qparams(*r)
        lo, hi = yqp.qmin, yqp.qmax
        left = kind
    mult, shift = st.requant_consts(acc_scale / float(yqp.scale[0]), node.name)
    attrs = {"y_zp": int(yqp.zero_point[0]), "act_min": lo, "act_max": hi}
    return yqp, attrs, [mult, shift], left, params


def _finish(st: QState, node: Node, n: Node, yqp: QParams, left: str, params: dict) -> None:
    out = node.outputs[0]
    if left == "none":
        st.set_q(out, n.outputs[0], yqp)
        return
    n.outputs[0].qparams = yqp
    oqp = st.act_qp(out)
    fparams = {k: v for k, v in params.items() if k in ("alpha", "beta")}
    table = lut.build_table(LUT_ACTS[left], yqp.scale[0], yqp.zero_point[0], oqp.scale[0],
                            oqp.zero_point[0], params=fparams)
    tv = st.g.add_const(node.name + ".lut", table, DType.int8)
    ln = st.emit("qcc.lut", [n.outputs[0], tv], {"fn": LUT_ACTS[left], **fparams},
                 name=node.name + ".act", out_name=out.name)
    st.set_q(out, ln.outputs[0], oqp)


def _bias(st: QState, b, sx: float, sw: np.ndarray, name: str):
    if b is None:
        return None
    if not b.is_const:
        raise LoweringError(f"bias '{b.name}' is not a constant")
    return st.g.add_const(name, arith.quantize_bias(b.data, sx, sw), DType.int32)


def _wbits(st: QState, node: Node) -> int:
    """Weight bits: the per-layer choice (``st.layer_bits``: the assign-bits analysis),
    else a uniform ``--weight-bits 4|2|8`` (``--keep-8bit`` globs on node or weight
    names pin layers to 8), else 8."""
    bits = st.layer_bits.get(node.name)
    if bits is None:
        wb = st.opts.weight_bits
        bits = int(wb) if wb.isdigit() else 8
        w = node.inputs[1].name if len(node.inputs) > 1 and node.inputs[1] is not None else ""
        if bits < 8 and any(fnmatch.fnmatchcase(node.name, p) or fnmatch.fnmatchcase(w, p)
                            for p in st.opts.keep_8bit):
            bits = 8  # --keep-8bit PATTERN pins layers with uniform --weight-bits 4|2 too
    if int(bits) not in (8, 4, 2):
        raise LoweringError(f"node '{node.name}': weight bits must be 8, 4 or 2, got {bits}")
    return int(bits)


def conv_group_size(group_size, kernel: int):
    """Weight group along the reduction axis for ``--group-size N``: N for linear layers
    and 1x1 convs; for a conv with ``kernel = kH*kW > 1`` whole kernels of the nearest
    power-of-two channel count to ``N / kernel`` (3x3, N = 32: 4 channels = 36 weights),
    so groups never split a kernel (and export as ONNX blocked DequantizeLinear)."""
    if not group_size or kernel <= 1:
        return group_size
    return kernel * (1 << max(0, int(round(np.log2(int(group_size) / kernel)))))


def _dense_weight(st: QState, node: Node, w, axis: int, b=None, sx: float = 1.0):
    """(weight value, qparams, channel scale, gmult inputs) honouring --group-size and
    the Atom-style outlier block recorded by reorder-channels (graph.meta["outlier_8bit"]).
    Per-group weights get the bias fit of ``_fit_bias`` here: the channel scale at least
    ``|b| / (s_x * 2^30)`` (bias ``b``, input scale ``sx``)."""
    bits = _wbits(st, node)
    per = 1 if axis == 1 else int(np.prod(w.shape[2:]))
    gsz = conv_group_size(st.opts.group_size, per)
    keep = (st.old.meta.get("outlier_8bit") or {}).get(node.name)
    high = None
    if keep and bits < 8:
        red = w.shape[0] if axis == 1 else int(np.prod(w.shape[1:]))
        high = red - int(keep) * per
        gsz = gsz or per * int(keep)
    need = _bias_need(b, sx, w.shape[axis])  # channels: linear [K, N], conv [M, ...]
    floor = None if need is None else arith.f32_scale(np.where(need > 0, need * (1 + 2.0 ** -20), 0.0))
    wv, wqp, sc, gm = st.dense_weight(w.data, axis, w.name + ".q", bits, source=w.name,
                                      group_size=int(gsz) if gsz else None, high_from=high, floor=floor)
    raised = None if gm is None or floor is None else (floor > 0) & (floor >= sc)
    if raised is not None and raised.any():
        st.bias_fit[wv.name] = np.nonzero(raised)[0].tolist()
    extra = [] if gm is None else [gm]
    attrs = {} if gm is None else {"group_size": int(wqp.group_size), "group_shift": 16}
    return wv, wqp, np.asarray(sc, np.float64), extra, attrs


BIAS_HEADROOM = 2.0 ** 30  # a bias code at most 2^30: the accumulator keeps room for x @ w


def _bias_need(b, sx: float, channels: int) -> Optional[np.ndarray]:
    """The least channel scale at which bias ``b`` fits ``BIAS_HEADROOM`` (None: no constant
    bias of one value per channel)."""
    if b is None or not b.is_const or b.data.size != channels:
        return None
    return np.abs(np.asarray(b.data, np.float64).reshape(-1)) / (sx * BIAS_HEADROOM)


def _fit_bias(st: QState, wv, wqp, sc: np.ndarray, w: np.ndarray, b, sx: float, axis: int):
    """Per-channel weight scales raised where the bias would not fit int32 at the
    accumulator scale ``sx * sc`` (an input with a tiny scale next to a normal bias: every
    bias code saturated and the output became a constant).  Such a channel's scale becomes
    ``|b| / (sx * 2^30)``; its weights, whose products are then below the bias's
    resolution, are rounded from the float weights ``w`` at it (often to 0).  Returns the
    channel scales; the weight constant and its qparams are updated in place, the channels
    are listed in the manifest (``bias_fit_channels``) and the compile log."""
    if wqp.group_size is not None or wqp.scale.size != sc.size:
        return sc  # per-group weights: fitted in _dense_weight
    need = _bias_need(b, sx, sc.size)
    if need is None:
        return sc
    low = need > sc
    if not np.any(low):
        return sc
    new = np.where(low, arith.f32_scale(need * (1 + 2.0 ** -20)), sc)
    qmax = (1 << (wqp.bits - 1)) - 1
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(np.asarray(w, np.float64) / new.reshape(shape)), -qmax - 1, qmax)
    wv.data = np.where(low.reshape(shape), q, wv.data).astype(wv.data.dtype)
    wv.qparams = QParams(scale=new, zero_point=wqp.zero_point, bits=wqp.bits, axis=wqp.axis)
    st.bias_fit[wv.name] = np.nonzero(low)[0].tolist()
    return new


def conv(st: QState, node: Node) -> bool:
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    if not w.is_const or x.type.rank != 4:
        return False
    qx = st.q(x)
    sx = float(qx.qparams.scale[0])
    wv, wqp, sc, gm, gattrs = _dense_weight(st, node, w, 0, b, sx)
    sc = _fit_bias(st, wv, wqp, sc, w.data, b, sx, 0)
    strides = [int(v) for v in node.attrs.get("strides", [1, 1])]
    dil = [int(v) for v in node.attrs.get("dilations", [1, 1])]
    pads = resolve_pads(node, x.shape[2:], w.shape[2:], strides, dil)
    yqp, attrs, rq, left, params = _epilogue(st, node, sx * sc)
    attrs.update(strides=strides, pads=pads, dilations=dil, group=int(node.attrs.get("group", 1)),
                 x_zp=int(qx.qparams.zero_point[0]), **gattrs)
    n = st.emit("qcc.conv2d", [qx, wv, _bias(st, b, sx, sc, node.name + ".bias")] + rq + gm,
                attrs, name=node.name, out_name=node.outputs[0].name)
    _finish(st, node, n, yqp, left, params)
    st.layers.append({"node": node.name, "op": "conv2d", "weight": wv.name, "bits": wqp.bits,
                      "params": int(w.type.numel), "group_size": wqp.group_size})
    return True


def conv_transpose(st: QState, node: Node) -> bool:
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    if not w.is_const or x.type.rank != 4 or node.attrs.get("output_shape"):
        return False
    g = int(node.attrs.get("group", 1))
    c, mg = w.shape[0], w.shape[1]
    # output channel o = gi*mg + j uses w[gi*cg:(gi+1)*cg, j]: one scale per (group, j)
    wg = w.data.reshape(g, c // g, mg, *w.shape[2:])
    amax = np.abs(wg.astype(np.float64)).max(axis=(1, 3, 4)).reshape(-1)  # [g*mg]
    bits = _wbits(st, node)
    qmax = (1 << (bits - 1)) - 1
    sw = arith.f32_scale(np.where(amax > 0, amax / qmax, 1.0))
    q = np.clip(np.rint(wg / sw.reshape(g, 1, mg, 1, 1)), -qmax - 1, qmax).astype(np.int8)
    wqp = QParams(sw, np.zeros_like(sw, dtype=np.int64), bits=bits, axis=1)
    wv = st.g.add_const(w.name + ".q", q.reshape(w.shape), WDTYPE[bits], qparams=wqp)
    qx = st.q(x)
    sx = float(qx.qparams.scale[0])
    yqp, attrs, rq, left, params = _epilogue(st, node, sx * sw)
    attrs.update(strides=[int(v) for v in node.attrs.get("strides", [1, 1])],
                 pads=[int(v) for v in node.attrs.get("pads", [0, 0, 0, 0])],
                 dilations=[int(v) for v in node.attrs.get("dilations", [1, 1])], group=g,
                 output_padding=[int(v) for v in node.attrs.get("output_padding", [0, 0])],
                 x_zp=int(qx.qparams.zero_point[0]))
    n = st.emit("qcc.conv_transpose2d", [qx, wv, _bias(st, b, sx, sw, node.name + ".bias")] + rq,
                attrs, name=node.name, out_name=node.outputs[0].name)
    _finish(st, node, n, yqp, left, params)
    st.layers.append({"node": node.name, "op": "conv_transpose2d", "weight": wv.name, "bits": bits,
                      "params": int(w.type.numel)})
    return True


def _linear(st: QState, node: Node, x, w, b, yqp: QParams = None) -> bool:
    """``yqp``: the output's qparams when the caller chose them (16 bits: an int16 output)."""
    qx = st.q(x)
    sx = float(qx.qparams.scale[0])
    wv, wqp, sc, gm, gattrs = _dense_weight(st, node, w, 1, b, sx)
    sc = _fit_bias(st, wv, wqp, sc, w.data, b, sx, 1)
    yqp, attrs, rq, left, params = _epilogue(st, node, sx * sc, yqp)
    attrs.update(x_zp=int(qx.qparams.zero_point[0]), **gattrs)
    if yqp.bits == 16:
        attrs["dtype"] = "i16"
    n = st.emit("qcc.linear", [qx, wv, _bias(st, b, sx, sc, node.name + ".bias")] + rq + gm,
                attrs, name=node.name, out_name=node.outputs[0].name)
    _finish(st, node, n, yqp, left, params)
    st.layers.append({"node": node.name, "op": "linear", "weight": wv.name, "bits": wqp.bits,
                      "params": int(w.type.numel), "group_size": wqp.group_size})
    return True


def linear(st: QState, node: Node) -> bool:
    x, w = node.inputs[0], node.inputs[1]
    b = node.inputs[2] if len(node.inputs) > 2 else None
    if not w.is_const or w.type.rank != 2:
        return False
    return _linear(st, node, x, w, b)


def matmul(st: QState, node: Node) -> bool:
    a, b = node.inputs
    if b.is_const and b.type.rank == 2 and not a.is_const:
        return _linear(st, node, a, b, None)
    if (a.is_const and b.is_const) or a.type.rank < 2 or b.type.rank < 2:
        return False
    # a constant operand that is not a [K, N] weight (DeBERTa's per-head relative position
    # keys, [B*H, d, 2k]; a constant left factor): int8 per tensor over its own range
    qa, qb = st.q(a), st.q(b)
    yqp = st.act_qp(node.outputs[0])
    r = float(qa.qparams.scale[0]) * float(qb.qparams.scale[0]) / float(yqp.scale[0])
    mult, shift = st.requant_consts(r, node.name)
    n = st.emit("qcc.matmul", [qa, qb, mult, shift],
                {"a_zp": int(qa.qparams.zero_point[0]), "b_zp": int(qb.qparams.zero_point[0]),
                 "y_zp": int(yqp.zero_point[0])}, name=node.name, out_name=node.outputs[0].name)
    st.set_q(node.outputs[0], n.outputs[0], yqp)
    return True


# -- pooling --------------------------------------------------------------------------------
def maxpool(st: QState, node: Node) -> bool:
    if len(node.outputs) > 1 and node.outputs[1].users:
        return False
    if not st.is_q(node.inputs[0]) and node.inputs[0].name not in st.ranges:
        return False
    qx = st.q(node.inputs[0])
    if node.op == "onnx.GlobalMaxPool":  # ONNX GlobalMaxPool has no int8 type: ReduceMax has
        axes = list(range(2, qx.type.rank))
        if st.g.opset >= 18:  # axes became an input in opset 18
            ax = st.g.add_const(node.name + ".axes", np.array(axes, np.int64))
            n = st.emit("onnx.ReduceMax", [qx, ax], {"keepdims": 1}, name=node.name,
                        out_name=node.outputs[0].name)
        else:
            n = st.emit("onnx.ReduceMax", [qx], {"axes": axes, "keepdims": 1}, name=node.name,
                        out_name=node.outputs[0].name)
    else:
        n = st.emit(node.op, [qx], dict(node.attrs), name=node.name, out_name=node.outputs[0].name)
    st.set_q(node.outputs[0], n.outputs[0], qx.qparams)
    return True


def _ceil_pads(in_hw, k, strides, pads):
    """ceil_mode as explicit end padding: (pads, extra added) where the ceil-mode output
    size equals floor mode over the new pads (a last window starting in the end padding
    is dropped, as ONNX does)."""
    out_pads, extra = list(pads), False
    for i, (size, kk, s) in enumerate(zip(in_hw, k, strides)):
        span = size + pads[i] + pads[i + 2] - kk
        n = -(-span // s) + 1
        if (n - 1) * s >= size + pads[i]:
            n -= 1
        grow = (n - 1) * s + kk - (size + pads[i] + pads[i + 2])
        if grow > 0:
            out_pads[i + 2] += grow
            extra = True
    return out_pads, extra


def avgpool(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    if any(d != 1 for d in node.attrs.get("dilations", [1, 1])) or x.type.rank != 4:
        return False
    k = [int(v) for v in node.attrs["kernel_shape"]]
    strides = [int(v) for v in node.attrs.get("strides", [1, 1])]
    pads = resolve_pads(node, x.shape[2:], k, strides, [1, 1])
    include_pad = int(node.attrs.get("count_include_pad", 0))
    if node.attrs.get("ceil_mode", 0):
        pads2, extra = _ceil_pads(x.shape[2:], k, strides, pads)
        if extra and any(pads) and include_pad:
            return False  # windows past the end count the real pads only: no single divisor rule
        if extra:  # the added end padding is never counted (no original pads: count only x)
            pads, include_pad = pads2, 0
    qx = st.q(x)
    yqp = st.act_qp(node.outputs[0])
    counts = np.arange(1, k[0] * k[1] + 1, dtype=np.float64)
    mult, shift = st.requant_consts(float(qx.qparams.scale[0]) / (float(yqp.scale[0]) * counts), node.name)
    n = st.emit("qcc.avgpool", [qx, mult, shift],
                {"kernel_shape": k, "strides": strides, "pads": pads,
                 "count_include_pad": include_pad,
                 "x_zp": int(qx.qparams.zero_point[0]), "y_zp": int(yqp.zero_point[0])},
                name=node.name, out_name=node.outputs[0].name)
    st.set_q(node.outputs[0], n.outputs[0], yqp)
    return True


def mean(st: QState, node: Node) -> bool:
    x = node.inputs[0]
    out = node.outputs[0]
    if not x.dtype.is_float or (not st.is_q(x) and x.name not in st.ranges):
        return False
    qx = st.q(x)
    yqp = st.act_qp(out)
    count = max(1, x.type.numel // max(1, out.type.numel)) if node.op != "onnx.ReduceSum" else 1
    r = float(qx.qparams.scale[0]) / (float(yqp.scale[0]) * count)
    mult, shift = st.requant_consts(r, node.name)
    attrs = {"x_zp": int(qx.qparams.zero_point[0]), "y_zp": int(yqp.zero_point[0])}
    if node.op == "onnx.GlobalAveragePool" and x.type.rank == 4:
        op = "qcc.global_avgpool"
    elif node.op == "onnx.GlobalAveragePool":  # 1-D / 3-D pooling: the mean over the spatial axes
        if x.type.rank < 3:
            return False
        attrs.update(axes=list(range(2, x.type.rank)), keepdims=1)
        op = "qcc.reduce_mean"
    else:
        axes = node.attrs.get("axes")
        if axes is None and len(node.inputs) > 1 and node.inputs[1] is not None:
            if not node.inputs[1].is_const:
                return False
            axes = node.inputs[1].data.tolist()
        if axes is None:
            axes = list(range(x.type.rank))
        attrs.update(axes=[int(a) % x.type.rank for a in axes], keepdims=int(node.attrs.get("keepdims", 1)))
        if node.op == "onnx.ReduceSum":
            attrs["reduce"] = "sum"  # the multiplier has no 1/count; tells the QDQ export
        op = "qcc.reduce_mean"
    n = st.emit(op, [qx, mult, shift], attrs, name=node.name, out_name=out.name)
    st.set_q(out, n.outputs[0], yqp)
    return True
