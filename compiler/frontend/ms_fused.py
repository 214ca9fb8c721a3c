"""onnxruntime's transformer fusions (``com.microsoft`` Gelu, FastGelu, BiasGelu,
QuickGelu, FusedMatMul, SkipLayerNormalization) as the standard ONNX
subgraphs they replace.

A model saved after onnxruntime's graph optimizer (``optimized_model_filepath``, the
``onnxruntime.transformers`` optimizer, many ``model_quantized.onnx`` files on model
hubs) holds them next to the dynamic-quantization ops (``ms_dynamic.py``).  Expanded
at import they mean what onnxruntime computes, in the spelling the exporters use
(so ``fuse-gelu`` and ``fuse-layernorm`` find them again).  A ``FusedMatMul`` that
transposes an operand needs its rank, from the file's value_info or ONNX shape
inference; without one the node is refused in one line.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ModelLoadError
from .ms_qops import _attrs, _expander, _inp


def _const(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.array(value, np.float32)))


def _gelu_erf(x: str, y: str, name: str) -> list[onnx.NodeProto]:
    """``x * 0.5 * (1 + erf(x / sqrt(2)))`` as torch exports it."""
    return [_const(f"{name}.sqrt2", math.sqrt(2.0)), _const(f"{name}.one", 1.0), _const(f"{name}.half", 0.5),
            helper.make_node("Div", [x, f"{name}.sqrt2"], [f"{name}.d"], name=f"{name}.div"),
            helper.make_node("Erf", [f"{name}.d"], [f"{name}.e"], name=f"{name}.erf"),
            helper.make_node("Add", [f"{name}.e", f"{name}.one"], [f"{name}.a"], name=f"{name}.add"),
            helper.make_node("Mul", [x, f"{name}.a"], [f"{name}.m"], name=f"{name}.mul"),
            helper.make_node("Mul", [f"{name}.m", f"{name}.half"], [y], name=f"{name}.half_mul")]


def _gelu_tanh(x: str, y: str, name: str) -> list[onnx.NodeProto]:
    """``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))``."""
    p = f"{name}."
    return [_const(p + "three", 3.0), _const(p + "k", 0.044715), _const(p + "c", math.sqrt(2 / math.pi)),
            _const(p + "one", 1.0), _const(p + "half", 0.5),
            helper.make_node("Pow", [x, p + "three"], [p + "x3"], name=p + "pow"),
            helper.make_node("Mul", [p + "x3", p + "k"], [p + "kx3"], name=p + "mul_k"),
            helper.make_node("Add", [x, p + "kx3"], [p + "in"], name=p + "add_in"),
            helper.make_node("Mul", [p + "in", p + "c"], [p + "arg"], name=p + "mul_c"),
            helper.make_node("Tanh", [p + "arg"], [p + "t"], name=p + "tanh"),
            helper.make_node("Add", [p + "t", p + "one"], [p + "a"], name=p + "add_one"),
            helper.make_node("Mul", [p + "half", x], [p + "hx"], name=p + "mul_half"),
            helper.make_node("Mul", [p + "hx", p + "a"], [y], name=p + "mul")]


def _biased(n: onnx.NodeProto, name: str, bias_slot: int) -> tuple[list[onnx.NodeProto], str]:
    if not _inp(n, bias_slot):
        return [], n.input[0]
    return [helper.make_node("Add", [n.input[0], n.input[bias_slot]], [f"{name}.z"], name=f"{name}.bias")], \
        f"{name}.z"


@_expander("Gelu")
def _gelu(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    return _gelu_erf(n.input[0], n.output[0], name)


@_expander("BiasGelu")
def _bias_gelu(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    pre, z = _biased(n, name, 1)
    return pre + _gelu_erf(z, n.output[0], name)


@_expander("FastGelu")
def _fast_gelu(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    pre, z = _biased(n, name, 1)
    return pre + _gelu_tanh(z, n.output[0], name)


@_expander("QuickGelu")
def _quick_gelu(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    alpha = float(_attrs(n).get("alpha", 1.702))
    return [_const(f"{name}.alpha", alpha),
            helper.make_node("Mul", [n.input[0], f"{name}.alpha"], [f"{name}.ax"], name=f"{name}.mul_alpha"),
            helper.make_node("Sigmoid", [f"{name}.ax"], [f"{name}.s"], name=f"{name}.sigmoid"),
            helper.make_node("Mul", [n.input[0], f"{name}.s"], [n.output[0]], name=f"{name}.mul")]


def _operand_perm(rank: int, trans: int, trans_batch: int) -> list[int]:
    """onnxruntime's FusedMatMul operand layout: ``transBatch`` moves axis 0 next to the
    matrix axes (``[1, .., r-2, 0, r-1]``), ``trans`` swaps the last two."""
    perm = list(range(1, rank - 1)) + [0, rank - 1] if trans_batch else list(range(rank))
    if trans:
        perm[-2], perm[-1] = perm[-1], perm[-2]
    return perm


@_expander("FusedMatMul")
def _fused_matmul(n: onnx.NodeProto, name: str, shapes: dict) -> list[onnx.NodeProto]:
    """alpha * op(A) @ op(B), the transpositions as Transpose nodes (they need the
    operands' ranks, taken from the file's value_info)."""
    a = _attrs(n)
    nodes, ins = [], []
    for k, (t, tb) in enumerate((("transA", "transBatchA"), ("transB", "transBatchB"))):
        x = n.input[k]
        if a.get(t, 0) or a.get(tb, 0):
            r = len(shapes[x]) if x in shapes else None
            if r is None or r < 2 or (a.get(tb, 0) and r < 3):
                raise ModelLoadError(f"com.microsoft::FusedMatMul node '{n.name}': the rank of its input "
                                     f"'{x}' is not declared (value_info), so its {t}/{tb} cannot be "
                                     f"imported")
            nodes.append(helper.make_node("Transpose", [x], [f"{name}.t{k}"], name=f"{name}.t{k}",
                                          perm=_operand_perm(r, a.get(t, 0), a.get(tb, 0))))
            x = f"{name}.t{k}"
        ins.append(x)
    alpha = float(a.get("alpha", 1.0))
    if alpha == 1.0:
        return nodes + [helper.make_node("MatMul", ins, [n.output[0]], name=f"{name}.MatMul")]
    return nodes + [helper.make_node("MatMul", ins, [f"{name}.mm"], name=f"{name}.MatMul"),
                    _const(f"{name}.alpha", alpha),
                    helper.make_node("Mul", [f"{name}.mm", f"{name}.alpha"], [n.output[0]],
                                     name=f"{name}.alpha_mul")]


_fused_matmul.needs_shapes = True


@_expander("SkipLayerNormalization")
def _skip_layernorm(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    """input + skip (+ bias) -> LayerNormalization over the last axis (gamma, beta);
    output 3 (when read) is the sum."""
    eps = float(_attrs(n).get("epsilon", 1e-12))
    s = n.output[3] if len(n.output) > 3 and n.output[3] else f"{name}.sum"
    nodes = [helper.make_node("Add", [n.input[0], n.input[1]], [f"{name}.xs" if _inp(n, 4) else s],
                              name=f"{name}.skip")]
    if _inp(n, 4):
        nodes.append(helper.make_node("Add", [f"{name}.xs", n.input[4]], [s], name=f"{name}.bias"))
    ln_in = [s, n.input[2]] + ([n.input[3]] if _inp(n, 3) else [])
    nodes.append(helper.make_node("LayerNormalization", ln_in, [n.output[0]], name=f"{name}.LayerNorm",
                                  axis=-1, epsilon=eps))
    if any(len(n.output) > i and n.output[i] for i in (1, 2)):
        raise ModelLoadError(f"com.microsoft::SkipLayerNormalization node '{n.name}': its mean / "
                                 f"inverse-std outputs are read; qcc imports only the normalized output "
                                 f"and the sum")
    return nodes
