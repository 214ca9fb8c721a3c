"""fuse-tables: an integer elementwise region fed by one 8-bit tensor becomes one
``qcc.lut`` (a per-tensor table, or one table per channel).

The quantizer writes some float ops as chains of integer elementwise ops on one tensor: a
per-channel PRelu is ``requant(max(x, zp))``, ``requant(min(x, zp))``, a ``qcc.mul`` by the
slopes and a ``qcc.add`` (rules_select.py), a swish or hardswish a ``qcc.mul`` of ``x`` by a
table of ``x``.  Each such region reads one int8/uint8 tensor ``x`` and constants that vary
along at most one axis (the channels), and its result is int8/uint8: it is a function of
``(x, channel)``, 256 values per channel.  The pass evaluates the region's nodes with the
interpreter's own ops on a probe holding every 8-bit value in every channel, and replaces
the region by ``qcc.lut(x, table)`` (table ``[256]``, or ``[C, 256]`` with ``axis``): the
same integers for every input, by construction, and one pass over the tensor instead of
one per node.

A region: nodes of :data:`REGION_OPS` whose non-constant inputs are ``x`` or values made
inside the region, with ``x``'s shape; every value it makes except its result is read only
inside the region and is no graph output; at least :data:`MIN_NODES` nodes, or one
add / sub / mul of ``x`` and a constant (a lone requant or table stays as it is).  Constants (slopes, biases, tables) must broadcast
along one channel axis, the same for the whole region; per-tensor multipliers and shifts
always do.  Run on integer IR for targets whose ``qcc.lut`` kernel takes per-channel tables
(the C target).
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Graph, Node, Value
from qcc.ops import lookup
from qcc.passmanager import PassContext, register_pass

REGION_OPS = ("qcc.requant", "qcc.add", "qcc.sub", "qcc.mul", "qcc.lut", "onnx.Max", "onnx.Min")
BYTES = (DType.int8, DType.uint8)
MIN_NODES = 2
SINGLE_OPS = ("qcc.add", "qcc.sub", "qcc.mul")  # alone they are worth a table too
NONE = -1  # a region without a channel axis (per-tensor constants only)


def _const_axis(c: Value, rank: int):
    """The one axis along which constant ``c`` varies, right-aligned to ``rank`` (NONE when
    it is a scalar); False when it varies along more than one or has a higher rank."""
    shape = tuple(int(d) for d in c.shape)
    if len(shape) > rank:
        return False
    big = [rank - len(shape) + i for i, d in enumerate(shape) if d != 1]
    return NONE if not big else (big[0] if len(big) == 1 else False)


def _node_axis(node: Node, rank: int):
    """The channel axis ``node``'s constants vary along (NONE: none), or False when they
    vary along more than one axis or ``node`` cannot be in a region."""
    if node.op == "qcc.requant":
        m = node.inputs[1]
        return NONE if m.type.numel == 1 else int(node.attr("axis", 1)) % rank
    if node.op == "qcc.lut":
        t = node.inputs[1]
        return NONE if t.type.rank == 1 else int(node.attr("axis", 1)) % rank
    axis = NONE
    for v in node.inputs[:2]:
        if v is not None and v.is_const:
            a = _const_axis(v, rank)
            if a is False or (a != NONE and axis != NONE and a != axis):
                return False
            axis = a if a != NONE else axis
    return axis


def _closure(graph: Graph, x: Value) -> list:
    """Nodes (in graph order) that are functions of ``x`` and constants only, each with
    ``x``'s shape, as (node, axis)."""
    inside, out = {id(x)}, []
    rank = x.type.rank
    for node in graph.nodes:
        if node.op not in REGION_OPS or len(node.outputs) != 1:
            continue
        live = [v for v in node.inputs if v is not None and not v.is_const]
        if not live or any(id(v) not in inside for v in live):
            continue
        if node.outputs[0].shape != x.shape or rank == 0:
            continue
        axis = _node_axis(node, rank)
        if axis is False:
            continue
        inside.add(id(node.outputs[0]))
        out.append((node, axis))
    return out


def _region(graph: Graph, x: Value, closure: list, outputs: set):
    """The largest valid region of ``closure`` ending at one node: (nodes, axis) or None."""
    made = {id(n.outputs[0]): (n, a) for n, a in closure}
    for sink, _ in reversed(closure):
        y = sink.outputs[0]
        if y.dtype not in BYTES:
            continue
        nodes, todo = {}, [sink]
        while todo:
            n = todo.pop()
            if id(n) in nodes:
                continue
            nodes[id(n)] = n
            todo += [made[id(v)][0] for v in n.inputs if v is not None and id(v) in made]
        if len(nodes) < MIN_NODES and sink.op not in SINGLE_OPS:
            continue
        inner = [n.outputs[0] for n in nodes.values() if n is not sink]
        if any(id(v) in outputs or any(id(c) not in nodes for c in v.users)
               for v in inner):
            continue
        axes = {made[id(n.outputs[0])][1] for n in nodes.values()} - {NONE}
        if len(axes) > 1 or (axes and x.type.rank < 2):
            continue
        order = [n for n, _ in closure if id(n) in nodes]
        return order, (axes.pop() if axes else NONE)
    return None


def _table(x: Value, nodes: list, axis: int) -> np.ndarray:
    """The region's result for every 8-bit value (and channel): ``[256]`` or ``[C, 256]``."""
    rank = x.type.rank
    codes = np.arange(x.dtype.min, x.dtype.max + 1, dtype=np.int64)
    shape = [1] * rank
    if axis == NONE:
        vax = 0
    else:
        shape[axis] = int(x.shape[axis])
        vax = 0 if axis != 0 else 1
    shape[vax] = 256
    probe = np.broadcast_to(codes.reshape([256 if i == vax else 1 for i in range(rank)]),
                            shape).astype(x.dtype.np)
    env = {id(x): probe}
    for n in nodes:
        args = [None if v is None else (v.data if v.is_const else env[id(v)]) for v in n.inputs]
        env[id(n.outputs[0])] = np.asarray(lookup(n.op).run(n, args)[0])
    y = np.broadcast_to(env[id(nodes[-1].outputs[0])], shape)
    y = np.moveaxis(y, vax, -1).reshape(-1 if axis != NONE else 1, 256)
    return y[0] if axis == NONE else y


@register_pass("fuse-tables", "integer elementwise regions on one 8-bit tensor -> one qcc.lut",
               kind="integer")
def fuse_tables(graph: Graph, ctx: PassContext) -> bool:
    done = []
    outputs = {id(v) for v in graph.outputs}
    sources = [v for v in graph.inputs if v.dtype in BYTES]
    sources += [n.outputs[0] for n in graph.nodes if len(n.outputs) == 1]
    for x in sources:
        if x.dtype not in BYTES or x.is_const or x.type.rank == 0:
            continue
        found = _region(graph, x, _closure(graph, x), outputs)
        if found is None:
            continue
        nodes, axis = found
        sink = nodes[-1]
        y = sink.outputs[0]
        t = graph.add_const(f"{sink.name}.table", _table(x, nodes, axis).astype(y.dtype.np), y.dtype)
        attrs = {} if axis == NONE else {"axis": axis}
        graph.replace_node(sink, "qcc.lut", [x, t], attrs)
        for n in reversed(nodes[:-1]):
            graph.remove_node(n)
        done.append((sink.name, len(nodes), axis != NONE))
    ctx.note("fuse-tables", fused=len(done), regions={name: n for name, n, _ in done},
             per_channel=sum(1 for *_, pc in done if pc))
    return bool(done)
