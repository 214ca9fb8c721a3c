"""Lowering of ``qcc.threshold`` (a monotone step function of an integer tensor, made by
the ``lower-thresholds`` pass from a quantized float chain) and of the ONNX ops such
chains are made of: on integer tensors Cast/Add/Sub/Mul are raw-integer logic calls; a
float one left in the graph has no kernel (the integer program has no float)."""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Node

from .kernels import Threshold
from .program import Lowerer
from .rules_logic import integer_arith, integer_cast, integer_operands

CHAIN_OPS = ("onnx.Cast", "onnx.Add", "onnx.Sub", "onnx.Mul", "onnx.Div", "onnx.Neg")


def elementwise(lw: Lowerer, node: Node) -> None:
    out = node.outputs[0]
    if node.op in ("onnx.Cast", "onnx.Add", "onnx.Sub", "onnx.Mul") and integer_operands(node):
        (integer_cast if node.op == "onnx.Cast" else integer_arith)(lw, node)
        return
    if not out.dtype.is_float:
        raise lw.err(f"{node.op} node '{node.name}' on integer tensors has no kernel "
                     f"(output '{out.name}' {out.dtype.name})")
    raise lw.err(f"float {node.op} node '{node.name}' has no kernel: the integer program has "
                 f"no float (a float chain on an integer tensor is lowered only when a "
                 f"qcc.quantize ends it, by the lower-thresholds pass)")


def quantize(lw: Lowerer, node: Node) -> None:
    """A quantize inside the program (the boundary ones are the program's inputs)."""
    v = node.inputs[0]
    what = "a graph input" if v.producer is None else f"{v.producer.op} '{v.producer.name}'"
    raise lw.err(f"qcc.quantize node '{node.name}' quantizes float '{v.name}' made by {what}; "
                 f"the integer program has no float (only a float chain of elementwise "
                 f"Cast/Add/Sub/Mul/Div/Neg on an integer tensor is lowered, to qcc.threshold "
                 f"by the lower-thresholds pass)")


def threshold(lw: Lowerer, node: Node) -> None:
    x, t, v = node.inputs
    ts = np.asarray(t.data, np.int64).ravel()
    tt = lw.table(f"{node.name}.thresholds", ts if ts.size else np.zeros(1, np.int64),
                  DType.int64)
    tv = lw.table(f"{node.name}.values", np.asarray(v.data, np.int32))
    lw.call(Threshold(node=node, x=lw.read(x), thresholds=tt, values=tv, y=node.outputs[0],
                      count=node.outputs[0].type.numel, nt=int(ts.size)))


RULES = {**{op: elementwise for op in CHAIN_OPS}, "qcc.threshold": threshold,
         "qcc.quantize": quantize}
