"""Float ONNX ops (``onnx.*``): semantics from onnx's reference evaluator.

qcc does not re-implement ONNX: an ``onnx.X`` node runs through the op class
of ``onnx.reference`` for the graph's opset, and its output types come from
ONNX's own shape inference (``onnx.shape_inference.infer_node_outputs``), fed
with the values of constant inputs so that shape-carrying inputs (Reshape's
``shape``, Expand, Slice, Resize ...) resolve to static shapes.

``SUPPORTED`` is the list of op types qcc accepts at import.  It contains
what the foundation issue names plus the other deterministic tensor ops that
the onnx reference implements; control flow, sequences, strings, random
generators and training ops are left out on purpose.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.defs import OpSchema

from ..errors import QccError, ShapeError
from ..ir import DType, Node, TensorType
from . import OpDef, register

# Ops whose float evaluation does no arithmetic on values (data movement,
# shape queries, comparisons producing bools are still arithmetic).
DATA_MOVEMENT = {
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split",
    "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Pad", "Identity",
    "Dropout", "Shape", "Size", "Tile", "DepthToSpace", "SpaceToDepth", "MaxPool",
    "ReduceMax", "ReduceMin", "ArgMax", "ArgMin", "Relu", "Max", "Min", "Constant",
    "ConstantOfShape", "Range", "Where", "ScatterElements", "ScatterND", "Trilu",
    "Compress", "ReverseSequence", "NonZero", "TopK", "OneHot", "EyeLike",
    "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or",
    "Xor", "IsNaN", "IsInf", "Sign", "Neg", "Abs", "Clip", "CastLike", "Cast",
}

SUPPORTED = sorted({
    # the foundation list
    "Conv", "ConvTranspose", "BatchNormalization", "Gemm", "MatMul", "Add", "Sub", "Mul",
    "Div", "Pow", "Sqrt", "Exp", "Erf", "Tanh", "Sigmoid", "HardSigmoid", "HardSwish",
    "Relu", "LeakyRelu", "PRelu", "Clip", "Softmax", "LayerNormalization", "ReduceMean",
    "ReduceSum", "ReduceMax", "GlobalAveragePool", "AveragePool", "MaxPool", "Resize",
    "Concat", "Split", "Slice", "Gather", "GatherElements", "Reshape", "Flatten",
    "Transpose", "Squeeze", "Unsqueeze", "Expand", "Pad", "Cast", "Where", "Equal",
    "Greater", "Less", "Not", "And", "IsNaN", "Shape", "Range", "Constant",
    "ConstantOfShape", "Identity", "Dropout",
    "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
    # further deterministic tensor ops the onnx reference implements
    "Abs", "Neg", "Reciprocal", "Log", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos",
    "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Softplus",
    "Softsign", "Elu", "Selu", "Celu", "ThresholdedRelu", "Mish", "Gelu", "Max", "Min",
    "Mean", "Sum", "Mod", "Or", "Xor", "GreaterOrEqual", "LessOrEqual", "IsInf",
    "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceSumSquare", "ArgMax", "ArgMin", "LogSoftmax", "Hardmax", "GlobalMaxPool",
    "LpNormalization", "InstanceNormalization", "GroupNormalization",
    "LRN", "MeanVarianceNormalization", "Tile", "DepthToSpace", "SpaceToDepth",
    "GatherND", "ScatterElements", "ScatterND", "Trilu", "CumSum", "Einsum", "TopK",
    "OneHot", "EyeLike", "Size", "CastLike", "MatMulInteger", "ConvInteger",
    "DynamicQuantizeLinear", "BitShift", "Det", "Shrink", "NonZero", "Compress",
    "ReverseSequence", "Upsample", "LpPool",
})


def _run_params(opset: int) -> dict:
    from onnx.reference import ReferenceEvaluator

    return {
        "log": lambda *a: None,
        "opsets": {"": opset},
        "verbose": 0,
        "new_ops": None,
        "existing_functions": {},
        "evaluator_cls": ReferenceEvaluator,
    }


def _coerce_attr(value: Any, atype) -> Any:
    A = onnx.AttributeProto
    if atype == A.FLOAT:
        return float(value)
    if atype == A.INT:
        return int(value)
    if atype == A.FLOATS:
        return [float(x) for x in value]
    if atype == A.INTS:
        return [int(x) for x in value]
    if atype == A.STRING and isinstance(value, str):
        return value.encode()
    if atype == A.TENSOR and isinstance(value, np.ndarray):
        return numpy_helper.from_array(value)
    return value


def to_node_proto(node: Node, opset: int, in_names=None, out_names=None) -> onnx.NodeProto:
    """An ONNX NodeProto for ``node`` with attribute types coerced by the schema."""
    op_type = node.op_type
    try:
        schema = onnx.defs.get_schema(op_type, opset, "")
        atypes = {k: a.type for k, a in schema.attributes.items()}
    except Exception:  # noqa: BLE001 - unknown schema: keep python types
        atypes = {}
    attrs = {}
    for k, v in node.attrs.items():
        if v is None:
            continue
        if k in atypes:
            v = _coerce_attr(v, atypes[k])
        elif isinstance(v, np.ndarray):
            v = numpy_helper.from_array(v)
        attrs[k] = v
    ins = in_names if in_names is not None else [v.name if v is not None else "" for v in node.inputs]
    outs = out_names if out_names is not None else [v.name for v in node.outputs]
    return helper.make_node(op_type, ins, outs, name=node.name, **attrs)


def _load_impl(node: Node, op_type: str, opset: int, proto: onnx.NodeProto):
    """The onnx.reference class for ``op_type`` at ``opset``.

    Ops that ONNX defines as functions (HardSwish, Mish, Gelu, GroupNormalization
    ...) run their function body, which needs the evaluator class and, for
    context-dependent functions, the node and its input types.  A few ops are
    implemented only from a later version on (DequantizeLinear from 19); the later
    versions extend the older semantics (more types, blocking), so the oldest
    implementation above ``opset`` is used.
    """
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.ops import load_op

    types = [type_proto(v.type) if v is not None else onnx.TypeProto() for v in node.inputs]
    try:
        return load_op("", op_type, opset, node=proto, input_types=types,
                       evaluator_cls=ReferenceEvaluator)
    except RuntimeError:
        for later in range(opset + 1, onnx.defs.onnx_opset_version() + 1):
            try:
                return load_op("", op_type, later)
            except RuntimeError:
                continue
        raise


def _make_run(op_type: str):
    def run(node: Node, args: list[Optional[np.ndarray]]) -> list[np.ndarray]:
        impl = node.cache.get("ref_impl")
        if impl is None:
            from onnx.reference.ops import load_op

            opset = node.opset
            proto = to_node_proto(node, opset)
            cls = _load_impl(node, op_type, opset, proto)
            impl = cls(proto, _run_params(opset))
            node.cache["ref_impl"] = impl
        res = impl.run(*args)
        if not isinstance(res, (tuple, list)):
            res = (res,)
        out = []
        for r, v in zip(res, node.outputs):
            r = np.asarray(r)
            if v.type.dtype.np != r.dtype and v.type.dtype.np != np.object_:
                r = r.astype(v.type.dtype.np)
            out.append(r)
        return out

    return run


def type_proto(t: TensorType) -> onnx.TypeProto:
    onnx_t = t.dtype.onnx
    return helper.make_tensor_type_proto(onnx_t, list(t.shape))


def _make_infer(op_type: str):
    def infer(node: Node) -> list[TensorType]:
        opset = node.opset
        try:
            schema = onnx.defs.get_schema(op_type, opset, "")
        except Exception as e:  # noqa: BLE001
            raise QccError(f"{op_type} (node '{node.name}') has no schema at opset {opset}: {e}") from None
        in_names = [f"in{i}" if v is not None else "" for i, v in enumerate(node.inputs)]
        out_names = [f"out{i}" for i in range(len(node.outputs))]
        proto = to_node_proto(node, opset, in_names, out_names)
        types, data = {}, {}
        for name, v in zip(in_names, node.inputs):
            if v is None:
                continue
            types[name] = type_proto(v.type)
            if v.is_const and v.type.numel <= 1 << 16 and v.type.dtype is not DType.string:
                data[name] = numpy_helper.from_array(v.data, name)
        try:
            res = onnx.shape_inference.infer_node_outputs(
                schema, proto, types, data,
                opset_imports=[helper.make_opsetid("", opset)])
        except Exception as e:  # noqa: BLE001
            raise ShapeError(f"shape inference failed for {op_type} node '{node.name}': "
                             f"{str(e).strip().splitlines()[-1]}") from None
        outs = []
        for name, v in zip(out_names, node.outputs):
            tp = res.get(name)
            if tp is None or not tp.tensor_type.HasField("shape"):
                raise ShapeError(f"cannot infer a static shape for output '{v.name}' of "
                                 f"{op_type} node '{node.name}'")
            dims = []
            for d in tp.tensor_type.shape.dim:
                if not d.HasField("dim_value"):
                    raise ShapeError(f"output '{v.name}' of {op_type} node '{node.name}' has a "
                                     f"dynamic dimension; bind it with --input-shape")
                dims.append(d.dim_value)
            outs.append(TensorType(DType.from_onnx(tp.tensor_type.elem_type), tuple(dims)))
        return outs

    return infer


def _register_all() -> None:
    for op_type in SUPPORTED:
        register(OpDef(
            name=f"onnx.{op_type}",
            infer=_make_infer(op_type),
            run=_make_run(op_type),
            family="onnx",
            doc=f"ONNX {op_type} (semantics: onnx.reference, types: onnx shape inference)",
            float_arith=op_type not in DATA_MOVEMENT,
        ))


_register_all()
