"""Synthetic transformer encoders built with onnx.helper (BERT post-LN or
ViT/GPT pre-LN blocks, optional padding mask, erf or tanh GELU) and their
inputs: used by the transformer tests and by ``qcc.bench.transformer_ops``
(residual-width measurement)."""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _B:
    def __init__(self, seed: int):
        self.nodes, self.inits, self.rng, self.n = [], [], np.random.default_rng(seed), 0

    def c(self, arr, dtype=np.float32) -> str:
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype), name))
        return name

    def op(self, op: str, ins: list, **attrs) -> str:
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op, ins, [out], name=f"{op}_{self.n}", **attrs))
        return out

    def linear(self, x: str, k: int, n: int) -> str:
        w = self.rng.normal(0, 1 / math.sqrt(k), size=(k, n))
        b = self.rng.normal(0, 0.1, size=n)
        return self.op("Add", [self.op("MatMul", [x, self.c(w)]), self.c(b)])

    def layernorm(self, x: str, h: int, decomposed: bool) -> str:
        g, b = self.c(1 + 0.1 * self.rng.normal(size=h)), self.c(0.1 * self.rng.normal(size=h))
        if not decomposed:
            return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-12)
        d = self.op("Sub", [x, self.op("ReduceMean", [x], axes=[-1])])
        var = self.op("ReduceMean", [self.op("Pow", [d, self.c(2.0)])], axes=[-1])
        den = self.op("Sqrt", [self.op("Add", [var, self.c(1e-12)])])
        return self.op("Add", [self.op("Mul", [self.op("Div", [d, den]), g]), b])

    def gelu(self, x: str, tanh: bool = False) -> str:
        if tanh:   # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            x3 = self.op("Mul", [self.op("Pow", [x, self.c(3.0)]), self.c(0.044715)])
            t = self.op("Tanh", [self.op("Mul", [self.op("Add", [x, x3]), self.c(0.7978845608)])])
            return self.op("Mul", [self.op("Mul", [x, self.c(0.5)]), self.op("Add", [t, self.c(1.0)])])
        e = self.op("Erf", [self.op("Div", [x, self.c(1.4142135)])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, self.c(1.0)])]), self.c(0.5)])

    def attention(self, h: str, seq: int, hidden: int, heads: int, mask_add) -> str:
        dh = hidden // heads
        split = self.c([1, seq, heads, dh], np.int64)
        q, k, v = (self.op("Reshape", [self.linear(h, hidden, hidden), split]) for _ in range(3))
        q = self.op("Transpose", [q], perm=[0, 2, 1, 3])
        k = self.op("Transpose", [k], perm=[0, 2, 3, 1])
        v = self.op("Transpose", [v], perm=[0, 2, 1, 3])
        s = self.op("Div", [self.op("MatMul", [q, k]), self.c(math.sqrt(dh))])
        if callable(mask_add):   # a mask built after the scores (graph order as some exporters emit)
            s = mask_add(s)
        elif mask_add:
            s = self.op("Add", [s, mask_add])
        p = self.op("Softmax", [s], axis=-1)
        if getattr(self, "nan_guard", False):   # torch scaled_dot_product_attention
            p = self.op("Where", [self.op("IsNaN", [p]), self.c(0.0), p])
        ctx = self.op("Transpose", [self.op("MatMul", [p, v])], perm=[0, 2, 1, 3])
        return self.linear(self.op("Reshape", [ctx, self.c([1, seq, hidden], np.int64)]), hidden, hidden)


def _mask_builder(b: _B, kind):
    """The additive mask value, a function scores -> masked scores, or None."""
    if not kind:
        return None
    m = b.op("Unsqueeze", ["attention_mask", b.c([1, 2], np.int64)])
    if kind in (True, "add"):
        return b.op("Mul", [b.op("Sub", [b.c(1.0), b.op("Cast", [m], to=TensorProto.FLOAT)]),
                            b.c(-10000.0)])
    if kind == "add_min":
        lo = float(np.finfo(np.float32).min)
        return lambda s: b.op("Add", [s, b.op("Mul", [b.op("Sub", [b.c(1.0), b.op(
            "Cast", [m], to=TensorProto.FLOAT)]), b.c(lo)])])
    if kind == "sdpa_bool":   # F.scaled_dot_product_attention(attn_mask=bool) as torch exports it
        b.nan_guard = True
        keep = b.op("Not", [b.op("Equal", [m, b.c(0, np.int64)])])
        return b.op("Where", [keep, b.c(0.0), b.c(-np.inf)])
    if kind == "where":
        return lambda s: b.op("Where", [b.op("Equal", [m, b.c(0, np.int64)]), b.c(-np.inf), s])
    raise ValueError(f"mask kind {kind!r}")


def encoder_onnx(path: str, seq: int = 8, hidden: int = 16, heads: int = 2, ffn: int = 32,
                 layers: int = 1, opset: int = 17, seed: int = 0, pre_ln: bool = False,
                 mask: bool = True, tanh_gelu: bool = False) -> str:
    """x f32 [1, seq, hidden] (+ attention_mask i64 [1, seq]) -> encoder output.

    Post-LN (BERT) by default; ``pre_ln`` gives the ViT/GPT block
    ``h + attn(LN(h))``, ``h + ffn(LN(h))`` with a final LayerNorm.  ``mask``:
    False (none), True or "add" (``(1 - m) * -10000`` added, built once up
    front), "add_min" (``(1 - m) * float32 min``, built after each scores
    MatMul), "where" (``Where(m == 0, -inf, scores)``, torch masked_fill), "sdpa_bool"
    (``scores + Where(m != 0, 0, -inf)`` and a NaN guard after the softmax, as
    torch exports scaled_dot_product_attention with a boolean mask)."""
    b = _B(seed)
    dec = opset < 17
    mask_add = _mask_builder(b, mask)
    h = "x" if pre_ln else b.layernorm("x", hidden, dec)
    for _ in range(layers):
        if pre_ln:
            h = b.op("Add", [h, b.attention(b.layernorm(h, hidden, dec), seq, hidden, heads, mask_add)])
            f = b.linear(b.gelu(b.linear(b.layernorm(h, hidden, dec), hidden, ffn), tanh_gelu), ffn, hidden)
            h = b.op("Add", [h, f])
        else:
            h = b.layernorm(b.op("Add", [h, b.attention(h, seq, hidden, heads, mask_add)]), hidden, dec)
            f = b.linear(b.gelu(b.linear(h, hidden, ffn), tanh_gelu), ffn, hidden)
            h = b.layernorm(b.op("Add", [h, f]), hidden, dec)
    if pre_ln:
        h = b.layernorm(h, hidden, dec)
    b.nodes.append(helper.make_node("Identity", [h], ["y"], name="out"))
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden])]
    if mask:
        ins.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, seq]))
    g = helper.make_graph(b.nodes, "enc", ins,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, hidden])], b.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def encoder_data(n: int, seq: int = 8, hidden: int = 16, seed: int = 1, mask: bool = True,
                 outliers: float = 0.0) -> dict:
    """N(0, 1) inputs; ``outliers`` > 0 scales two channels by that factor (the
    outlier dimensions of trained residual streams)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, seq + 1, size=n)
    x = rng.normal(0, 1, size=(n, seq, hidden)).astype(np.float32)
    if outliers:
        x[..., :2] *= np.float32(outliers)
    if not mask:
        return {"x": x}
    return {"x": x, "attention_mask": (np.arange(seq)[None] < lengths[:, None]).astype(np.int64)}
