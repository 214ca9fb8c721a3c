"""Float composite ops (``fused.*``) made by the fusion passes (docs/fused_ops.md).

They are still float ops: the interpreter runs them with numpy (convolutions
through the onnx reference Conv/ConvTranspose), so a fused graph computes the
same values as the unfused one.  The quantizer maps each of them to one
integer op.  Every op with an ``activation`` attribute applies it to its
result; :func:`apply_activation` is the one definition of those activations.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Optional

import numpy as np

from ..errors import ShapeError
from ..ir import DType, Node, TensorType
from . import OpDef, register
from .onnx_ops import _make_infer, _make_run

# activation name -> attributes it reads (with defaults)
ACTIVATIONS: dict[str, dict[str, float]] = {
    "none": {},
    "relu": {},
    "relu6": {},
    "clip": {"min": -math.inf, "max": math.inf},
    "leaky_relu": {"alpha": 0.01},
    "hardswish": {},
    "hardsigmoid": {"alpha": 0.2, "beta": 0.5},
}
ACT_ATTRS = ("activation", "alpha", "beta", "min", "max", "pre_act")  # pre_act: fuse-activation
_FLOATS = (DType.float32, DType.float16, DType.float64)


def _err(node: Node, msg: str) -> ShapeError:
    return ShapeError(f"{node.op} node '{node.name}': {msg}")


def activation_params(node: Node) -> tuple[str, dict[str, float]]:
    """(activation name, its parameters with defaults filled in)."""
    act = node.attrs.get("activation", "none") or "none"
    if act not in ACTIVATIONS:
        raise _err(node, f"unknown activation '{act}'; known: {', '.join(ACTIVATIONS)}")
    return act, {k: float(node.attrs.get(k, d)) for k, d in ACTIVATIONS[act].items()}


def apply_activation(y: np.ndarray, act: str, p: Optional[dict] = None) -> np.ndarray:
    """The activations of ``fused.*`` ops, computed in ``y``'s dtype."""
    p = p or {}
    t = y.dtype.type
    if act == "none":
        return y
    if act == "relu":
        return np.maximum(y, t(0))
    if act == "relu6":
        return np.clip(y, t(0), t(6))
    if act == "clip":
        return np.clip(y, t(p.get("min", -np.inf)), t(p.get("max", np.inf)))
    if act == "leaky_relu":
        return np.where(y >= 0, y, y * t(p.get("alpha", 0.01))).astype(y.dtype)
    if act == "hardsigmoid":
        a, b = t(p.get("alpha", 0.2)), t(p.get("beta", 0.5))
        return np.clip(y * a + b, t(0), t(1))
    if act == "hardswish":
        return y * np.clip(y * t(1 / 6) + t(0.5), t(0), t(1))
    raise ValueError(f"unknown activation '{act}'")


def _float_input(node: Node, i: int, what: str) -> TensorType:
    v = node.inputs[i] if i < len(node.inputs) else None
    if v is None:
        raise _err(node, f"missing input {i} ({what})")
    if v.dtype not in _FLOATS:
        raise _err(node, f"input {i} ({what}) '%{v.name}' is {v.dtype.short}, expected a float")
    return v.type


# -- conv / conv_transpose: ONNX semantics + bias + activation ------------------------
def _onnx_proxy(node: Node, op_type: str) -> SimpleNamespace:
    attrs = {k: v for k, v in node.attrs.items() if k not in ACT_ATTRS}
    return SimpleNamespace(op=f"onnx.{op_type}", op_type=op_type, name=node.name,
                           inputs=node.inputs, outputs=node.outputs, attrs=attrs,
                           opset=max(node.opset, 11), cache=node.cache)


def _conv_family(op_type: str):
    onnx_infer, onnx_run = _make_infer(op_type), _make_run(op_type)

    def infer(node: Node) -> list[TensorType]:
        _float_input(node, 0, "x")
        _float_input(node, 1, "weight")
        activation_params(node)
        return onnx_infer(_onnx_proxy(node, op_type))

    def run(node: Node, args):
        act, p = activation_params(node)
        proxy = node.cache.get("proxy")
        if proxy is None:
            proxy = node.cache["proxy"] = _onnx_proxy(node, op_type)
            proxy.cache = {}
        (y,) = onnx_run(proxy, list(args[:3]))
        return [apply_activation(y, act, p)]

    return infer, run


# -- linear ---------------------------------------------------------------------------
def _linear_infer(node: Node) -> list[TensorType]:
    xt = _float_input(node, 0, "x")
    wt = _float_input(node, 1, "weight")
    activation_params(node)
    if wt.rank != 2 or xt.rank < 1 or xt.shape[-1] != wt.shape[0]:
        raise _err(node, f"linear needs x[..., K] and weight [K, N], got {xt} and {wt}")
    b = node.inputs[2] if len(node.inputs) > 2 else None
    if b is not None and b.shape != (wt.shape[1],):
        raise _err(node, f"bias shape {list(b.shape)} != [{wt.shape[1]}]")
    return [TensorType(xt.dtype, xt.shape[:-1] + (wt.shape[1],))]


def _linear_run(node: Node, args):
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else None
    y = np.matmul(x, w)
    if b is not None:
        y = y + b
    act, p = activation_params(node)
    return [apply_activation(y.astype(x.dtype, copy=False), act, p)]


# -- elementwise -------------------------------------------------------------------------
def _same_infer(node: Node) -> list[TensorType]:
    return [_float_input(node, 0, "x")]


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x)


def _gelu_run(node: Node, args):
    x = args[0]
    t = x.dtype.type
    mode = node.attrs.get("approximate", "none")
    if mode == "tanh":
        inner = t(math.sqrt(2 / math.pi)) * (x + t(0.044715) * x * x * x)
        y = t(0.5) * x * (t(1) + np.tanh(inner))
    elif mode == "none":
        y = x * t(0.5) * (t(1) + _erf(x * t(1 / math.sqrt(2))).astype(x.dtype))
    else:
        raise _err(node, f"approximate must be 'none' or 'tanh', got '{mode}'")
    return [y.astype(x.dtype, copy=False)]


def _silu_run(node: Node, args):
    x = args[0]
    return [(x / (x.dtype.type(1) + np.exp(-x))).astype(x.dtype, copy=False)]


def _hardswish_run(node: Node, args):
    return [apply_activation(args[0], "hardswish")]


def _hardsigmoid_run(node: Node, args):
    return [apply_activation(args[0], "hardsigmoid",
                             {"alpha": float(node.attrs.get("alpha", 0.2)),
                              "beta": float(node.attrs.get("beta", 0.5))})]


# -- layernorm ---------------------------------------------------------------------------
def _ln_axis(node: Node, rank: int) -> int:
    axis = int(node.attrs.get("axis", -1))
    if not -rank <= axis < rank:
        raise _err(node, f"axis {axis} out of range for rank {rank}")
    return axis % rank


def _layernorm_infer(node: Node) -> list[TensorType]:
    xt = _float_input(node, 0, "x")
    norm = xt.shape[_ln_axis(node, xt.rank):]
    for i, what in ((1, "scale"), (2, "bias")):
        v = node.inputs[i] if i < len(node.inputs) else None
        if v is None:
            if i == 1:
                raise _err(node, "missing input 1 (scale)")
            continue
        if v.shape != norm:
            raise _err(node, f"{what} shape {list(v.shape)} != normalized shape {list(norm)}")
    return [xt]


def _layernorm_run(node: Node, args):
    x, scale = args[0], args[1]
    bias = args[2] if len(args) > 2 else None
    t = x.dtype.type
    axes = tuple(range(_ln_axis(node, x.ndim), x.ndim))
    eps = t(float(node.attrs.get("epsilon", 1e-5)))
    d = x - x.mean(axis=axes, keepdims=True, dtype=x.dtype)
    var = (d * d).mean(axis=axes, keepdims=True, dtype=x.dtype)
    y = d / np.sqrt(var + eps) * scale
    if bias is not None:
        y = y + bias
    return [y.astype(x.dtype, copy=False)]


def _register() -> None:
    ops = [
        ("conv", *_conv_family("Conv"), (2, 3),
         "ONNX Conv (+ bias) then `activation`"),
        ("conv_transpose", *_conv_family("ConvTranspose"), (2, 3),
         "ONNX ConvTranspose (+ bias) then `activation`"),
        ("linear", _linear_infer, _linear_run, (2, 3),
         "x[..., K] @ W[K, N] (+ b[N]) then `activation`"),
        ("gelu", _same_infer, _gelu_run, (1, 1), "GELU, approximate = none (erf) | tanh"),
        ("layernorm", _layernorm_infer, _layernorm_run, (2, 3),
         "LayerNorm over axes [axis, rank): (x-mean)/sqrt(var+epsilon)*scale+bias"),
        ("silu", _same_infer, _silu_run, (1, 1), "x * sigmoid(x)"),
        ("hardswish", _same_infer, _hardswish_run, (1, 1), "x * clip(x/6 + 1/2, 0, 1)"),
        ("hardsigmoid", _same_infer, _hardsigmoid_run, (1, 1), "clip(alpha*x + beta, 0, 1)"),
    ]
    for name, infer, run, (lo, hi), doc in ops:
        register(OpDef(name=f"fused.{name}", infer=infer, run=run, family="fused", doc=doc,
                       min_inputs=lo, max_inputs=hi, num_outputs=1))


_register()
