"""The reference interpreter: runs any IR graph with numpy.

For float ops it is the specification compared against onnxruntime; for
integer ops it is the golden model that every backend must match bit for bit.
"""

from __future__ import annotations

from typing import Iterable, Optional, Union

import numpy as np

from .errors import InputDataError, QccError
from .ir import DType, Graph, Value
from .ops import lookup


def check_feeds(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate one sample's feeds against the graph inputs; cast to input dtypes."""
    names = [v.name for v in graph.inputs]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise InputDataError(f"missing input(s) {missing}; the model expects {names}")
    out = {}
    for v in graph.inputs:
        a = np.asarray(feeds[v.name])
        if tuple(a.shape) != v.shape:
            raise InputDataError(f"input '{v.name}' has shape {list(a.shape)}, "
                                 f"the model expects {list(v.shape)}")
        want = v.dtype.np
        if a.dtype != want:
            if v.dtype.is_float and a.dtype.kind in "fiu":
                a = a.astype(want)
            elif v.dtype.is_int and a.dtype.kind in "iu" and a.size and (
                    a.min() < v.dtype.min or a.max() > v.dtype.max):
                raise InputDataError(f"input '{v.name}' has values outside {v.dtype.name}")
            elif a.dtype.kind in "iub" and v.dtype.is_int or v.dtype is DType.bool:
                a = a.astype(want)
            else:
                raise InputDataError(f"input '{v.name}' has dtype {a.dtype}, "
                                     f"the model expects {v.dtype.name}")
        out[v.name] = a
    return out


class Interpreter:
    """Evaluates a graph.  ``capture`` keeps intermediates (all, or a name set)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        last_use: dict[int, int] = {}
        for i, n in enumerate(graph.nodes):
            for v in n.inputs:
                if v is not None:
                    last_use[id(v)] = i
        self._free_after: list[list[Value]] = [[] for _ in graph.nodes]
        outputs = {id(v) for v in graph.outputs}
        for i, n in enumerate(graph.nodes):
            for v in n.inputs:
                if v is not None and not v.is_const and last_use.get(id(v)) == i \
                        and id(v) not in outputs:
                    if v not in self._free_after[i]:
                        self._free_after[i].append(v)

    def run(self, feeds: dict[str, np.ndarray],
            capture: Union[bool, Iterable[str]] = False,
            validate: bool = True) -> dict[str, np.ndarray]:
        g = self.graph
        if validate:
            feeds = check_feeds(g, feeds)
        env: dict[int, np.ndarray] = {}
        for v in g.inputs:
            env[id(v)] = feeds[v.name]
        keep_all = capture is True
        keep = set(capture) if capture and capture is not True else set()
        captured: dict[str, np.ndarray] = {}
        for i, node in enumerate(g.nodes):
            args = []
            for v in node.inputs:
                if v is None:
                    args.append(None)
                elif v.is_const:
                    args.append(v.data)
                else:
                    args.append(env[id(v)])
            try:
                res = lookup(node.op).run(node, args)
            except QccError:
                raise
            except Exception as e:  # noqa: BLE001 - name the node, keep the cause
                raise QccError(f"interpreter: {node.op} node '{node.name}' failed: "
                               f"{type(e).__name__}: {e}") from e
            for v, r in zip(node.outputs, res):
                env[id(v)] = r
                if keep_all or v.name in keep:
                    captured[v.name] = r
            for v in self._free_after[i]:
                if not (keep_all or v.name in keep):
                    env.pop(id(v), None)
        result = {}
        for v in g.outputs:
            result[v.name] = v.data if v.is_const else env[id(v)]
        if capture:
            for v in g.inputs:
                if keep_all or v.name in keep:
                    captured[v.name] = feeds[v.name]
            captured.update(result)
            return captured
        return result


def run(graph: Graph, feeds: dict[str, np.ndarray], capture=False) -> dict[str, np.ndarray]:
    return Interpreter(graph).run(feeds, capture=capture)


def run_samples(graph: Graph, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every sample of an ``.npz``-style dict (stacked along axis 0)."""
    from .npzio import iter_samples, stack_samples

    it = Interpreter(graph)
    return stack_samples([it.run(s) for s in iter_samples(graph, data)])
