"""Validation of an ONNX model before import: every broken rule becomes one line.

The importer calls :func:`validate_model` right after reading a model.  It runs,
in this order, so that the first message names the real culprit:

1. names: invalid UTF-8 in a name is accepted (onnxruntime accepts it too) and
   shown with ``\\x..`` escapes, so every later message can print it;
2. the header: ``ir_version`` and the default-domain opset (one that onnx defines;
   qcc is tested on 11-21, older models are upgraded by the importer);
3. every initializer: a known data type, no negative dims, and raw or typed data
   whose size matches its dims (checked before numpy reshapes anything);
4. single assignment: a tensor produced twice, a node name used twice;
5. attribute values the ONNX schemas only describe in prose (``auto_pad``);
6. ``onnx.checker.check_model`` then strict shape inference (what ``full_check=True``
   runs): schema, attribute types, shapes, on a topologically sorted copy (qcc sorts
   nodes itself).  Inference errors inside a function op's expanded body are not
   held against the model (onnx's own node tests, e.g. MeanVarianceNormalization,
   trip on them).
"""

from __future__ import annotations

import numpy as np
import onnx

from ..errors import ModelLoadError

MIN_OPSET, MAX_OPSET = 11, 21
_CHECKER_MAX_BYTES = 2_000_000_000  # the checker serializes the model (2 GiB protobuf limit)
_AUTO_PAD = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}


def validate_model(model: onnx.ModelProto, path: str = "<model>", checker: bool = True) -> None:
    """Raise :class:`ModelLoadError` naming the first broken rule; fix names in place.

    ``checker=False`` skips step 6: the importer runs :func:`run_checker` after it has
    listed unsupported ops, which say more than a schema complaint about them."""
    fix_names(model)
    _check_header(model, path)
    if not model.graph.output:
        raise ModelLoadError(f"'{path}' declares no graph outputs: there is nothing to compute")
    for t in model.graph.initializer:
        check_initializer(t, f"initializer '{t.name}'")
    _check_value_types(model.graph)
    _check_single_assignment(model.graph)
    _check_attribute_values(model.graph)
    if checker:
        run_checker(model, path)


# ----------------------------------------------------------------------- names
def _text(v) -> str:
    return v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v


def fix_names(model: onnx.ModelProto) -> None:
    """Names holding invalid UTF-8 come back from protobuf as ``bytes``; store them as
    escaped text (the same bytes always give the same text, so links stay intact)."""
    def graph(g: onnx.GraphProto) -> None:
        g.name = _text(g.name)
        for vi in (*g.input, *g.output, *g.value_info):
            vi.name = _text(vi.name)
        for t in g.initializer:
            t.name = _text(t.name)
        for n in g.node:
            n.name = _text(n.name)
            n.op_type = _text(n.op_type)
            n.domain = _text(n.domain)
            n.input[:] = [_text(x) for x in n.input]
            n.output[:] = [_text(x) for x in n.output]
            for a in n.attribute:
                a.name = _text(a.name)
                if a.HasField("g"):
                    graph(a.g)
                for sub in a.graphs:
                    graph(sub)

    graph(model.graph)


# ---------------------------------------------------------------------- header
def _check_header(model: onnx.ModelProto, path: str) -> None:
    if not 3 <= model.ir_version <= onnx.IR_VERSION:
        raise ModelLoadError(f"'{path}' has ir_version {model.ir_version}; this onnx reads "
                             f"ir_version 3 to {onnx.IR_VERSION}")
    seen = set()
    for o in model.opset_import:
        dom = "" if o.domain == "ai.onnx" else o.domain
        if dom in seen:
            raise ModelLoadError(f"'{path}' imports opset domain '{o.domain}' twice")
        seen.add(dom)
        newest = onnx.defs.onnx_opset_version()
        if dom == "" and not 1 <= o.version <= newest:
            raise ModelLoadError(f"'{path}' uses opset {o.version}; the ONNX opsets are 1 to "
                                 f"{newest} (qcc is tested on {MIN_OPSET}-{MAX_OPSET}; older "
                                 f"ones are upgraded)")


# ------------------------------------------------------------------ initializers
def tensor_bytes(t: onnx.TensorProto, n: int) -> int:
    """Bytes that ``n`` elements of ``t``'s type take as raw data (sub-byte types packed)."""
    bits = {onnx.TensorProto.INT4: 4, onnx.TensorProto.UINT4: 4}
    for name, b in (("INT2", 2), ("UINT2", 2), ("FLOAT4E2M1", 4)):
        if hasattr(onnx.TensorProto, name):
            bits[getattr(onnx.TensorProto, name)] = b
    if t.data_type in bits:
        return (n * bits[t.data_type] + 7) // 8
    return n * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize


_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data",
                 "uint64_data")


def _check_value_types(g: onnx.GraphProto) -> None:
    """Graph inputs, outputs and value_info: an element type ONNX defines (or none)."""
    known = set(onnx.helper.get_all_tensor_dtypes())
    for kind, infos in (("graph input", g.input), ("graph output", g.output),
                        ("value_info", g.value_info)):
        for vi in infos:
            if vi.type.HasField("tensor_type"):
                et = vi.type.tensor_type.elem_type
                if et != onnx.TensorProto.UNDEFINED and et not in known:
                    raise ModelLoadError(f"{kind} '{vi.name}' has element type {et}, which "
                                         f"ONNX does not define")


def check_initializer(t: onnx.TensorProto, what: str) -> None:
    """Data type known, dims non-negative, data size equal to the product of dims."""
    if t.data_type == onnx.TensorProto.UNDEFINED or \
            t.data_type not in onnx.helper.get_all_tensor_dtypes():
        raise ModelLoadError(f"{what} has data type {t.data_type}, which ONNX does not define")
    if any(d < 0 for d in t.dims):
        raise ModelLoadError(f"{what} has negative dims {list(t.dims)}")
    n = 1
    for d in t.dims:
        n *= int(d)
    if t.data_location == onnx.TensorProto.EXTERNAL:
        return  # its size is checked when the external data is read
    if t.data_type == onnx.TensorProto.STRING:
        got, want = len(t.string_data), n
    elif t.HasField("raw_data"):
        got, want = len(t.raw_data), tensor_bytes(t, n)
    else:
        fields = [f for f in _TYPED_FIELDS if len(getattr(t, f))]
        if not fields:
            got = 0
        else:
            got = len(getattr(t, fields[0]))
        want = _typed_count(t, n)
    if got != want:
        raise ModelLoadError(f"{what} declares dims {list(t.dims)} of "
                             f"{onnx.TensorProto.DataType.Name(t.data_type)} ({want} "
                             f"{'bytes' if t.HasField('raw_data') else 'values'}) but holds {got}")


def _typed_count(t: onnx.TensorProto, n: int) -> int:
    """Entries of the typed field that ``n`` elements fill (complex: 2 each; 4-bit types
    are packed two per int32 entry)."""
    T = onnx.TensorProto
    if t.data_type in (T.COMPLEX64, T.COMPLEX128):
        return 2 * n
    if t.data_type in (T.INT4, T.UINT4):
        return (n + 1) // 2
    return n


# ------------------------------------------------------------- single assignment
def _check_single_assignment(g: onnx.GraphProto) -> None:
    producer: dict[str, str] = {}
    for t in g.initializer:
        if t.name in producer:
            raise ModelLoadError(f"initializer '{t.name}' is defined twice")
        producer[t.name] = f"initializer '{t.name}'"
    inits = set(producer)
    for vi in g.input:
        if vi.name not in inits:
            if vi.name in producer:
                raise ModelLoadError(f"graph input '{vi.name}' is declared twice")
            producer[vi.name] = f"graph input '{vi.name}'"
    names: dict[str, int] = {}
    for i, n in enumerate(g.node):
        label = f"node '{n.name}' ({n.op_type})" if n.name else f"node #{i} ({n.op_type})"
        if n.name:
            if n.name in names:
                raise ModelLoadError(f"node name '{n.name}' is used by nodes #{names[n.name]} "
                                     f"and #{i}; ONNX node names must be unique")
            names[n.name] = i
        for o in n.output:
            if not o:
                continue
            if o in producer:
                raise ModelLoadError(f"tensor '{o}' is produced twice: by {producer[o]} and by "
                                     f"{label}; ONNX graphs assign each name once")
            producer[o] = label
    for i, n in enumerate(g.node):
        for x in n.input:
            if x and x not in producer:
                label = f"node '{n.name}' ({n.op_type})" if n.name else f"node #{i} ({n.op_type})"
                raise ModelLoadError(f"{label} reads '{x}', which nothing produces")
    outs = [vo.name for vo in g.output]
    for o in outs:
        if o not in producer:
            raise ModelLoadError(f"graph output '{o}' is produced by no node")
    dup = sorted({o for o in outs if outs.count(o) > 1})
    if dup:
        raise ModelLoadError(f"graph output '{dup[0]}' is listed {outs.count(dup[0])} times")


def _check_attribute_values(g: onnx.GraphProto) -> None:
    for i, n in enumerate(g.node):
        for a in n.attribute:
            if a.name == "auto_pad" and a.type == onnx.AttributeProto.STRING:
                v = _text(a.s)
                if v not in _AUTO_PAD:
                    raise ModelLoadError(f"node '{n.name or '#%d' % i}' ({n.op_type}): auto_pad "
                                         f"'{v}' is none of {sorted(_AUTO_PAD)}")


# ---------------------------------------------------------------------- checker
def run_checker(model: onnx.ModelProto, path: str) -> None:
    if model.ByteSize() > _CHECKER_MAX_BYTES:
        return  # too large for the in-memory checker; the rules above still ran
    probe = _checkable_copy(model)
    if probe is None:
        return
    try:
        onnx.checker.check_model(probe)
        onnx.shape_inference.infer_shapes(probe, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, ValueError) as e:
        msg = " ".join(str(e).split())
        if msg.count("Inference error(s)") > 1:
            return  # inside a function op's body: onnx's own node tests trip on these
        raise ModelLoadError(f"'{path}' breaks an ONNX rule (onnx.checker): {msg[:400]}") from None


def _shapeless(g: onnx.GraphProto) -> list:
    return [vi for vi in (*g.input, *g.output)
            if vi.type.HasField("tensor_type") and not vi.type.tensor_type.HasField("shape")]


def _checkable_copy(model: onnx.ModelProto) -> onnx.ModelProto:
    """Nodes sorted topologically, negative input dims made symbolic (qcc treats them as
    dynamic), graph outputs without a shape given the inferred one; None when that fails."""
    order = _topo_order(model.graph)
    if order is None:
        raise ModelLoadError("the ONNX graph has a cycle")
    neg = any(d.HasField("dim_value") and d.dim_value < 0
              for vi in model.graph.input for d in vi.type.tensor_type.shape.dim)
    shapeless = _shapeless(model.graph)
    if order == list(range(len(order))) and not neg and not shapeless:
        return model
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    nodes = [probe.graph.node[i] for i in order]
    copies = [onnx.NodeProto() for _ in nodes]
    for c, n in zip(copies, nodes):
        c.CopyFrom(n)
    del probe.graph.node[:]
    probe.graph.node.extend(copies)
    for vi in probe.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_value") and d.dim_value < 0:
                d.dim_param = f"neg_{vi.name}"
    if shapeless:  # onnxruntime reads graph outputs without a shape; the checker does not
        try:
            probe = onnx.shape_inference.infer_shapes(probe)
        except Exception:  # noqa: BLE001 - the strict check below reports it
            pass
        if _shapeless(probe.graph):
            return None  # nothing to check it against; qcc's own rules ran
    return probe


def _topo_order(g: onnx.GraphProto):
    """Kahn's order keeping the file order among ready nodes; None on a cycle."""
    producer = {o: i for i, n in enumerate(g.node) for o in n.output if o}
    deps = [{producer[x] for x in n.input if x in producer} for n in g.node]
    users: dict[int, list[int]] = {}
    for i, d in enumerate(deps):
        for j in d:
            users.setdefault(j, []).append(i)
    import heapq

    left = [len(d) for d in deps]
    ready = [i for i, c in enumerate(left) if c == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users.get(i, ()):
            left[u] -= 1
            if left[u] == 0:
                heapq.heappush(ready, u)
    return order if len(order) == len(g.node) else None
