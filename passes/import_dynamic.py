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
from qcc.ir import DType, Graph, Node, QParams, TensorType, Value
from qcc.passmanager import PassContext, register_pass

INTEGER_OPS = {"onnx.MatMulInteger": "onnx.MatMul", "onnx.ConvInteger": "onnx.Conv"}
MOVES = {"onnx.Transpose", "onnx.Reshape", "onnx.Squeeze", "onnx.Unsqueeze", "onnx.Flatten"}


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


def _moved(v: Value) -> tuple[Value, list[Node]]:
    """``v`` traced back through data movement on the quantized integers (onnxruntime
    runs Transpose/Reshape/... on them, ``Direct8BitOp``, and Gathers rows of a quantized
    embedding table): (source, moves, outermost first)."""
    moves = []
    while v.producer is not None and len(v.producer.outputs) == 1 and (
            v.producer.op == "onnx.Gather"
            or v.producer.op in MOVES and all(i is None or i.is_const for i in v.producer.inputs[1:])):
        moves.append(v.producer)
        v = v.producer.inputs[0]
    return v, moves


def _replay(graph: Graph, x: Value, moves: list[Node], before: Node) -> Value:
    """The same moves applied to the float tensor ``x``."""
    for m in reversed(moves):
        x = graph.make(m.op, [x] + list(m.inputs[1:]), [TensorType(x.dtype, m.outputs[0].shape)],
                       dict(m.attrs), name=m.name + ".float", before=before).outputs[0]
    return x


def _take_const(factors: list[Optional[Value]], k: int, what: str) -> Value:
    """Operand ``k``'s constant scale factor (onnxruntime multiplies [A's, B's] in order)."""
    order = ([k] if len(factors) == 2 else []) + list(range(len(factors)))
    for i in order:
        if factors[i] is not None and factors[i].is_const:
            f, factors[i] = factors[i], None
            return f
    raise Unrecoverable(f"no constant scale for {what}")


def _operand(v: Value, zp: Optional[Value], factors: list[Optional[Value]], k: int):
    """Operand ``k`` of an integer MatMul/Conv, its scale taken out of ``factors``:
    ('act', float input, moves, DQL) for a DynamicQuantizeLinear output (possibly moved);
    ('table', float constant, moves) for rows/moves of a per-tensor quantized constant
    (an embedding table); ('const', q, zp, scale) for a weight."""
    src, moves = _moved(v)
    dq = _dql(src)
    if dq is not None:
        if zp is not dq.outputs[2] or not any(f is dq.outputs[1] for f in factors):
            raise Unrecoverable("its activation's zero point or scale is not the "
                                "DynamicQuantizeLinear's own")
        factors[next(i for i, f in enumerate(factors) if f is dq.outputs[1])] = None
        return ("act", dq.inputs[0], moves, dq)
    if not src.is_const or (zp is not None and not zp.is_const):
        raise Unrecoverable(f"operand '{v.name}' is neither a constant nor a DynamicQuantizeLinear output")
    z = np.zeros(1, np.int64) if zp is None else zp.data.astype(np.int64).reshape(-1)
    if not moves:
        return ("const", src, z, _take_const(factors, k, f"'{v.name}'"))
    # a table next to a weight: import folded Mul(table scale, weight scale) into one
    # constant, which the weight takes; the table is then exact as its integer codes
    folded = not any(f is not None and f.is_const for f in factors)
    scale = 1.0 if folded else _take_const(factors, k, f"'{v.name}'").data
    if np.size(scale) != 1 or z.size != 1:
        raise Unrecoverable(f"the moved constant '{src.name}' has per-channel parameters")
    table = float(np.reshape(scale, -1)[0]) * (src.data.astype(np.float64) - int(z[0]))
    return ("table", table.astype(np.float32), moves, src)


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
    factors: list[Optional[Value]] = _factors(scale)
    b = _operand(ins[1], ins[3], factors, 1)  # the weight first: it takes a folded scale product
    a = _operand(ins[0], ins[2], factors, 0)
    extra = [f for f in factors if f is not None]
    if extra:
        raise Unrecoverable(f"its output scale has the extra factor '{extra[0].name}'")
    out = mul.outputs[0]
    conv = node.op == "onnx.ConvInteger"
    floats = []
    for k, op in enumerate((a, b)):
        if op[0] == "act":
            floats.append(_replay(graph, op[1], op[2], mul))
            continue
        if op[0] == "table":
            c = graph.add_const(op[3].name + ".dequantized", op[1])
            floats.append(_replay(graph, c, op[2], mul))
            stats["tables"].append(op[3].name)
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
    moved = [m for op in (a, b) if op[0] != "const" for m in op[2] + [op[3]] if isinstance(m, Node)]
    return [node, cast] + moved + [v.producer for v in (scale, ins[0], ins[1]) if v.producer is not None]


def _drop_dead(graph: Graph, nodes: list[Node]) -> None:
    """Remove the replaced chains' nodes that nobody reads any more (a DynamicQuantizeLinear
    shared by several MatMulIntegers goes with the last of them)."""
    alive = {id(n) for n in graph.nodes}
    for n in sorted({id(n): n for n in nodes if id(n) in alive}.values(),
                    key=graph.nodes.index, reverse=True):
        if not any(v.users or graph.is_output(v) for v in n.outputs):
            graph.remove_node(n)


def _tables(graph: Graph, stats: dict) -> list[Node]:
    """DequantizeLinear (per tensor) of rows/moves of a constant integer table (a quantized
    embedding: ``Gather(uint8 table) -> DequantizeLinear``) => the same moves on the
    dequantized float table."""
    dead = []
    for dq in [n for n in graph.nodes if n.op == "onnx.DequantizeLinear"]:
        src, moves = _moved(dq.inputs[0])
        s, z = dq.inputs[1], dq.inputs[2] if len(dq.inputs) > 2 else None
        if not moves or not src.is_const or not s.is_const or s.type.numel != 1 \
                or (z is not None and (not z.is_const or z.type.numel != 1)):
            continue
        zp = 0 if z is None else int(z.data.reshape(-1)[0])
        w = float(s.data.reshape(-1)[0]) * (src.data.astype(np.float64) - zp)
        c = graph.add_const(src.name + ".dequantized", w.astype(np.float32))
        graph.replace_node(dq, "onnx.Identity", [_replay(graph, c, moves, dq)])
        stats["tables"].append(src.name)
        dead += moves
    return dead


def is_dynamic(graph: Graph) -> bool:
    """Whether the graph holds dynamically quantized ops (no static activation scales)."""
    return any(n.op in INTEGER_OPS or n.op == "onnx.DynamicQuantizeLinear" for n in graph.nodes)


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
    replaced += _tables(graph, stats)
    if not stats["nodes"] and not stats["tables"]:
        return False
    _drop_dead(graph, replaced)
    graph.drop_unused_constants()
    ctx.note("import-dynamic", recovered=stats["nodes"], weight_grids_kept=stats["weight_grids_kept"],
             weights_requantized=stats["weights_requantized"], tables=list(dict.fromkeys(stats["tables"])))
    return True
