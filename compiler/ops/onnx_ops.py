"""Float ONNX ops (``onnx.*``): semantics from onnx's reference evaluator.

qcc does not re-implement ONNX: an ``onnx.X`` node runs through the op class
of ``onnx.reference`` for the graph's opset, and its output types come from
ONNX's own shape inference (``onnx.shape_inference.infer_node_outputs``), fed
with the values of constant inputs so that shape-carrying inputs (Reshape's
``shape``, Expand, Slice, Resize ...) resolve to static shapes.

``SUPPORTED`` is the list of op types qcc accepts at import.  It contains
what the foundation issue names plus the other deterministic tensor ops that
the onnx reference implements; control flow, sequences, strings, random
generators and training ops are left out on purpose, and so are ops whose
output shape depends on input values (NonZero of a non-constant, Unique,
NonMaxSuppression: a static-shape IR cannot type them).

Where ``onnx.reference`` is slow or wrong (Conv, ConvTranspose, pooling, LRN,
BatchNormalization before opset 14)
a vectorised kernel of ``onnx_fast`` runs instead; the conformance suite and
tests/conformance/test_fast_kernels.py hold both to the same expectations.
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
from .onnx_fast import fast_run

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
    # recurrent, sampling and bitwise ops whose ONNX node tests all pass (they stay float)
    "RNN", "GRU", "LSTM", "GridSample", "RoiAlign", "DeformConv", "CumProd", "SwiGLU",
    "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "BitCast",
    # scatter forms and linear attention, whose ONNX node tests all pass
    "Scatter", "TensorScatter", "LinearAttention",
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


def _ref_args(node: Node, args: list) -> list:
    """The IR holds int4/int2 unpacked in int8 arrays; onnx.reference wants the
    ml_dtypes types (CastLike, QuantizeLinear read the element type of an input)."""
    out = list(args)
    for i, v in enumerate(node.inputs):
        if v is not None and out[i] is not None and v.type.dtype in (DType.int4, DType.int2):
            import ml_dtypes

            out[i] = np.asarray(out[i]).astype(getattr(ml_dtypes, v.type.dtype.name))
    return out


def _evaluate(op_type: str, node: Node, args: list) -> tuple:
    """Raw onnx.reference results of ``node`` (implementation cached on the node)."""
    impl = node.cache.get("ref_impl")
    if impl is None:
        opset = node.opset
        proto = to_node_proto(node, opset)
        cls = _load_impl(node, op_type, opset, proto)
        impl = cls(proto, _run_params(opset))
        node.cache["ref_impl"] = impl
    res = impl.run(*_ref_args(node, args))
    return tuple(res) if isinstance(res, (tuple, list)) else (res,)


def _make_run(op_type: str):
    def run(node: Node, args: list[Optional[np.ndarray]]) -> list[np.ndarray]:
        out = []
        res = fast_run(op_type, node, args)
        if res is None:
            res = _evaluate(op_type, node, args)
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


# Function ops whose schema has no shape inference; their output has the type of input 0.
SHAPE_OF_INPUT0 = {"MeanVarianceNormalization", "GroupNormalization"}
# ops whose ``axis`` ONNX's shape inference leaves unchecked (onnxruntime rejects it)
AXIS_OF_INPUT0 = {"LayerNormalization"}


def _check_axis(op_type: str, node: Node) -> None:
    axis = node.attrs.get("axis")
    if op_type not in AXIS_OF_INPUT0 or axis is None or not node.inputs or node.inputs[0] is None:
        return
    rank = node.inputs[0].type.rank
    if not isinstance(axis, (int, np.integer)) or not -rank <= int(axis) < max(rank, 1):
        raise ShapeError(f"{op_type} node '{node.name}': axis {axis!r} is not an integer in "
                         f"[{-rank}, {rank - 1}] for its rank-{rank} input")


def _has_shape(tp) -> bool:
    return tp is not None and tp.tensor_type.HasField("shape")


def _has_static_shape(tp) -> bool:
    return _has_shape(tp) and all(d.HasField("dim_value") for d in tp.tensor_type.shape.dim)


def _infer_fallback(op_type: str, node: Node) -> Optional[list[TensorType]]:
    """Types ONNX inference leaves open but that are known at compile time.

    Function ops without a shape function (MeanVarianceNormalization,
    GroupNormalization) keep the type of input 0; Resize with
    ``keep_aspect_ratio_policy`` gets its shape from ``onnx_resize``.  A node whose
    inputs are all constants (it will be folded) has the types of its evaluated outputs;
    Compress's output shape depends on its condition only, so a constant
    condition fixes it (the data input is replaced by zeros to find the shape).
    """
    if op_type in SHAPE_OF_INPUT0:
        return [node.inputs[0].type]
    if op_type == "Resize" and all(v is None or v.is_const for v in node.inputs[1:]):
        from .onnx_resize import resize_geometry, resize_inputs

        args = [None] + [None if v is None else v.data for v in node.inputs[1:]]
        out, _, _ = resize_geometry(node, node.inputs[0].shape, *resize_inputs(node, args))
        return [TensorType(node.inputs[0].type.dtype, tuple(out))]
    consts = [v is None or v.is_const for v in node.inputs]
    if not (all(consts) or (op_type == "Compress" and all(consts[1:]))):
        return None
    args = [None if v is None else v.data if v.is_const else np.zeros(v.shape, v.type.dtype.np)
            for v in node.inputs]
    try:
        res = [np.asarray(r) for r in _evaluate(op_type, node, args)]
        return [TensorType(DType.from_numpy(r.dtype), r.shape) for r in res]
    except Exception:  # noqa: BLE001 - the caller reports the open shape
        return None
    finally:
        node.cache.pop("ref_impl", None)


POOLS = {"MaxPool", "AveragePool", "LpPool"}


def _drop_padding_windows(node: Node, t: TensorType) -> TensorType:
    """ceil_mode: a last window that would start in the end padding is dropped (ONNX
    spec and onnxruntime); onnx shape inference keeps it."""
    if (node.attrs.get("auto_pad", "NOTSET") or "NOTSET") != "NOTSET":
        return t
    x = node.inputs[0].shape[2:]
    nd = len(x)
    strides = list(node.attrs.get("strides") or [1] * nd)
    pads = list(node.attrs.get("pads") or [0] * 2 * nd)
    dims = list(t.shape)
    for i in range(nd):
        if (dims[2 + i] - 1) * strides[i] >= x[i] + pads[i]:
            dims[2 + i] -= 1
    return TensorType(t.dtype, tuple(dims))


def _out_dtype(elem_type: int, v, op_type: str, node: Node) -> DType:
    try:
        return DType.from_onnx(elem_type)
    except ValueError:
        raise ShapeError(f"output '{v.name}' of {op_type} node '{node.name}' has element type "
                         f"{onnx.TensorProto.DataType.Name(elem_type)}, which qcc's IR does not "
                         f"support (docs/ir.md lists the dtypes)") from None


def _infer_outputs(op_type: str, schema, proto, types: dict, data: dict, opset: int) -> dict:
    """onnx shape inference of one node at ``opset``.

    Quantization gives data-movement and pooling nodes integer inputs. Some schemas
    admit those types only from a later version (MaxPool takes int8 from opset 12,
    Max/Min from 12, ...): a type-constraint failure is retried with the next
    versions of the same op, whose shape rules are the same for these types; the
    first that accepts the types gives the shapes."""
    try:
        return onnx.shape_inference.infer_node_outputs(
            schema, proto, types, data, opset_imports=[helper.make_opsetid("", opset)])
    except Exception as e:  # noqa: BLE001
        if "type" not in str(e).lower():
            raise
        first = e
    seen = {schema.since_version}
    for later in range(opset + 1, onnx.defs.onnx_opset_version() + 1):
        try:
            s2 = onnx.defs.get_schema(op_type, later, "")
        except Exception:  # noqa: BLE001
            continue
        if s2.since_version in seen:
            continue
        seen.add(s2.since_version)
        try:
            return onnx.shape_inference.infer_node_outputs(
                s2, proto, types, data, opset_imports=[helper.make_opsetid("", later)])
        except Exception:  # noqa: BLE001
            continue
    raise first


def _make_infer(op_type: str):
    def infer(node: Node) -> list[TensorType]:
        opset = node.opset
        try:
            schema = onnx.defs.get_schema(op_type, opset, "")
        except Exception as e:  # noqa: BLE001
            raise QccError(f"{op_type} (node '{node.name}') has no schema at opset {opset}: {e}") from None
        _check_axis(op_type, node)
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
            res = _infer_outputs(op_type, schema, proto, types, data, opset)
        except Exception as e:  # noqa: BLE001
            raise ShapeError(f"shape inference failed for {op_type} node '{node.name}': "
                             f"{str(e).strip().splitlines()[-1]}") from None
        outs = []
        if not all(_has_static_shape(res.get(n)) for n in out_names):
            fallback = _infer_fallback(op_type, node)
            if fallback is not None:
                return fallback
        for name, v in zip(out_names, node.outputs):
            tp = res.get(name)
            if not _has_shape(tp):
                raise ShapeError(f"cannot infer a static shape for output '{v.name}' of "
                                 f"{op_type} node '{node.name}'")
            dims = []
            for d in tp.tensor_type.shape.dim:
                if not d.HasField("dim_value"):
                    raise ShapeError(f"output '{v.name}' of {op_type} node '{node.name}' has a "
                                     f"dynamic dimension; bind it with --input-shape")
                dims.append(d.dim_value)
            outs.append(TensorType(_out_dtype(tp.tensor_type.elem_type, v, op_type, node),
                                   tuple(dims)))
        if op_type in POOLS and node.attrs.get("ceil_mode"):
            outs = [_drop_padding_windows(node, t) for t in outs]
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
