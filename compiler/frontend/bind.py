"""``--bind NAME=VALUE``: a graph input fixed to a constant at import time.

Some exports take a run-time scalar that a deployment never changes (an audio
model's sample rate, a flag, a small table) and branch on it with ``If``.  Bound,
the input becomes a constant of the model's own dtype: it leaves the graph's
inputs, constant folding runs through it, and an ``If`` on it is inlined
(control_flow.inline_if).  The bindings are recorded in ``graph.meta["bound_inputs"]``
(the manifest and the compile log show them); input data that still holds an
array for a bound input must hold the bound value in every sample, and that
array is then dropped (:func:`drop_bound`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional

import numpy as np
import onnx

from ..errors import InputDataError, ShapeError
from ..ir import DType

MAX_ELEMENTS = 4096  # "a scalar or a small tensor": larger data is an input, not a setting


def parse_bind_specs(specs: Optional[list[str]]) -> dict[str, str]:
    """``NAME=VALUE`` (repeatable) -> {name: value text}; the value is parsed against the
    input's dtype at import (:func:`bound_array`)."""
    out: dict[str, str] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if not sep or not name or not value.strip():
            raise ShapeError(f"bad --bind '{spec}': write NAME=VALUE, e.g. sr=16000 or "
                             f"mask=[1,0,1] (a scalar or a JSON list)")
        if name in out:
            raise ShapeError(f"--bind names input '{name}' twice")
        out[name] = value
    return out


def _parse_text(name: str, text: str) -> Any:
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if t.startswith("["):
        try:
            return json.loads(t)
        except ValueError:
            raise ShapeError(f"--bind {name}={text}: not a valid JSON list of numbers") from None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        raise ShapeError(f"--bind {name}={text}: '{t}' is not a number, true/false or a "
                         f"[...] list") from None


def _as_dtype(name: str, value: Any, dtype: DType) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError:
        arr = np.asarray([], object)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ShapeError(f"--bind {name}: {value!r} is not numeric (a ragged list or text); the "
                         f"input is {dtype.name}")
    if arr.size > MAX_ELEMENTS:
        raise ShapeError(f"--bind {name}: {arr.size} values; a bound input holds at most "
                         f"{MAX_ELEMENTS} (a setting, not data)")
    want = dtype.np
    if want == np.bool_:
        if not np.all((arr == 0) | (arr == 1)):
            raise ShapeError(f"--bind {name}: the input is bool; give true/false or 0/1")
        return arr.astype(np.bool_)
    if np.issubdtype(want, np.integer):
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise ShapeError(f"--bind {name}: the input is {dtype.name}, {value!r} is not an integer")
        info = np.iinfo(want)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise ShapeError(f"--bind {name}: {value!r} is out of the range of {dtype.name} "
                             f"[{info.min}, {info.max}]")
        return arr.astype(want)
    if not np.issubdtype(want, np.floating):
        raise ShapeError(f"--bind {name}: inputs of dtype {dtype.name} cannot be bound")
    return arr.astype(want)


def _fit_shape(name: str, arr: np.ndarray, vi: onnx.ValueInfoProto,
               shape: Optional[tuple]) -> np.ndarray:
    """The value in the input's declared shape (dynamic dims take the value's; a value
    of the right size fills a fully fixed shape, e.g. 3 for [1, 1])."""
    tt = vi.type.tensor_type
    declared = None
    if shape is not None:
        declared = [int(d) for d in shape]
    elif tt.HasField("shape"):
        declared = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None
                    for d in tt.shape.dim]
    if declared is None:
        return arr
    if arr.ndim == len(declared) and all(d is None or d == s for d, s in zip(declared, arr.shape)):
        return arr
    if None not in declared and arr.size == int(np.prod(declared, dtype=np.int64)):
        return arr.reshape(declared)
    shown = "[" + ",".join("?" if d is None else str(d) for d in declared) + "]"
    raise ShapeError(f"--bind {name}: a value of shape {list(arr.shape)} does not fit the input's "
                     f"shape {shown}")


def bound_array(vi: onnx.ValueInfoProto, value: Any, shape: Optional[tuple] = None) -> np.ndarray:
    """The constant that input ``vi`` is bound to: ``value`` (text from the command line,
    a number, a list or an array) in the input's dtype and shape, or one ShapeError."""
    name = vi.name
    if not vi.type.HasField("tensor_type"):
        raise ShapeError(f"--bind {name}: the input is not a tensor")
    try:
        dtype = DType.from_onnx(vi.type.tensor_type.elem_type)
    except ValueError as e:
        raise ShapeError(f"--bind {name}: {e}") from None
    if isinstance(value, str):
        value = _parse_text(name, value)
    return _fit_shape(name, _as_dtype(name, value, dtype), vi, shape)


def check_names(bind: Mapping[str, Any], inputs: list[str]) -> None:
    unknown = [k for k in bind if k not in inputs]
    if unknown:
        raise ShapeError(f"--bind names {unknown}, but the model inputs are {sorted(inputs)}")


def describe(bound: Mapping[str, np.ndarray]) -> dict:
    """The manifest's record of the bindings: {name: {dtype, shape, value}}."""
    return {k: {"dtype": DType.from_numpy(a.dtype).name, "shape": list(a.shape),
                "value": a.tolist()} for k, a in bound.items()}


def drop_bound(data: Mapping[str, np.ndarray], bound: Optional[Mapping[str, Any]],
               what: str = "inputs") -> dict:
    """``data`` without the arrays of bound inputs; each such array must hold the bound
    value in every sample (stacked along axis 0, or one unstacked copy)."""
    if not bound:
        return dict(data)
    out = {}
    for k, a in data.items():
        if k not in bound:
            out[k] = a
            continue
        b = bound[k]
        want = np.asarray(b["value"] if isinstance(b, dict) else b)
        a = np.asarray(a)
        if a.ndim > want.ndim + 1 or (want.ndim and tuple(a.shape[a.ndim - want.ndim:]) != want.shape):
            raise InputDataError(f"{what}: '{k}' has shape {list(a.shape)}, but the input is bound "
                                 f"at compile time to a value of shape {list(want.shape)}")
        rows = a.reshape((-1,) + want.shape)
        if not np.all(rows == want):
            bad = rows[np.argmax(np.any((rows != want).reshape(len(rows), -1), axis=1))]
            raise InputDataError(f"{what}: '{k}' holds {bad.tolist()}, but the model was compiled "
                                 f"with --bind {k}={want.tolist()}")
    return out
