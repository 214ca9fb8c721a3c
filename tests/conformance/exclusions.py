"""Node test cases that are outside qcc's IR, each with the reason.

Rules (checked in order) rather than a list of names, so that a new onnx
release's cases fall under the same reasons; ``BY_NAME`` holds the few cases
that no rule covers.
"""

from __future__ import annotations

import onnx

from qcc.ir import DType

# case name -> reason, for cases no rule below covers
BY_NAME: dict[str, str] = {
    "test_nonzero_example": "NonZero of a graph input: the output shape depends on the "
                            "input values, which a static-shape IR cannot bind",
}


def _elem_types(model: onnx.ModelProto):
    for vi in list(model.graph.input) + list(model.graph.output):
        yield vi.name, vi.type
    for n in model.graph.node:
        for a in n.attribute:
            if a.name == "to" and a.type == onnx.AttributeProto.INT:
                yield n.name or n.op_type, onnx.TypeProto(
                    tensor_type=onnx.TypeProto.Tensor(elem_type=a.i))


def _dtype_name(t: int) -> str:
    return onnx.TensorProto.DataType.Name(t)


def excluded_reason(case) -> str:
    """Why ``case`` cannot run on qcc's IR, or '' when it should."""
    if case.name in BY_NAME:
        return BY_NAME[case.name]
    for name, tp in _elem_types(case.model):
        kind = tp.WhichOneof("value")
        if kind != "tensor_type":
            return f"{kind.replace('_type', '')} values are outside the IR (tensors only)"
        try:
            DType.from_onnx(tp.tensor_type.elem_type)
        except ValueError:
            return (f"element type {_dtype_name(tp.tensor_type.elem_type)} is not an IR "
                    f"dtype")
    return ""
