"""Text form of the IR: one line per node, types inline, stable names.

    graph "digits" opset=17 {
      input %input : f32[1,1,8,8]
      const %w : f32[16,1,3,3]
      %y = onnx.Conv(%input, %w, _) {"pads": [1, 1, 1, 1]} : f32[1,16,8,8]  @conv1
      output %y
    }

Attributes are JSON (arrays as ``{"__nd__": dtype, "shape": [...], ...}``),
so a line parses back with :mod:`qcc.ir.serialize`.  Small constants are
shown inline as a comment for the reader; their data, big attribute arrays
and per-channel quantization parameters live in the companion ``.npz``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import numpy as np

from .graph import Graph, Node, Value
from .types import DType, QParams, TensorType

_PLAIN = re.compile(r"^[A-Za-z0-9_.\-/:]+$")
INLINE_ARRAY = 16


def fmt_name(name: str) -> str:
    return "%" + (name if _PLAIN.match(name) and not name.endswith(":") else json.dumps(name))


def fmt_qparams(q: Optional[QParams]) -> str:
    return str(q) if q is not None else ""


def fmt_type(v: Value) -> str:
    return f"{v.type}{fmt_qparams(v.qparams)}"


def _nd_json(arr: np.ndarray, ref: Optional[str]) -> dict:
    dt = DType.from_numpy(arr.dtype).short
    d: dict[str, Any] = {"__nd__": dt, "shape": list(arr.shape)}
    if ref is None:
        d["data"] = arr.ravel().tolist()
    else:
        d["ref"] = ref
    return d


def attr_json(node: Node, arrays: Optional[dict[str, np.ndarray]] = None) -> str:
    """Attributes as JSON; arrays above INLINE_ARRAY elements go to ``arrays``."""
    def conv(key: str, v: Any) -> Any:
        if isinstance(v, np.ndarray):
            if v.size > INLINE_ARRAY:
                ref = f"attr/{node.name}/{key}"
                if arrays is not None:
                    arrays[ref] = v
                return _nd_json(v, ref)
            return _nd_json(v, None)
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, (list, tuple)):
            return [conv(key, x) for x in v]
        return v

    if not node.attrs:
        return ""
    return json.dumps({k: conv(k, node.attrs[k]) for k in sorted(node.attrs)})


def _const_comment(v: Value) -> str:
    if v.data is not None and v.data.size <= INLINE_ARRAY and v.data.dtype != np.object_:
        return "  # = " + np.array2string(v.data.ravel(), separator=",", threshold=INLINE_ARRAY, max_line_width=1 << 20, precision=6)
    return ""


def node_line(node: Node, arrays: Optional[dict[str, np.ndarray]] = None) -> str:
    outs = ", ".join(fmt_name(v.name) for v in node.outputs)
    ins = ", ".join("_" if v is None else fmt_name(v.name) for v in node.inputs)
    attrs = attr_json(node, arrays)
    types = ", ".join(fmt_type(v) for v in node.outputs)
    line = f"{outs} = {node.op}({ins})"
    if attrs:
        line += " " + attrs
    return f"{line} : {types}  @{json.dumps(node.name) if not _PLAIN.match(node.name) else node.name}"


def print_graph(graph: Graph, arrays: Optional[dict[str, np.ndarray]] = None) -> str:
    lines = [f"graph {json.dumps(graph.name)} opset={graph.opset} {{"]
    for v in graph.inputs:
        lines.append(f"  input {fmt_name(v.name)} : {fmt_type(v)}")
    for v in graph.constants.values():
        lines.append(f"  const {fmt_name(v.name)} : {fmt_type(v)}{_const_comment(v)}")
    for n in graph.nodes:
        lines.append("  " + node_line(n, arrays))
    for v in graph.outputs:
        lines.append(f"  output {fmt_name(v.name)}")
    lines.append("}")
    return "\n".join(lines) + "\n"
