"""ONNX -> IR.

Steps: load safely (file checks, protobuf errors, external data confined to
the model's folder), collect every unsupported op at once, bind dynamic
dimensions (batch -> 1, others from ``--input-shape``), then build the IR node
by node in topological order, inferring types with the op registry and folding
nodes whose inputs are all constants (this is what turns exporters'
Shape -> Gather -> Concat -> Reshape chains into static shapes).
"""

from __future__ import annotations

import os
import stat
from typing import Any, Optional

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from ..errors import ModelLoadError, QccError, ShapeError, UnsupportedOpError
from ..ir import DType, Graph, Node, TensorType, Value
from ..ir.rewrite import fold_node
from ..ops import is_registered, lookup
from ..ops.onnx_ops import SUPPORTED
from .bind import bound_array, check_names as check_bind_names, describe as describe_bound
from .control_flow import branches, check_loops, inline_if
from . import ms_attention, ms_dynamic, ms_fused  # noqa: F401  (register the onnxruntime fusions' expanders)
from .ms_qops import can_expand, expand_model
from .resize_compat import framework_sizes
from .validate import MAX_OPSET, MIN_OPSET, run_checker, tensor_bytes, validate_model  # noqa: F401


def parse_input_shapes(specs: Optional[list[str]]) -> dict[str, tuple[int, ...]]:
    """``NAME=1x3x48x192`` (repeatable) -> {name: shape}."""
    out = {}
    for spec in specs or []:
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shape = tuple(int(d) for d in dims.lower().split("x")) if dims else ()
            if any(d <= 0 for d in shape):
                raise ValueError
        except ValueError:
            raise ShapeError(f"bad --input-shape '{spec}': write NAME=DxDxD with positive "
                             f"integers, e.g. input=1x3x224x224") from None
        out[name] = shape
    return out


def load_model(path: str) -> onnx.ModelProto:
    """Read an ONNX file with clear errors and confined external data."""
    if not os.path.exists(path):
        raise ModelLoadError(f"model file '{path}' does not exist")
    if os.path.isdir(path):
        raise ModelLoadError(f"'{path}' is a folder, not an ONNX model file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ModelLoadError(f"'{path}' is not a regular file (a device, FIFO or socket); "
                             f"give an ONNX model file")
    try:
        model = onnx.load(path, load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, OSError) as e:
        raise ModelLoadError(f"'{path}' is not a valid ONNX model (truncated or not a "
                             f"protobuf ModelProto): {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise ModelLoadError(f"'{path}' is not an ONNX model: it holds no graph")
    validate_model(model, path, checker=False)  # before external data: dims, data types
    _load_external_data(model, os.path.dirname(os.path.abspath(path)), path)
    return model


def _external_bytes(t: onnx.TensorProto) -> int:
    """Bytes of ``t``'s raw data: sub-byte types are packed (two int4 per byte ...)."""
    n = 1
    for d in t.dims:
        n *= int(d)
    return tensor_bytes(t, n)


def _read_external(full: str, loc: str, t: onnx.TensorProto, info) -> bytes:
    """The tensor's bytes: offset and length checked against the file before reading."""
    size = os.path.getsize(full)
    offset = int(info.offset or 0)
    expected = _external_bytes(t)
    length = int(info.length) if info.length is not None else expected
    if offset > size or offset + length > size:
        raise ModelLoadError(f"external data '{loc}' for tensor '{t.name}' is truncated: it "
                             f"asks for {length} bytes at offset {offset}; the file holds {size}")
    if length != expected:
        raise ModelLoadError(f"external data '{loc}' for tensor '{t.name}' gives {length} "
                             f"bytes; dims {list(t.dims)} need {expected}")
    with open(full, "rb") as f:
        f.seek(offset)
        return f.read(length)


def _load_external_data(model: onnx.ModelProto, base: str, path: str) -> None:
    from onnx.external_data_helper import (ExternalDataInfo, _get_all_tensors,
                                           uses_external_data)

    base_real = os.path.realpath(base)
    for t in _get_all_tensors(model):
        if not uses_external_data(t):
            continue
        try:
            info = ExternalDataInfo(t)
        except ValueError as e:  # a negative or non-numeric offset / length
            raise ModelLoadError(f"tensor '{t.name}' of '{path}' has bad external data "
                                 f"fields: {e}") from None
        loc = info.location
        full = os.path.realpath(os.path.join(base_real, loc))
        if os.path.isabs(loc) or os.path.commonpath([full, base_real]) != base_real:
            raise ModelLoadError(f"tensor '{t.name}' of '{path}' points to external data "
                                 f"'{loc}' outside the model's folder; refusing to read it")
        if not os.path.exists(full):
            raise ModelLoadError(f"tensor '{t.name}' of '{path}' needs external data file "
                                 f"'{loc}', which does not exist next to the model")
        if not os.path.isfile(full):
            raise ModelLoadError(f"external data '{loc}' for tensor '{t.name}' is not a "
                                 f"regular file")
        raw = _read_external(full, loc, t, info)
        t.raw_data = raw
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT


def default_opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1


def find_unsupported(model: onnx.ModelProto) -> list[tuple[str, str, int]]:
    """(op_type, node name, opset) of every node qcc cannot import."""
    versions = {o.domain: o.version for o in model.opset_import}
    versions[""] = default_opset(model)
    bad = []
    for i, n in enumerate(model.graph.node):
        dom = n.domain if n.domain not in ("ai.onnx",) else ""
        name = n.name or f"#{i}"
        has_graph = any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                        for a in n.attribute)
        version = int(versions.get(dom, 0))
        if can_expand(n):  # onnxruntime's QLinearAdd, QGemm ... (ms_qops)
            continue
        if dom == "" and n.op_type == "If" and _has_schema("If", version):
            # inlined at import when its condition folds (control_flow.inline_if)
            sub = onnx.ModelProto()
            sub.opset_import.extend(model.opset_import)
            for b in branches(n):
                sub.graph.node.extend(b.node)
            bad.extend(find_unsupported(sub))
            continue
        if dom != "" or n.op_type not in SUPPORTED or has_graph \
                or not _has_schema(n.op_type, version):
            label = n.op_type if dom == "" else f"{dom}::{n.op_type}"
            bad.append((label, name, version))
    return bad


def _has_schema(op_type: str, opset: int) -> bool:
    """Whether the default domain defines ``op_type`` at ``opset`` (Gelu needs 20 ...)."""
    try:
        onnx.defs.get_schema(op_type, opset, "")
        return True
    except Exception:  # noqa: BLE001 - onnx raises SchemaError
        return False


# Models below this opset are converted up to it when onnx's converter can: opset 13 is
# the first with per-channel DequantizeLinear (the QDQ export) and the one from which
# Softmax, Split, Squeeze and the reductions take their modern form, and the
# quantizer's integer types (int8 MaxPool, Max/Min ...) are admitted from 12 on.
UPGRADE_TO = 13


def _upgrade_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """Models below opset 13 are converted up (onnx.version_converter) when possible;
    a model the converter cannot take keeps its opset (its ops run at their version)."""
    v = default_opset(model)
    if v >= UPGRADE_TO:
        return model
    # onnx's converter adapts Softmax/LogSoftmax to opset 13 but not Hardmax; a model
    # with Hardmax stops at 12 and keeps the coerced 2-D rule (see _import_legacy_2d)
    target = 12 if any(n.op_type == "Hardmax" for n in model.graph.node) else UPGRADE_TO
    if target <= v:
        return model
    try:
        converted = onnx.version_converter.convert_version(model, target)
    except Exception:  # noqa: BLE001 - keep the original; its ops still run at their version
        return model
    if v < 11:  # Resize-11 and later already default to half_pixel
        _keep_resize10_semantics(converted)
    return converted


def _keep_resize10_semantics(model: onnx.ModelProto) -> None:
    """Resize-10 and Upsample map output to input coordinates as ``x / scale`` and pick
    the nearest pixel by flooring (ceiling when the axis shrinks); the converter's
    Resize-13 would default to half_pixel / round_prefer_floor, so say it explicitly."""
    consts = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = n.attribute[0].t
    for n in model.graph.node:
        if n.op_type != "Resize" or any(a.name == "coordinate_transformation_mode"
                                        for a in n.attribute):
            continue
        n.attribute.append(onnx.helper.make_attribute("coordinate_transformation_mode",
                                                      "asymmetric"))
        scales = consts.get(n.input[2]) if len(n.input) > 2 else None
        shrink = scales is not None and \
            any(0 < s < 1 for s in onnx.numpy_helper.to_array(scales).ravel())
        if not any(a.name == "nearest_mode" for a in n.attribute):
            n.attribute.append(onnx.helper.make_attribute("nearest_mode",
                                                          "ceil" if shrink else "floor"))


def _bind_input(vi: onnx.ValueInfoProto, shapes: dict[str, tuple[int, ...]],
                hints: Optional[dict[str, tuple[int, ...]]] = None) -> TensorType:
    tt = vi.type.tensor_type
    hint = (hints or {}).get(vi.name)
    if vi.name not in shapes and hint is not None and tt.HasField("shape") \
            and len(hint) == len(tt.shape.dim):
        # dynamic dimensions taken from the data (one sample: batch 1); fixed ones stay
        shapes = {vi.name: tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                                 else (1 if i == 0 else int(h))
                                 for i, (d, h) in enumerate(zip(tt.shape.dim, hint)))}
    if not vi.type.HasField("tensor_type"):
        raise ShapeError(f"graph input '{vi.name}' is not a tensor; qcc supports tensor inputs only")
    try:
        dtype = DType.from_onnx(tt.elem_type)
    except ValueError as e:
        raise ShapeError(f"graph input '{vi.name}': {e}") from None
    if vi.name in shapes:
        shape = shapes[vi.name]
        if tt.HasField("shape"):
            dims = tt.shape.dim
            if len(dims) != len(shape):
                raise ShapeError(f"--input-shape {vi.name}: rank {len(shape)} given, the model "
                                 f"declares rank {len(dims)}")
            for i, (d, s) in enumerate(zip(dims, shape)):
                if d.HasField("dim_value") and d.dim_value >= 0 and d.dim_value != s:
                    raise ShapeError(f"--input-shape {vi.name}: dimension {i} is fixed to "
                                     f"{d.dim_value} in the model, {s} given")
        return TensorType(dtype, shape)
    if not tt.HasField("shape"):
        raise ShapeError(f"graph input '{vi.name}' has no shape; give it with "
                         f"--input-shape {vi.name}=DxDx...")
    dims = []
    for i, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value") and d.dim_value >= 0:
            # a set dim_value is static, 0 included (empty tensors); a negative one
            # (PaddlePaddle writes -1) is dynamic, as in onnxruntime
            dims.append(d.dim_value)
        elif i == 0:
            dims.append(1)  # batch defaults to 1
        else:
            sym = d.dim_param or "?"
            raise ShapeError(f"graph input '{vi.name}' has dynamic dimension {i} ('{sym}'); "
                             f"bind it with --input-shape {vi.name}=" +
                             "x".join(str(x.dim_value) if x.HasField("dim_value") and x.dim_value > 0
                                      else ("1" if j == 0 else "N") for j, x in enumerate(tt.shape.dim))
                             + (f" (the input data holds no array '{vi.name}': it has "
                                f"{sorted(hints)})" if hints is not None and vi.name not in hints
                                else ""))
    return TensorType(dtype, tuple(dims))


def _attrs(n: onnx.NodeProto) -> dict:
    out = {}
    for a in n.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode("utf-8", "replace") for x in v]
        out[a.name] = v
    return out


def import_model(model_or_path, input_shapes: Optional[dict[str, tuple[int, ...]]] = None,
                 fold: bool = True,
                 sample_shapes: Optional[dict[str, tuple[int, ...]]] = None,
                 bind: Optional[dict[str, Any]] = None) -> Graph:
    """Build an IR graph from an ONNX model (a path or a ModelProto).

    ``input_shapes`` binds dynamic dimensions (``--input-shape``); ``sample_shapes``
    (the shape of one sample of the data at hand, ``qcc run``) binds those of the
    inputs that ``input_shapes`` leaves open; ``bind`` (``--bind``) fixes inputs to
    constants (frontend/bind.py)."""
    path = model_or_path if isinstance(model_or_path, str) else "<model>"
    model, source_opset = _checked_model(model_or_path, path)
    opset = default_opset(model)
    g = model.graph
    graph = Graph(name=g.name or os.path.splitext(os.path.basename(path))[0] or "main", opset=opset)
    graph.meta["source"] = path
    graph.meta["opset"] = opset
    graph.meta["source_opset"] = source_opset  # before the conversion to UPGRADE_TO
    graph.meta["producer"] = f"{model.producer_name} {model.producer_version}".strip()

    env = _import_initializers(graph, g)
    _import_inputs(graph, env, g, dict(input_shapes or {}), sample_shapes, dict(bind or {}))
    for i, n in enumerate(_toposorted(g)):
        _import_node(graph, env, n, i, fold)

    for vo in g.output:
        if vo.name not in env:
            raise ModelLoadError(f"graph output '{vo.name}' is produced by no node")
        graph.outputs.append(env[vo.name])
    graph.drop_unused_constants()
    _verify_imported(graph)
    return graph


def _checked_model(model_or_path, path: str):
    """The model loaded (or validated), checked for unsupported ops and loops, its contrib ops
    expanded and upgraded to UPGRADE_TO; and its opset as it came."""
    if isinstance(model_or_path, str):
        model = load_model(model_or_path)
    else:
        model = model_or_path
        validate_model(model, path, checker=False)
    check_loops(model)
    bad = find_unsupported(model)
    if bad:
        raise UnsupportedOpError(bad)
    source_opset = default_opset(model)
    model = expand_model(model)
    run_checker(model, path)  # after expansion: onnx has no schemas for com.microsoft ops
    return _upgrade_opset(model), source_opset


def _import_initializers(graph: Graph, g) -> dict[str, Value]:
    """The ONNX initializers as graph constants; the name -> value map the nodes start from."""
    env: dict[str, Value] = {}
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        try:
            dt = DType.from_onnx(init.data_type)
        except ValueError as e:
            raise ModelLoadError(f"initializer '{init.name}': {e}") from None
        v = Value(init.name, TensorType(dt, arr.shape), data=arr.astype(dt.np, copy=False))
        graph.constants[init.name] = v
        env[init.name] = v
    return env


def _import_inputs(graph: Graph, env: dict, g, input_shapes: dict, sample_shapes, bind: dict) -> None:
    """The model inputs that are not initializers: graph inputs with their dynamic dimensions
    bound, or constants where ``bind`` fixes them."""
    init_names = set(env)
    real_inputs = [vi for vi in g.input if vi.name not in init_names]
    known = {vi.name for vi in real_inputs}
    unknown = [k for k in input_shapes if k not in known]
    if unknown:
        raise ShapeError(f"--input-shape names {unknown}, but the model inputs are {sorted(known)}")
    check_bind_names(bind, sorted(known))
    bound = {}
    for vi in real_inputs:
        if vi.name in bind:
            arr = bound_array(vi, bind[vi.name], input_shapes.get(vi.name))
            bound[vi.name] = env[vi.name] = Value(vi.name, TensorType(DType.from_numpy(arr.dtype), arr.shape),
                                                 data=arr)
            graph.constants[vi.name] = bound[vi.name]
            continue
        v = Value(vi.name, _bind_input(vi, input_shapes, sample_shapes))
        graph.inputs.append(v)
        env[vi.name] = v
    if bound:
        graph.meta["bound_inputs"] = describe_bound({k: v.data for k, v in bound.items()})
    graph.register_names()


def _verify_imported(graph: Graph) -> None:
    """qcc's IR verifier on the imported graph (a broken model shows up here, not in a pass)."""
    from ..errors import VerificationError
    from ..ir.verifier import verify

    try:
        verify(graph)
    except VerificationError as e:
        raise ModelLoadError(f"the imported model breaks an IR rule: {e}") from None


def _toposorted(g: onnx.GraphProto) -> list[onnx.NodeProto]:
    import networkx as nx

    producer = {}
    for i, n in enumerate(g.node):
        for o in n.output:
            if o:
                producer[o] = i
    dg = nx.DiGraph()
    dg.add_nodes_from(range(len(g.node)))
    for i, n in enumerate(g.node):
        for x in n.input:
            if x in producer:
                dg.add_edge(producer[x], i)
    try:
        order = list(nx.lexicographical_topological_sort(dg))
    except nx.NetworkXUnfeasible:
        raise ModelLoadError("the ONNX graph has a cycle") from None
    return [g.node[i] for i in order]


def _import_node(graph: Graph, env: dict[str, Value], n: onnx.NodeProto, idx: int,
                 fold: bool) -> None:
    name = n.name or (f"{n.op_type}_{n.output[0]}" if n.output and n.output[0] else f"{n.op_type}_{idx}")
    inputs = []
    for x in n.input:
        if not x:
            inputs.append(None)
        elif x not in env:
            raise ModelLoadError(f"node '{name}' ({n.op_type}) reads '{x}', which nothing produces")
        else:
            inputs.append(env[x])
    outs_names = list(n.output)
    while outs_names and not outs_names[-1]:
        outs_names.pop()
    if n.op_type == "If" and n.domain in ("", "ai.onnx"):
        outs = inline_if(graph, env, n, name, inputs, _import_node, _emit)
        for o, v in zip(n.output, outs):
            if o:
                env[o] = v
        return
    if n.op_type == "Resize":
        inputs = framework_sizes(graph, _attrs(n), inputs, name) or inputs
    if n.op_type == "Range":  # onnxruntime takes 1-element tensors for its scalars (AffineGrid's body)
        inputs = [graph.add_const(f"{v.name}.scalar", v.data.reshape(()))
                  if v is not None and v.is_const and v.type.rank > 0 and v.type.numel == 1 else v
                  for v in inputs]
    if n.op_type in LEGACY_2D_OPS and graph.opset < 13 and _legacy_2d_differs(n, inputs):
        outs = _import_legacy_2d(graph, n, name, inputs, outs_names[0], fold)
    else:
        outs = _emit(graph, n.op_type, inputs, _attrs(n), name,
                     [o or f"{name}.unused{j}" for j, o in enumerate(outs_names)], fold)
    for o, v in zip(outs_names, outs):
        if o:
            env[o] = v


def _emit(graph: Graph, op_type: str, inputs: list, attrs: dict, name: str,
          out_names: list[str], fold: bool) -> list[Value]:
    """Add one ``onnx.<op_type>`` node, infer its output types, fold it if constant."""
    placeholder = TensorType(DType.float32, ())
    outs = [Value(graph.fresh_name(o), placeholder) for o in out_names]
    node = graph.add_node(f"onnx.{op_type}", inputs, outs, attrs, name=name)
    node.opset = graph.opset
    try:
        types = lookup(node.op).infer(node)
    except QccError as e:
        raise type(e)(f"{e} (model node '{name}', opset {graph.opset})") from None
    for v, t in zip(outs, types):
        v.type = t
    if fold:
        fold_node(graph, node)  # a fold that cannot be done leaves the node (meta["unfolded"])
    return outs


# Before opset 13 these ops coerce their input to 2-D at ``axis`` (dims from
# ``axis`` on are flattened into one) and normalise over that whole block; from
# 13 on they work along the one axis.
LEGACY_2D_OPS = {"Softmax", "LogSoftmax", "Hardmax"}


def _legacy_axis(n: onnx.NodeProto, rank: int) -> int:
    axis = _attrs(n).get("axis", 1)
    return axis + rank if axis < 0 else axis


def _legacy_2d_differs(n: onnx.NodeProto, inputs: list) -> bool:
    """Whether the opset<13 (coerced 2-D) and the per-axis semantics differ here."""
    x = inputs[0]
    if x is None or x.type.rank == 0:
        return False
    return int(np.prod(x.shape[_legacy_axis(n, x.type.rank) + 1:], dtype=np.int64)) != 1


def _import_legacy_2d(graph: Graph, n: onnx.NodeProto, name: str, inputs: list,
                      out_name: str, fold: bool) -> list[Value]:
    """Softmax-family node of opset < 13 as Flatten(axis) -> op(axis=1) -> Reshape, which
    means the same under every opset, so later passes need not know the old rule."""
    x = inputs[0]
    axis = _legacy_axis(n, x.type.rank)
    flat = _emit(graph, "Flatten", [x], {"axis": axis}, f"{name}.flatten",
                 [f"{out_name}.flat"], fold)[0]
    y2 = _emit(graph, n.op_type, [flat], {"axis": 1}, name, [f"{out_name}.2d"], fold)[0]
    shape = graph.add_const(f"{out_name}.shape", np.array(x.shape, dtype=np.int64))
    return _emit(graph, "Reshape", [y2, shape], {}, f"{name}.reshape", [out_name], fold)
