"""Helpers for the integer op tests: one-node graphs and exact references."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from qcc import arith
from qcc.interp import Interpreter
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
from qcc.ops import infer_types


def run_op(op: str, args: list, attrs: Optional[dict] = None, consts=(), dtypes=None):
    """Build a one-node graph (inputs at positions ``consts`` are constants,
    ``None`` is an omitted input), verify it and run the interpreter."""
    g = Graph("t")
    vals, feeds = [], {}
    for i, a in enumerate(args):
        if a is None:
            vals.append(None)
            continue
        a = np.asarray(a)
        dt = (dtypes or {}).get(i) or DType.from_numpy(a.dtype)
        if i in consts:
            vals.append(g.add_const(f"c{i}", a, dt))
        else:
            v = g.add_input(f"in{i}", TensorType(dt, a.shape))
            vals.append(v)
            feeds[v.name] = a
    out = g.new_value("y", TensorType(DType.int8, ()))
    node = g.add_node(op, vals, [out], attrs or {})
    out.type = infer_types(node)[0]
    g.outputs.append(out)
    verify(g)
    y = Interpreter(g).run(feeds)["y"]
    assert y.dtype == out.type.dtype.np and y.shape == out.type.shape
    return y


def ref_round(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def ref_requant(acc: int, m: int, s: int, zp: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, ref_round(Fraction(int(acc) * int(m), 1 << int(s))) + int(zp)))


def ref_requant_array(acc: np.ndarray, m, s, zp, lo, hi, axis: Optional[int] = None) -> np.ndarray:
    """Elementwise exact reference; per-channel ``m``/``s`` indexed on ``axis``."""
    m, s = np.atleast_1d(m), np.atleast_1d(s)
    out = np.empty(acc.shape, np.int64)
    for idx in np.ndindex(*acc.shape):
        c = idx[axis] if axis is not None and m.size > 1 else 0
        out[idx] = ref_requant(int(acc[idx]), int(m[c]), int(s[c]), zp, lo, hi)
    return out


def mults(rng: np.random.Generator, n: int, lo: float = 1e-4, hi: float = 0.5):
    """Per-channel multipliers from random real factors (log-uniform)."""
    r = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    return arith.quantize_multiplier(r)


def onnx_run(op_type: str, inputs: dict, attrs: dict, out_elem=TensorProto.DOUBLE,
             init=None, opset: int = 21, ort: bool = False) -> np.ndarray:
    """Run one ONNX node through onnx.reference or onnxruntime (independent implementations)."""
    init = list((init or {}).items()) if isinstance(init, (dict, type(None))) else list(init)
    names = list(inputs) + [k for k, _ in init]
    vi = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
          for k, v in inputs.items()]
    node = helper.make_node(op_type, [k if k else "" for k in names], ["y"], **attrs)
    g = helper.make_graph([node], "g", vi, [helper.make_tensor_value_info("y", out_elem, None)],
                          [numpy_helper.from_array(v, k) for k, v in init if k])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    if ort:
        import onnxruntime

        sess = onnxruntime.InferenceSession(model.SerializeToString(),
                                            providers=["CPUExecutionProvider"])
        return sess.run(None, inputs)[0]
    return ReferenceEvaluator(model).run(None, inputs)[0]


def float_requant_ref(real: np.ndarray, s_y: float, zp: int, lo: int, hi: int) -> np.ndarray:
    """The float model's quantized output: round(real / s_y) + zp, clamped."""
    return np.clip(np.rint(real / s_y) + zp, lo, hi).astype(np.int64)


def conv2d_ref(xc: np.ndarray, w: np.ndarray, strides, pads, dil, group) -> np.ndarray:
    """Direct-definition conv on centered int64 input (python-level loops)."""
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = strides, pads, dil
    n, c, h, wd = xc.shape
    m, cg, kh, kw = w.shape
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    mg = m // group
    out = np.zeros((n, m, oh, ow), np.int64)
    for o in range(m):
        g = o // mg
        for i in range(oh):
            for j in range(ow):
                total = np.zeros(n, np.int64)
                for ci in range(cg):
                    for u in range(kh):
                        for v in range(kw):
                            y, x = i * sh + u * dh - pt, j * sw + v * dw - pl
                            if 0 <= y < h and 0 <= x < wd:
                                total += xc[:, g * cg + ci, y, x] * int(w[o, ci, u, v])
                out[:, o, i, j] = total
    return out
