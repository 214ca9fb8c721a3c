"""Lowering rules for ONNX ops on raw integer and bool tensors: comparisons, logic,
bitwise ops, integer Add/Sub/Mul, Not, Where and integer Cast (``qcc_logic``).

These are what attention masks are made of (``Equal(mask, 0) -> Not -> Cast(int8)``
feeding ``qcc.isoftmax``, torch's masked_fill and scaled_dot_product_attention
exports).  Values are the tensors' raw integers, as the interpreter computes
them (numpy semantics: comparisons give bool, integer arithmetic and Cast wrap
around); bool is stored as one byte 0/1.  Float forms of the same ops are not
lowered here (Cast/Add/Sub/Mul ending in ``qcc.quantize`` are threshold chains,
see ``rules_tf``).
"""

from __future__ import annotations

from qcc.errors import LoweringError
from qcc.ir import DType, Node

from .lower import NULL, Lowerer
from .program import dtype_code, rule
from .rules_elem import broadcast_strides, fold_dims

BINARY = {"onnx.Equal": 0, "onnx.Less": 1, "onnx.LessOrEqual": 2, "onnx.Greater": 3,
          "onnx.GreaterOrEqual": 4, "onnx.And": 5, "onnx.Or": 6, "onnx.Xor": 7,
          "onnx.BitwiseAnd": 8, "onnx.BitwiseOr": 9, "onnx.BitwiseXor": 10,
          "onnx.Add": 11, "onnx.Sub": 12, "onnx.Mul": 13}
UNARY = {"onnx.Not": 14, "onnx.BitwiseNot": 15}
CAST, TO_BOOL, WHERE = 16, 17, 18
INT_DTYPES = (DType.int8, DType.uint8, DType.int16, DType.int32, DType.int64, DType.bool)


def integer_operands(node: Node) -> bool:
    """True when every input and output of ``node`` is an integer or bool tensor C can hold."""
    vals = [v for v in list(node.inputs) + list(node.outputs) if v is not None]
    return all(v.dtype in INT_DTYPES for v in vals)


def _check(node: Node) -> None:
    for v in [v for v in node.inputs if v is not None] + list(node.outputs):
        if v.dtype not in INT_DTYPES:
            raise LoweringError(
                f"target c: {node.op} node '{node.name}' has tensor '{v.name}' of dtype "
                f"{v.dtype.name}; the C kernel takes int8/uint8/int16/int32/int64/bool "
                f"(a float {node.op.split('.')[-1]} left after quantization has no C kernel)")


def emit_logic(lw: Lowerer, node: Node, op: int, operands: list) -> None:
    out = node.outputs[0]
    strides = [broadcast_strides(v.shape, out.shape) for v in operands]
    strides += [[0] * out.type.rank] * (3 - len(operands))
    d, (sa, sb, sc) = fold_dims(out.shape, strides, 4, f"{node.op} node '{node.name}'")
    codes = [dtype_code(v.dtype) for v in operands] + ["QCC_I8"] * (3 - len(operands))
    params = dict(d=d, sa=sa, sb=sb, sc=sc, op=op, a_dt=codes[0], b_dt=codes[1], c_dt=codes[2],
                  y_dt=dtype_code(out.dtype))
    args = [lw.read(v, "void") for v in operands] + [NULL] * (3 - len(operands))
    same = next((v for v in operands if not v.is_const and v.shape == out.shape
                 and v.dtype.bits == out.dtype.bits), None)
    lw.step(node, "logic", "qcc_logic", "qcc_logic_p", params, args + [lw.write(out, "void")],
            inplace_of=same)


@rule(*[op for op in BINARY if op not in ("onnx.Add", "onnx.Sub", "onnx.Mul")], *UNARY)
def logic(lw: Lowerer, node: Node) -> None:
    _check(node)
    op = BINARY.get(node.op, UNARY.get(node.op))
    emit_logic(lw, node, op, list(node.inputs[:1 if node.op in UNARY else 2]))


def integer_arith(lw: Lowerer, node: Node) -> None:
    """onnx.Add/Sub/Mul on integer tensors (wrap around); called by the Add/Sub/Mul rule."""
    _check(node)
    emit_logic(lw, node, BINARY[node.op], list(node.inputs[:2]))


def integer_cast(lw: Lowerer, node: Node) -> None:
    """onnx.Cast between integer/bool dtypes; called by the Cast rule."""
    _check(node)
    x, out = node.inputs[0], node.outputs[0]
    op = TO_BOOL if out.dtype is DType.bool and x.dtype is not DType.bool else CAST
    emit_logic(lw, node, op, [x])


@rule("onnx.Where")
def where(lw: Lowerer, node: Node) -> None:
    _check(node)
    if node.inputs[0].dtype is not DType.bool:
        raise LoweringError(f"target c: Where node '{node.name}' condition "
                            f"'{node.inputs[0].name}' is {node.inputs[0].dtype.name}, not bool")
    emit_logic(lw, node, WHERE, list(node.inputs[:3]))
