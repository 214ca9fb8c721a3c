"""Values, nodes and graphs: the SSA data structure of the IR.

Storage is plain Python objects (a node list kept in topological order, use
lists on values); networkx is used for the graph algorithms (see
``Graph.to_networkx``), not as the storage.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Iterable, Iterator, Optional

import networkx as nx
import numpy as np

from .types import DType, QParams, TensorType


class Value:
    """An SSA value: a graph input, a node result or a constant (``data`` set)."""

    __slots__ = ("name", "type", "qparams", "data", "producer", "users", "__weakref__")

    def __init__(self, name: str, type: TensorType, qparams: Optional[QParams] = None,
                 data: Optional[np.ndarray] = None):
        self.name = name
        self.type = type
        self.qparams = qparams
        self.data = data
        self.producer: Optional[Node] = None
        self.users: list[Node] = []

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    def __repr__(self) -> str:
        return f"%{self.name}:{self.type}"


class Node:
    """An operation.  ``op`` is namespaced (``onnx.Conv``, ``qcc.qconv2d``).

    Inputs may be ``None`` for omitted optional ONNX inputs.  Use
    :meth:`set_input` to rewire so that use lists stay right.
    """

    __slots__ = ("op", "name", "inputs", "outputs", "attrs", "cache", "opset", "__weakref__")

    def __init__(self, op: str, name: str, inputs: Iterable[Optional[Value]],
                 outputs: Iterable[Value], attrs: Optional[dict[str, Any]] = None,
                 opset: int = 21):
        self.op = op
        self.opset = opset  # version of the op's domain whose semantics apply
        self.name = name
        self.inputs: list[Optional[Value]] = list(inputs)
        self.outputs: list[Value] = list(outputs)
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.cache: dict[str, Any] = {}  # interpreter-side caches; never semantics
        for v in self.inputs:
            if v is not None:
                v.users.append(self)
        for v in self.outputs:
            v.producer = self

    @property
    def domain(self) -> str:
        return self.op.split(".", 1)[0]

    @property
    def op_type(self) -> str:
        return self.op.split(".", 1)[1]

    def set_input(self, i: int, v: Optional[Value]) -> None:
        old = self.inputs[i]
        if old is not None:
            old.users.remove(self)
        self.inputs[i] = v
        if v is not None:
            v.users.append(self)
        self.cache.clear()

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def __repr__(self) -> str:
        return f"<{self.op} {self.name}>"


class Graph:
    """A function: inputs, outputs, nodes in topological order, constants."""

    def __init__(self, name: str = "main", opset: int = 21):
        self.name = name
        self.opset = opset
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self.constants: dict[str, Value] = {}
        self.meta: dict[str, Any] = {}
        self._names: set[str] = set()
        self._node_names: set[str] = set()
        self._counter = itertools.count()

    # -- names ---------------------------------------------------------------
    def fresh_name(self, base: str = "v") -> str:
        base = base or "v"
        if base not in self._names:
            self._names.add(base)
            return base
        while True:
            cand = f"{base}.{next(self._counter)}"
            if cand not in self._names:
                self._names.add(cand)
                return cand

    def fresh_node_name(self, base: str) -> str:
        base = base or "n"
        name = base
        while name in self._node_names:
            name = f"{base}.{next(self._counter)}"
        self._node_names.add(name)
        return name

    # -- construction ----------------------------------------------------------
    def add_input(self, name: str, type: TensorType, qparams: Optional[QParams] = None) -> Value:
        v = Value(self.fresh_name(name), type, qparams)
        self.inputs.append(v)
        return v

    def add_const(self, name: str, data: np.ndarray, dtype: Optional[DType] = None,
                  qparams: Optional[QParams] = None) -> Value:
        data = np.asarray(data)
        dtype = dtype or DType.from_numpy(data.dtype)
        if data.dtype != dtype.np:
            data = data.astype(dtype.np)
        v = Value(self.fresh_name(name), TensorType(dtype, data.shape), qparams, data)
        self.constants[v.name] = v
        return v

    def new_value(self, name: str, type: TensorType, qparams: Optional[QParams] = None) -> Value:
        return Value(self.fresh_name(name), type, qparams)

    def add_node(self, op: str, inputs: Iterable[Optional[Value]], outputs: Iterable[Value],
                 attrs: Optional[dict] = None, name: Optional[str] = None,
                 before: Optional[Node] = None) -> Node:
        """Create a node.  Appended at the end, or inserted before ``before``."""
        outputs = list(outputs)
        node = Node(op, self.fresh_node_name(name or (outputs[0].name if outputs else op)),
                    inputs, outputs, attrs, opset=self.opset)
        if before is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(self.nodes.index(before), node)
        return node

    def make(self, op: str, inputs: Iterable[Optional[Value]], out_types: Iterable[TensorType],
             attrs: Optional[dict] = None, name: Optional[str] = None,
             before: Optional[Node] = None, out_names: Optional[list[str]] = None) -> Node:
        """Create a node together with fresh output values of the given types."""
        out_types = list(out_types)
        base = name or op.split(".")[-1].lower()
        names = out_names or [base if len(out_types) == 1 else f"{base}_{i}" for i in range(len(out_types))]
        outs = [self.new_value(n, t) for n, t in zip(names, out_types)]
        return self.add_node(op, inputs, outs, attrs, name=name, before=before)

    # -- mutation ------------------------------------------------------------------
    def remove_node(self, node: Node) -> None:
        for i in range(len(node.inputs)):
            node.set_input(i, None)
        self.nodes.remove(node)
        self._node_names.discard(node.name)
        for v in node.outputs:
            if v.producer is node:
                v.producer = None

    def replace_node(self, old: Node, op: str, inputs: Iterable[Optional[Value]],
                     attrs: Optional[dict] = None, name: Optional[str] = None) -> Node:
        """Put a new node in ``old``'s place that defines the same output values
        (so names, types and graph outputs stay as they are)."""
        idx = self.nodes.index(old)
        outs = list(old.outputs)
        for i in range(len(old.inputs)):
            old.set_input(i, None)
        self.nodes.pop(idx)
        self._node_names.discard(old.name)
        new = Node(op, self.fresh_node_name(name or old.name), inputs, outs, attrs, opset=self.opset)
        self.nodes.insert(idx, new)
        return new

    def replace_all_uses(self, old: Value, new: Value) -> None:
        """Make every user of ``old`` (and the graph outputs) use ``new``."""
        for user in list(old.users):
            for i, v in enumerate(user.inputs):
                if v is old:
                    user.set_input(i, new)
        for i, v in enumerate(self.outputs):
            if v is old:
                self.outputs[i] = new

    def drop_unused_constants(self) -> int:
        used = {id(v) for n in self.nodes for v in n.inputs if v is not None}
        used |= {id(v) for v in self.outputs}
        dead = [k for k, v in self.constants.items() if id(v) not in used]
        for k in dead:
            del self.constants[k]
            self._names.discard(k)
        return len(dead)

    # -- queries -----------------------------------------------------------------
    def values(self) -> Iterator[Value]:
        """Every value once: inputs, constants, node outputs."""
        yield from self.inputs
        yield from self.constants.values()
        for n in self.nodes:
            yield from n.outputs

    def value_map(self) -> dict[str, Value]:
        return {v.name: v for v in self.values()}

    def node_by_name(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def is_output(self, v: Value) -> bool:
        return any(o is v for o in self.outputs)

    def to_networkx(self) -> nx.DiGraph:
        """Dependency graph on nodes (edges producer -> user, labelled by value)."""
        g = nx.DiGraph()
        for n in self.nodes:
            g.add_node(n)
        for n in self.nodes:
            for v in n.inputs:
                if v is not None and v.producer is not None and v.producer in g:
                    g.add_edge(v.producer, n, value=v.name)
        return g

    def toposort(self) -> None:
        """Re-order ``nodes`` topologically (stable w.r.t. the current order)."""
        order = {n: i for i, n in enumerate(self.nodes)}
        g = self.to_networkx()
        self.nodes = list(nx.lexicographical_topological_sort(g, key=lambda n: order[n]))

    def clone(self) -> "Graph":
        """An independent copy: new values and nodes (constant data and attributes copied,
        ``meta`` copied one level deep, ``node.cache`` left empty).  Iterative, so it
        works on graphs of any depth (``copy.deepcopy`` recurses along use lists)."""
        g = Graph(self.name, self.opset)
        g.meta = {k: (copy.copy(v) if isinstance(v, (dict, list, set)) else v)
                  for k, v in self.meta.items()}
        vmap: dict[int, Value] = {}

        def dup(v: Value) -> Value:
            data = None if v.data is None else np.array(v.data, copy=True)
            nv = Value(v.name, v.type, copy.deepcopy(v.qparams), data)
            vmap[id(v)] = nv
            return nv

        g.inputs = [dup(v) for v in self.inputs]
        g.constants = {k: dup(v) for k, v in self.constants.items()}
        for n in self.nodes:
            ins = [None if v is None else vmap.get(id(v)) or dup(v) for v in n.inputs]
            outs = [dup(v) for v in n.outputs]
            nn = Node(n.op, n.name, ins, outs, copy.deepcopy(n.attrs), opset=n.opset)
            g.nodes.append(nn)
        g.outputs = [vmap.get(id(v)) or dup(v) for v in self.outputs]
        g.register_names()
        return g

    def register_names(self) -> None:
        """Rebuild the name tables (after bulk edits such as import)."""
        self._names = {v.name for v in self.values()}
        self._node_names = {n.name for n in self.nodes}

    def __repr__(self) -> str:
        return f"<Graph {self.name}: {len(self.nodes)} nodes, {len(self.constants)} constants>"
