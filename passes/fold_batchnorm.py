"""fold-batchnorm: fold inference BatchNormalization into the producer's weights.

``y = (p - mean) * gamma / sqrt(var + eps) + beta`` is a per-channel affine
map ``y = s * p + t``.  When ``p`` comes from a Conv, ConvTranspose, MatMul
(+ Add of a constant bias), ``fused.conv``/``fused.conv_transpose``/
``fused.linear`` without activation, and the BN is its only reader, the
weights are scaled by ``s`` per output channel and the bias becomes
``s * b + t`` (computed in float64, stored in the weight dtype).  Per-channel
constant Mul / Add right after such a producer (Caffe2's "Scale" layer, as in
the onnx light models) fold the same way.

A BN with no foldable producer becomes a depthwise 1x1 ``fused.conv``
(group = C) when its input has rank >= 3, so that the quantizer gives it
per-channel weight scales like any conv; on rank-2 inputs it becomes
``Mul`` + ``Add`` by ``[C]`` constants.  The folded node defines the BN's (or
Mul's/Add's) output value, so value names survive.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc.ir import Graph, Node, TensorType
from qcc.passmanager import PassContext, register_pass

from .fusion_match import broadcast_channel, const_operand, only_user

CONVS = {"onnx.Conv": "fused.conv", "fused.conv": "fused.conv",
         "onnx.ConvTranspose": "fused.conv_transpose", "fused.conv_transpose": "fused.conv_transpose"}


def _affine(node: Node) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(s, t) of a per-channel affine node over axis 1, else None."""
    x = node.inputs[0]
    if x is None or not x.dtype.is_float or x.type.rank < 2:
        return None
    c = x.shape[1]
    if node.op == "onnx.BatchNormalization":
        if len(node.outputs) > 1 and any(v.users for v in node.outputs[1:]) \
                or node.attrs.get("training_mode", 0):
            return None
        if not all(v is not None and v.is_const for v in node.inputs[1:5]):
            return None
        gamma, beta, mean, var = (v.data.astype(np.float64) for v in node.inputs[1:5])
        s = gamma / np.sqrt(var + float(node.attrs.get("epsilon", 1e-5)))
        return s, beta - mean * s
    if node.op in ("onnx.Mul", "onnx.Add"):
        xv, cv = const_operand(node)
        if xv is None or not cv.dtype.is_float or node.outputs[0].shape != xv.shape:
            return None
        vec = broadcast_channel(cv.data.astype(np.float64), xv.type.rank, c, axis=1)
        if vec is None:
            return None
        return (vec, np.zeros(c)) if node.op == "onnx.Mul" else (np.ones(c), vec)
    return None


def _scale_weight(p: Node, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    if p.op in ("onnx.Conv", "fused.conv"):
        return w * s.reshape((-1,) + (1,) * (w.ndim - 1))
    if p.op in ("onnx.ConvTranspose", "fused.conv_transpose"):
        g = int(p.attrs.get("group", 1))
        k = w.shape[2:]
        w5 = w.reshape((g, w.shape[0] // g, w.shape[1]) + k)
        return (w5 * s.reshape((g, 1, w.shape[1]) + (1,) * len(k))).reshape(w.shape)
    return w * s[None, :]  # linear: [K, N]


def _linear_parts(graph: Graph, p: Node):
    """(x, weight, bias or None, nodes) of a foldable linear producer chain."""
    if p.op == "fused.linear":
        return p.inputs[0], p.inputs[1], (p.inputs[2] if len(p.inputs) > 2 else None), [p]
    if p.op == "onnx.Add":
        mm_out, b = const_operand(p)
        mm = mm_out.producer if mm_out is not None else None
        if mm is None or mm.op != "onnx.MatMul" or only_user(mm_out, graph) is not p \
                or b.data.size != p.outputs[0].shape[-1]:
            return None
        x, w, _, _ = _linear_parts(graph, mm)
        return x, w, b, [p, mm]
    if p.op == "onnx.MatMul":
        return p.inputs[0], p.inputs[1], None, [p]
    return None


def _fold_into(graph: Graph, node: Node, s: np.ndarray, t: np.ndarray) -> bool:
    src = node.inputs[0] if node.op == "onnx.BatchNormalization" else const_operand(node)[0]
    p = src.producer
    if p is None or only_user(src, graph) is not node:
        return False
    if p.op in CONVS:
        if p.attrs.get("activation", "none") != "none" or not p.inputs[1].is_const:
            return False
        x, w = p.inputs[0], p.inputs[1]
        b = p.inputs[2] if len(p.inputs) > 2 else None
        op, attrs, chain = CONVS[p.op], dict(p.attrs), [p]
    else:
        if src.type.rank != 2:
            return False
        parts = _linear_parts(graph, p)
        if parts is None or not parts[1].is_const or parts[1].type.rank != 2 or \
                (p.op == "fused.linear" and p.attrs.get("activation", "none") != "none"):
            return False
        x, w, b, chain = parts
        op, attrs = "fused.linear", {}
    if b is not None and not b.is_const:
        return False
    bias = np.zeros(len(s)) if b is None else b.data.astype(np.float64).reshape(-1)
    if np.all(s == 1.0):  # a bias Add: the weight stays itself (a pinned grid keeps its name)
        wv = w
    else:
        wv = graph.add_const(w.name + ".bnfold", _scale_weight(p, w.data.astype(np.float64), s)
                             .astype(w.data.dtype))
    bv = graph.add_const((b.name if b is not None else w.name + ".b") + ".bnfold",
                         (bias * s + t).astype(w.data.dtype))
    fused = graph.replace_node(node, op, [x, wv, bv], attrs)
    for n in chain:
        graph.remove_node(n)
    if op != "fused.linear" and p.name not in graph._node_names:  # errors name the Conv
        graph._node_names.discard(fused.name)
        fused.name = p.name
        graph._node_names.add(p.name)
    return True


def _standalone(graph: Graph, node: Node, s: np.ndarray, t: np.ndarray) -> None:
    x = node.inputs[0]
    dt = x.dtype.np
    c = x.shape[1]
    if x.type.rank >= 3:
        k = (1,) * (x.type.rank - 2)
        w = graph.add_const(node.name + ".dw", s.reshape((c, 1) + k).astype(dt))
        b = graph.add_const(node.name + ".dwb", t.astype(dt))
        graph.replace_node(node, "fused.conv", [x, w, b],
                           {"group": c, "kernel_shape": list(k), "activation": "none"})
        return
    sv = graph.add_const(node.name + ".scale", s.astype(dt))
    tv = graph.add_const(node.name + ".shift", t.astype(dt))
    mul = graph.make("onnx.Mul", [x, sv], [TensorType(x.dtype, x.shape)],
                     name=node.name + ".mul", before=node)
    _range_of_scaled(graph, x, node.outputs[0], mul.outputs[0], s, t)
    graph.replace_node(node, "onnx.Add", [mul.outputs[0], tv])


def _range_of_scaled(graph: Graph, x, y, mid, s: np.ndarray, t: np.ndarray) -> None:
    """Calibration ran before this pass: give the new ``mid = x * s`` (y = mid + t) a range,
    the tighter of x's range scaled per channel and y's range shifted back (both bound it)."""
    r = graph.meta.get("ranges")
    if r is None:
        return
    bounds = []
    if x.name in r:
        lo, hi = (float(v) for v in r[x.name][:2])
        ends = np.stack([lo * s, hi * s])
        bounds.append((float(ends.min()), float(ends.max())))
    if y.name in r:
        lo, hi = (float(v) for v in r[y.name][:2])
        bounds.append((lo - float(np.max(t)), hi - float(np.min(t))))
    if bounds:
        lo, hi = max(b[0] for b in bounds), min(b[1] for b in bounds)
        r[mid.name] = (lo, hi) if lo <= hi else bounds[0]


@register_pass("fold-batchnorm", "fold BatchNormalization (and per-channel Mul/Add) into the "
                                 "preceding conv/linear; lone BN -> depthwise 1x1 fused.conv")
def fold_batchnorm(graph: Graph, ctx: PassContext) -> bool:
    folded = standalone = 0
    for node in list(graph.nodes):
        if node not in graph.nodes:
            continue
        st = _affine(node) if node.op in ("onnx.BatchNormalization", "onnx.Mul", "onnx.Add") else None
        if st is None:
            continue
        if _fold_into(graph, node, *st):
            folded += 1
        elif node.op == "onnx.BatchNormalization":
            _standalone(graph, node, *st)
            standalone += 1
    graph.drop_unused_constants()
    ctx.note("fold-batchnorm", folded=folded, standalone=standalone)
    return bool(folded or standalone)
