"""import-dynamic: dynamically quantized models (onnxruntime ``quantize_dynamic``) back
to the float computation they ship, which qcc then quantizes statically.

``quantize_dynamic`` writes each MatMul/Conv as::

    DynamicQuantizeLinear(x) -> (x_q, x_s, x_zp)      # uint8, scale from x's min/max per call
    MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast(float) -> Mul(., Mul(x_s, W_s)) [-> Add(bias)]

(``ConvInteger`` for Conv; ``com.microsoft`` ``DynamicQuantizeMatMul`` and
``MatMulIntegerToFloat``, the fused forms of onnxruntime's optimizer, are expanded to
this chain at import by ``frontend/ms_dynamic.py``).  A per-call activation scale has no
integer-only form, so this pass rewrites the chain to ``MatMul(x, W)`` (``Conv``) on the
float weights ``W = W_s * (W_q - W_zp)`` -- exactly the dequantized weights the model
ships -- and drops the DynamicQuantizeLinear: calibration then gives ``x`` a static
scale as in any float model.  The shipped weight grid is kept: ``(W_s, W_zp)`` is pinned
in ``graph.meta["pinned_weights"]`` as ``import-qdq`` does for QDQ weights, so the
quantizer reproduces ``W_q`` (no second rounding) where the grid is symmetric (int8 with
zero point 0, or uint8 with every zero point 128 -- the same grid); an asymmetric grid
(uint8 per-column zero points) is requantized symmetrically from the same float weights.

A quantized embedding table (``Gather`` on a constant uint8/int8 table ->
``DequantizeLinear``) becomes a Gather on the dequantized table.  A chain this pass
cannot map back (a scale that is not the product of its operands' scales, a weight
scale that does not run along the output channels) is refused in one line naming the
node.  The manifest records what was done under ``passes.import-dynamic``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc.errors import LoweringError
from qcc.ir import DType, Graph, Node, QParams, Value
from qcc.passmanager import PassContext, register_pass

INTEGER_OPS = {"onnx.MatMulInteger": "onnx.MatMul", "onnx.ConvInteger": "onnx.Conv"}
_MOVES = {"onnx.Gather"}


def _only_user(v: Value, op: str) -> Optional[Node]:
    users = list(v.users)
    return users[0] if len(users) == 1 and users[0].op == op else None


def _dql(v: Value) -> Optional[Node]:
    """The DynamicQuantizeLinear whose quantized output is ``v``."""
    p = v.producer
    return p if p is not None and p.op == "onnx.DynamicQuantizeLinear" and p.outputs[0] is v else None


class Unrecoverable(Exception):
    pass


def _chain(node: Node) -> tuple[Node, Node, Value]:
    """(Cast, output Mul, scale value) after an integer MatMul/Conv."""
    cast = _only_user(node.outputs[0], "onnx.Cast")
    if cast is None or not cast.outputs[0].dtype.is_float:
        raise Unrecoverable("its int32 result is not cast to float")
    mul = _only_user(cast.outputs[0], "onnx.Mul")
    if mul is None:
        raise Unrecoverable("its float result is not multiplied by a scale")
    scale = mul.inputs[1] if mul.inputs[0] is cast.outputs[0] else mul.inputs[0]
    return cast, mul, scale


def _factors(scale: Value) -> list[Value]:
    p = scale.producer
    if p is not None and p.op == "onnx.Mul":
        return list(p.inputs)
    return [scale]


def _operand(v: Value, zp: Optional[Value], factors: list[Value]):
    """('act', float input) for a DynamicQuantizeLinear output, ('const', q, zp, scale)
    for a constant; the operand's scale is taken out of ``factors``."""
    dq = _dql(v)
    if dq is not None:
        if zp is not dq.outputs[2] or not any(f is dq.outputs[1] for f in factors):
            raise Unrecoverable("its activation's zero point or scale is not the "
                                "DynamicQuantizeLinear's own")
        factors.remove(next(f for f in factors if f is dq.outputs[1]))
        return ("act", dq.inputs[0])
    if not v.is_const or (zp is not None and not zp.is_const):
        raise Unrecoverable(f"operand '{v.name}' is neither a constant nor a DynamicQuantizeLinear output")
    consts = [f for f in factors if f.is_const]
    if not consts:
        raise Unrecoverable(f"no constant scale for the weight '{v.name}'")
    factors.remove(consts[0])
    z = np.zeros(1, np.int64) if zp is None else zp.data.astype(np.int64).reshape(-1)
    return ("const", v, z, consts[0])


def _channel_scale(s: Value, out_rank: int, ch_axis: int, n_ch: int, name: str) -> np.ndarray:
    """The weight scale as one value per output channel (or one): its broadcast against
    the output must vary along the channel axis only."""
    d = s.data.astype(np.float64)
    if d.size == 1:
        return d.reshape(1)
    shape = (1,) * (out_rank - d.ndim) + d.shape
    if d.ndim > out_rank or d.size != n_ch or shape[ch_axis] != n_ch:
        raise Unrecoverable(f"the weight scale '{name}' of shape {list(d.shape)} does not run "
                            f"along the output channels")
    return d.reshape(-1)


def _weight(graph: Graph, node: Node, op: dict, scale: np.ndarray, axis: int, pinned: dict, stats: dict):
    """The float weight constant of a constant operand; pins its grid where symmetric."""
    q = op[1].data.astype(np.int64)
    z = op[2]
    if z.size not in (1, scale.size):
        raise Unrecoverable(f"the zero point of '{op[1].name}' has {z.size} values for {scale.size} scales")
    shape = [1] * q.ndim
    if max(scale.size, z.size) > 1:
        shape[axis] = -1
    w = (scale.reshape(shape) * (q - z.reshape(shape))).astype(np.float32)
    c = graph.add_const(op[1].name + ".dequantized", w)
    signed = op[1].dtype is DType.int8
    zs = z if signed else z - 128
    if op[1].dtype in (DType.int8, DType.uint8) and not np.any(zs):
        pinned[c.name] = QParams(scale, np.zeros(scale.size, np.int64), bits=8,
                                 axis=axis if scale.size > 1 else None)
        stats["weight_grids_kept"] += 1
    else:
        stats["weights_requantized"].append(op[1].name)
    return c


def _recover(graph: Graph, node: Node, pinned: dict, stats: dict) -> list[Node]:
    ins = list(node.inputs) + [None] * (4 - len(node.inputs))
    cast, mul, scale = _chain(node)
    factors = _factors(scale)
    a, b = _operand(ins[0], ins[2], factors), _operand(ins[1], ins[3], factors)
    if factors:
        raise Unrecoverable(f"its output scale has the extra factor '{factors[0].name}'")
    out = mul.outputs[0]
    conv = node.op == "onnx.ConvInteger"
    floats = []
    for k, op in enumerate((a, b)):
        if op[0] == "act":
            floats.append(op[1])
            continue
        if k == 0:
            raise Unrecoverable("its left operand is a constant")
        axis = 0 if conv else op[1].type.rank - 1
        ch_axis = 1 if conv else out.type.rank - 1
        s = _channel_scale(op[3], out.type.rank, ch_axis, op[1].shape[axis], op[3].name)
        floats.append(_weight(graph, node, op, s, axis, pinned, stats))
    attrs = dict(node.attrs) if conv else {}
    graph.replace_node(mul, INTEGER_OPS[node.op], floats, attrs, name=node.name)
    stats["nodes"].append(node.name)
    return [node, cast] + [v.producer for v in (scale, ins[0], ins[1]) if v.producer is not None]


def _drop_dead(graph: Graph, nodes: list[Node]) -> None:
    """Remove the replaced chains' nodes that nobody reads any more (a DynamicQuantizeLinear
    shared by several MatMulIntegers goes with the last of them)."""
    alive = {id(n) for n in graph.nodes}
    for n in sorted({id(n): n for n in nodes if id(n) in alive}.values(),
                    key=graph.nodes.index, reverse=True):
        if not any(v.users or graph.is_output(v) for v in n.outputs):
            graph.remove_node(n)


def _embeddings(graph: Graph, stats: dict) -> None:
    """Gather(const int table) -> DequantizeLinear (per tensor) => Gather(float table)."""
    for dq in [n for n in graph.nodes if n.op == "onnx.DequantizeLinear"]:
        g = dq.inputs[0].producer
        if g is None or g.op not in _MOVES or not g.inputs[0].is_const or len(dq.inputs[0].users) != 1:
            continue
        s, z = dq.inputs[1], dq.inputs[2] if len(dq.inputs) > 2 else None
        if not s.is_const or s.type.numel != 1 or (z is not None and not z.is_const):
            continue
        zp = 0 if z is None else int(z.data.reshape(-1)[0])
        table = g.inputs[0]
        w = (float(s.data.reshape(-1)[0]) * (table.data.astype(np.float64) - zp)).astype(np.float32)
        c = graph.add_const(table.name + ".dequantized", w)
        graph.replace_node(dq, g.op, [c] + list(g.inputs[1:]), dict(g.attrs), name=g.name)
        graph.remove_node(g)
        stats["tables"].append(table.name)


def has_dynamic(graph: Graph) -> bool:
    return any(n.op in INTEGER_OPS for n in graph.nodes)


@register_pass("import-dynamic", "dynamically quantized models (quantize_dynamic): MatMulInteger/"
               "ConvInteger chains back to float MatMul/Conv on the shipped weights",
               kind="quantize")
def import_dynamic(graph: Graph, ctx: PassContext) -> bool:
    stats = {"nodes": [], "weight_grids_kept": 0, "weights_requantized": [], "tables": []}
    pinned = graph.meta.setdefault("pinned_weights", {})
    replaced: list[Node] = []
    for node in [n for n in graph.nodes if n.op in INTEGER_OPS]:
        try:
            replaced += _recover(graph, node, pinned, stats)
        except Unrecoverable as e:
            raise LoweringError(f"{node.op_type} node '{node.name}' (dynamically quantized) cannot be "
                                f"mapped back to float: {e}") from None
    _embeddings(graph, stats)
    if not stats["nodes"] and not stats["tables"]:
        return False
    _drop_dead(graph, replaced)
    graph.drop_unused_constants()
    ctx.note("import-dynamic", recovered=stats["nodes"], weight_grids_kept=stats["weight_grids_kept"],
             weights_requantized=stats["weights_requantized"], tables=stats["tables"])
    return True
