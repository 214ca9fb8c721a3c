"""Lookup tables for ``qcc.lut``: a float function on quantized int8 inputs.

``build_table(fn, in_scale, in_zp, out_scale, out_zp)`` evaluates ``fn`` in
float64 on every representable input ``scale * (q - zp)`` and quantizes the
result with round half to even (``arith``'s rounding for constants).  NaN
results map to the output zero point, +-inf saturate.  The table is indexed by
``q - dtype_min`` (``q + 128`` for int8).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from .errors import LoweringError
from .ir import DType


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free form


def _softplus(x):
    return np.logaddexp(0.0, x)


def _hardsigmoid(alpha: float = 0.2, beta: float = 0.5):
    return lambda x: np.clip(alpha * x + beta, 0.0, 1.0)


def _leaky(alpha: float = 0.01):
    return lambda x: np.where(x >= 0, x, alpha * x)


def _elu(alpha: float = 1.0):
    return lambda x: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def _safe(fn):
    def wrapped(x):
        with np.errstate(all="ignore"):
            return fn(x)
    return wrapped


FUNCTIONS: dict[str, Callable[..., Callable[[np.ndarray], np.ndarray]]] = {
    "Sigmoid": lambda: _sigmoid,
    "Tanh": lambda: np.tanh,
    "SiLU": lambda: (lambda x: x * _sigmoid(x)),
    "Exp": lambda: np.exp,
    "Log": lambda: np.log,
    "Erf": lambda: _erf,
    "Sqrt": lambda: np.sqrt,
    "Reciprocal": lambda: (lambda x: 1.0 / x),
    "HardSigmoid": _hardsigmoid,
    "HardSwish": lambda: (lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)),
    "Gelu": lambda approximate="none": (
        (lambda x: 0.5 * x * (1.0 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))))
        if approximate == "tanh" else (lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))))),
    "LeakyRelu": _leaky,
    "Elu": _elu,
    "Softplus": lambda: _softplus,
    "Mish": lambda: (lambda x: x * np.tanh(_softplus(x))),
    "Relu": lambda: (lambda x: np.maximum(x, 0.0)),
    "Abs": lambda: np.abs,
    "Neg": lambda: np.negative,
    "Sin": lambda: np.sin,
    "Cos": lambda: np.cos,
    "Softsign": lambda: (lambda x: x / (1.0 + np.abs(x))),
}


def function(name: str, **params) -> Callable[[np.ndarray], np.ndarray]:
    """The float64 function of an ONNX op name (attributes as keyword args)."""
    try:
        make = FUNCTIONS[name]
    except KeyError:
        raise LoweringError(f"no lookup-table function for '{name}'; "
                            f"known: {sorted(FUNCTIONS)}") from None
    return _safe(make(**params))


def input_grid(in_dtype: DType = DType.int8) -> np.ndarray:
    """Every representable input code in table order (int64)."""
    return np.arange(in_dtype.min, in_dtype.max + 1, dtype=np.int64)


def build_table(fn, in_scale: float, in_zp: int, out_scale: float, out_zp: int,
                in_dtype: DType = DType.int8, out_dtype: DType = DType.int8,
                params: Optional[dict] = None) -> np.ndarray:
    """The ``qcc.lut`` table of ``fn`` (a callable or a name in ``FUNCTIONS``)."""
    if isinstance(fn, str):
        fn = function(fn, **(params or {}))
    q = input_grid(in_dtype)
    x = float(in_scale) * (q - int(in_zp)).astype(np.float64)
    with np.errstate(all="ignore"):
        y = np.asarray(fn(x), dtype=np.float64) / float(out_scale)
    y = np.where(np.isnan(y), 0.0, y)
    y = np.clip(np.rint(y), -2.0**40, 2.0**40).astype(np.int64) + int(out_zp)
    return np.clip(y, out_dtype.min, out_dtype.max).astype(out_dtype.np)

