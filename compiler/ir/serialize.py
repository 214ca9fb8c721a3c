"""Save and load an IR graph: the text form plus a companion ``.npz``.

``save(graph, "model.qcc")`` writes ``model.qcc`` (see :mod:`printer`) and
``model.qcc.npz`` holding constant data (``const/<name>``), large attribute
arrays (``attr/<node>/<key>``) and quantization parameters
(``qp/<value>/<field>``).  int4/int2 constants are stored packed (uint8,
little-end first, :mod:`qcc.packing`) and unpacked on load; files holding
them unpacked (int8) still load.  ``load`` parses the text back; the round
trip is exact (tested).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from ..errors import QccError
from .graph import Graph, Node, Value
from .printer import print_graph
from .types import DType, QParams, TensorType

_NAME = r'%(?:"(?:[^"\\]|\\.)*"|[^\s,()]+)'
_TYPE = re.compile(r"^([a-z0-9]+)\[([0-9,]*)\](\{[^}]*\})?$")


def _qp_arrays(v: Value, out: dict[str, np.ndarray]) -> None:
    q = v.qparams
    if q is None:
        return
    p = f"qp/{v.name}/"
    out[p + "scale"] = q.scale
    out[p + "zero_point"] = q.zero_point
    meta = [q.bits, -1 if q.axis is None else q.axis, -1 if q.group_size is None else q.group_size,
            -1 if q.group_axis is None else q.group_axis, int(q.signed)]
    out[p + "meta"] = np.array(meta, np.int64)


def _stored(v: Value) -> np.ndarray:
    if v.dtype in (DType.int4, DType.int2):
        from ..packing import pack

        return pack(v.data, v.dtype.bits)
    return v.data


def _loaded(arr: np.ndarray, t: TensorType) -> np.ndarray:
    if t.dtype in (DType.int4, DType.int2) and arr.dtype == np.uint8:
        from ..packing import unpack

        return unpack(arr, t.dtype.bits, t.shape)
    return arr


def save(graph: Graph, path: str) -> None:
    arrays: dict[str, np.ndarray] = {}
    text = print_graph(graph, arrays)
    for v in graph.constants.values():
        arrays[f"const/{v.name}"] = _stored(v)
    for v in graph.values():
        _qp_arrays(v, arrays)
    with open(path, "w") as f:
        f.write(text)
    np.savez(path + ".npz", **arrays)


def _unname(tok: str) -> str:
    tok = tok[1:]
    return json.loads(tok) if tok.startswith('"') else tok


def _parse_type(s: str) -> TensorType:
    m = _TYPE.match(s.strip())
    if not m:
        raise QccError(f"IR text: bad type '{s}'")
    shape = tuple(int(d) for d in m.group(2).split(",") if d)
    return TensorType(DType.from_short(m.group(1)), shape)


def _split_types(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _decode_attr(v: Any, arrays) -> Any:
    if isinstance(v, dict) and "__nd__" in v:
        dt = DType.from_short(v["__nd__"]).np
        if "ref" in v:
            return np.asarray(arrays[v["ref"]])
        return np.array(v["data"], dtype=dt).reshape(v["shape"])
    if isinstance(v, list):
        return [_decode_attr(x, arrays) for x in v]
    return v


_NODE = re.compile(r"^(?P<outs>.*?) = (?P<op>[A-Za-z_][\w]*\.[\w]+)\((?P<ins>.*?)\)"
                   r"(?: (?P<attrs>\{.*\}))? : (?P<types>.*)  @(?P<name>.+)$")


def load(path: str) -> Graph:
    for p in (path, path + ".npz"):
        if not os.path.isfile(p):
            raise QccError(f"IR file '{p}' does not exist")
    try:
        with np.load(path + ".npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        with open(path) as f:
            lines = [ln.rstrip("\n") for ln in f]
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise QccError(f"IR file '{path}' cannot be read: {e}") from None
    head = re.match(r'^graph (".*") opset=(\d+) \{$', lines[0]) if lines else None
    if not head:
        raise QccError(f"IR file '{path}': bad header")
    g = Graph(json.loads(head.group(1)), int(head.group(2)))
    env: dict[str, Value] = {}
    for i, ln in enumerate(lines[1:], start=2):
        try:
            _load_line(g, env, arrays, ln, path)
        except QccError:
            raise
        except Exception as e:  # noqa: BLE001 - a hand-edited or damaged file
            raise QccError(f"IR file '{path}' line {i}: {type(e).__name__}: {e}") from None
    _attach_qparams(env, arrays)
    g.register_names()
    return g


def _load_line(g: Graph, env: dict, arrays: dict, ln: str, path: str) -> None:
    s = ln.strip()
    if not s or s == "}":
        return
    if s.startswith("input ") or s.startswith("const "):
        kind, rest = s.split(" ", 1)
        rest = rest.split("  # ")[0]
        nm, ty = re.match(rf"^({_NAME}) : (.*)$", rest).groups()
        name = _unname(nm)
        v = Value(name, _parse_type(ty))
        if kind == "const":
            v.data = _loaded(arrays[f"const/{name}"], v.type)
            g.constants[name] = v
        else:
            g.inputs.append(v)
        env[name] = v
    elif s.startswith("output "):
        g.outputs.append(env[_unname(s[7:].strip())])
    else:
        m = _NODE.match(s)
        if not m:
            raise QccError(f"IR file '{path}': cannot parse line: {s}")
        ins = [None if t.strip() == "_" else env[_unname(t.strip())]
               for t in re.findall(rf'{_NAME}|_', m.group("ins"))]
        types = _split_types(m.group("types"))
        outs_tok = re.findall(_NAME, m.group("outs"))
        outs = [Value(_unname(t), _parse_type(ty)) for t, ty in zip(outs_tok, types)]
        attrs = {k: _decode_attr(v, arrays)
                 for k, v in json.loads(m.group("attrs") or "{}").items()}
        name = m.group("name")
        name = json.loads(name) if name.startswith('"') else name
        node = Node(m.group("op"), name, ins, outs, attrs, opset=g.opset)
        g.nodes.append(node)
        for v in outs:
            env[v.name] = v


def _attach_qparams(env: dict, arrays: dict) -> None:
    for name, v in env.items():
        p = f"qp/{name}/"
        if p + "scale" in arrays:
            bits, axis, gs, ga, signed = (int(x) for x in arrays[p + "meta"])
            v.qparams = QParams(arrays[p + "scale"], arrays[p + "zero_point"], bits,
                                None if axis < 0 else axis, None if gs < 0 else gs,
                                None if ga < 0 else ga, bool(signed))
