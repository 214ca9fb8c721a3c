"""Lowering rules for ONNX ops on raw integer and bool tensors: comparisons, logic,
bitwise ops, integer Add/Sub/Mul, Not, Where and integer Cast (:class:`Logic` calls).

These are what attention masks are made of (``Equal(mask, 0) -> Not -> Cast(int8)``
feeding ``qcc.isoftmax``, torch's masked_fill and scaled_dot_product_attention
exports).  Values are the tensors' raw integers, as the interpreter computes
them (numpy semantics: comparisons give bool, integer arithmetic and Cast wrap
around); bool is stored as one byte 0/1.
"""

from __future__ import annotations

from qcc.ir import DType, Node

from .kernels import Logic
from .program import Lowerer
from .shapes import broadcast_strides, fold_dims

BINARY = {"onnx.Equal": "equal", "onnx.Less": "less", "onnx.LessOrEqual": "less_equal",
          "onnx.Greater": "greater", "onnx.GreaterOrEqual": "greater_equal", "onnx.And": "and",
          "onnx.Or": "or", "onnx.Xor": "xor", "onnx.BitwiseAnd": "bitwise_and",
          "onnx.BitwiseOr": "bitwise_or", "onnx.BitwiseXor": "bitwise_xor", "onnx.Add": "add",
          "onnx.Sub": "sub", "onnx.Mul": "mul"}
UNARY = {"onnx.Not": "not", "onnx.BitwiseNot": "bitwise_not"}
INT_DTYPES = (DType.int8, DType.uint8, DType.int16, DType.int32, DType.int64, DType.bool)


def integer_operands(node: Node) -> bool:
    """True when every input and output of ``node`` is an integer or bool tensor."""
    vals = [v for v in list(node.inputs) + list(node.outputs) if v is not None]
    return all(v.dtype in INT_DTYPES for v in vals)


def _check(lw: Lowerer, node: Node) -> None:
    for v in [v for v in node.inputs if v is not None] + list(node.outputs):
        if v.dtype not in INT_DTYPES:
            raise lw.err(
                f"{node.op} node '{node.name}' has tensor '{v.name}' of dtype {v.dtype.name}; "
                f"the logic kernel takes int8/uint8/int16/int32/int64/bool (a float "
                f"{node.op.split('.')[-1]} left after quantization has no kernel)")


def emit_logic(lw: Lowerer, node: Node, op: str, operands: list) -> None:
    out = node.outputs[0]
    strides = [broadcast_strides(v.shape, out.shape) for v in operands]
    strides += [[0] * out.type.rank] * (3 - len(operands))
    d, (sa, sb, sc) = fold_dims(lw, out.shape, strides, 4, f"{node.op} node '{node.name}'")
    ops = [lw.read(v) for v in operands] + [None] * (3 - len(operands))
    same = next((v for v in operands if not v.is_const and v.shape == out.shape
                 and v.dtype.bits == out.dtype.bits), None)
    lw.call(Logic(node=node, op=op, a=ops[0], b=ops[1], c=ops[2], y=out, dims=d, sa=sa, sb=sb,
                  sc=sc), inplace_of=same)


def logic(lw: Lowerer, node: Node) -> None:
    _check(lw, node)
    op = BINARY.get(node.op, UNARY.get(node.op))
    emit_logic(lw, node, op, list(node.inputs[:1 if node.op in UNARY else 2]))


def integer_arith(lw: Lowerer, node: Node) -> None:
    """onnx.Add/Sub/Mul on integer tensors (wrap around)."""
    _check(lw, node)
    emit_logic(lw, node, BINARY[node.op], list(node.inputs[:2]))


def integer_cast(lw: Lowerer, node: Node) -> None:
    """onnx.Cast between integer/bool dtypes."""
    _check(lw, node)
    x, out = node.inputs[0], node.outputs[0]
    op = "to_bool" if out.dtype is DType.bool and x.dtype is not DType.bool else "cast"
    emit_logic(lw, node, op, [x])


def where(lw: Lowerer, node: Node) -> None:
    _check(lw, node)
    if node.inputs[0].dtype is not DType.bool:
        raise lw.err(f"Where node '{node.name}' condition '{node.inputs[0].name}' is "
                     f"{node.inputs[0].dtype.name}, not bool")
    emit_logic(lw, node, "where", list(node.inputs[:3]))


RULES = {**{op: logic for op in BINARY if op not in ("onnx.Add", "onnx.Sub", "onnx.Mul")},
         **{op: logic for op in UNARY}, "onnx.Where": where}
