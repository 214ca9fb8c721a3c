"""IR verifier: SSA, dangling values, cycles, registered ops, types, shapes.

``verify(graph)`` raises :class:`VerificationError` naming the node and value
at fault.  The pass manager runs it after every pass with ``--verify-each``
(and always in tests).  ``check_integer_only`` proves that no float
arithmetic remains between the input quantize and the output dequantize.
"""

from __future__ import annotations

import networkx as nx

from ..errors import QccError, VerificationError
from .graph import Graph, Node, Value


def _check_defs(graph: Graph) -> None:
    seen: dict[str, Value] = {}
    for v in graph.values():
        if v.name in seen:  # a second value of that name, or one value defined twice
            raise VerificationError(f"value name '%{v.name}' is defined twice (SSA)")
        seen[v.name] = v
    for v in graph.constants.values():
        if v.data is None:
            raise VerificationError(f"constant '%{v.name}' has no data")
        if tuple(v.data.shape) != v.shape or v.data.dtype != v.dtype.np:
            raise VerificationError(f"constant '%{v.name}' data {v.data.dtype}{list(v.data.shape)} "
                                    f"does not match its type {v.type}")
    names = set()
    for n in graph.nodes:
        if n.name in names:
            raise VerificationError(f"node name '{n.name}' is used twice")
        names.add(n.name)


def _check_order(graph: Graph) -> None:
    defined = {id(v) for v in graph.inputs} | {id(v) for v in graph.constants.values()}
    for n in graph.nodes:
        for i, v in enumerate(n.inputs):
            if v is None:
                continue
            if id(v) not in defined:
                where = "is not defined in the graph" if v.producer is None or v.producer not in graph.nodes \
                    else "is used before its definition"
                raise VerificationError(f"{n.op} node '{n.name}' input {i} '%{v.name}' {where}")
            if n not in v.users:
                raise VerificationError(f"use list of '%{v.name}' misses node '{n.name}'")
        for v in n.outputs:
            if v.producer is not n:
                raise VerificationError(f"output '%{v.name}' of node '{n.name}' names another producer")
            defined.add(id(v))
    for v in graph.outputs:
        if id(v) not in defined:
            raise VerificationError(f"graph output '%{v.name}' is dangling (nothing defines it)")


def _check_cycles(graph: Graph) -> None:
    g = graph.to_networkx()
    if not nx.is_directed_acyclic_graph(g):
        cyc = nx.find_cycle(g)
        raise VerificationError("the graph has a cycle through nodes " +
                                ", ".join(f"'{a.name}'" for a, _ in cyc))


def _check_types(graph: Graph) -> None:
    from ..ops import is_registered, lookup

    for n in graph.nodes:
        if not is_registered(n.op):
            raise VerificationError(f"node '{n.name}' has unregistered op '{n.op}'")
        try:
            types = lookup(n.op).infer(n)
        except QccError as e:
            raise VerificationError(f"type inference failed on {n.op} node '{n.name}': {e}") from None
        for v, t in zip(n.outputs, types):
            if v.type != t:
                raise VerificationError(f"{n.op} node '{n.name}' output '%{v.name}' is typed "
                                        f"{v.type} but its inputs imply {t}")


def verify(graph: Graph, types: bool = True) -> None:
    _check_defs(graph)
    _check_cycles(graph)  # before the order check, so that a cycle is named as one
    _check_order(graph)
    if types:
        _check_types(graph)


def float_offenders(graph: Graph) -> list[Node]:
    """Nodes doing float arithmetic inside the integer region.

    Every node downstream of a ``qcc.quantize`` belongs to the integer
    region: float pre-processing before the input quantize is fine, and
    after a ``qcc.dequantize`` only data movement (Reshape, Transpose ...) may
    follow.  Float arithmetic anywhere downstream of a quantize, an island
    (dequantize -> float op -> quantize) or a float tail alike, is reported
    unless kept on purpose with ``--allow-float``.
    """
    from ..ops import lookup

    g = graph.to_networkx()
    quants = [n for n in graph.nodes if n.op == "qcc.quantize"]
    down: set = set()
    for q in quants:
        down |= nx.descendants(g, q)
    bad = []
    for n in graph.nodes:
        if n not in down or n.op in ("qcc.quantize", "qcc.dequantize"):
            continue
        vals = [v for v in n.inputs if v is not None] + n.outputs
        if any(v.dtype.is_float for v in vals) and lookup(n.op).float_arith:
            bad.append(n)
    return bad


def check_integer_only(graph: Graph, allow: frozenset = frozenset()) -> None:
    bad = [n for n in float_offenders(graph) if n.op_type not in allow and n.op not in allow
           and n.name not in allow]
    if bad:
        shown = ", ".join(f"{n.op} '{n.name}'" for n in bad[:10])
        raise VerificationError(f"{len(bad)} node(s) still compute in float between quantize and "
                                f"dequantize: {shown}; lower them or keep them on purpose with "
                                f"--allow-float")
