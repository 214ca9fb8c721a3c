"""decompose-cumsum: a CumSum of an integer tensor becomes shifted adds (a prefix-sum scan).

RoBERTa-family encoders (RoBERTa, XLM-R, MPNet, CamemBERT, Longformer ...) compute their
position ids as ``cumsum(input_ids != pad) * mask + pad``: a CumSum of an integer tensor
that no integer target has a kernel for.  Over an axis of length ``n`` the inclusive scan is
``ceil(log2 n)`` steps of ``y = y + shift(y, k)`` for ``k = 1, 2, 4, ...`` (Hillis and
Steele's scan), where ``shift`` moves elements ``k`` places along the axis and fills with 0
(a ``Slice`` then a ``Pad``: data movement with constant indices, which ``lower-index-maps``
turns into ``qcc.index_map``) and the add is the integer ``onnx.Add`` (the logic kernel).
``exclusive`` is one more shift by 1; ``reverse`` shifts the other way.  Integer addition
wraps modulo 2^bits and is associative, so the result equals numpy's (and onnxruntime's)
``cumsum`` bit for bit, whatever the order of the additions.  A float CumSum is left alone
(re-associating float sums changes the rounding), and so is one whose axis is not a constant.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Graph, Node, TensorType
from qcc.passmanager import PassContext, register_pass


def _axis(node: Node):
    ax = node.inputs[1] if len(node.inputs) > 1 else None
    if ax is None or not ax.is_const or np.asarray(ax.data).size != 1:
        return None
    return int(np.asarray(ax.data).reshape(-1)[0]) % node.inputs[0].type.rank


def _shift(graph: Graph, node: Node, v, axis: int, k: int, back: bool, tag: str):
    """``v`` moved ``k`` places along ``axis`` (towards higher indices, or lower ones when
    ``back``), the vacated places 0."""
    n, rank = v.shape[axis], v.type.rank
    c = lambda name, data: graph.add_const(f"{node.name}.{tag}.{name}", np.asarray(data, np.int64))
    starts, ends = ([k], [n]) if back else ([0], [n - k])
    sl = graph.make("onnx.Slice", [v, c("starts", starts), c("ends", ends), c("axes", [axis])],
                    [TensorType(v.dtype, v.shape[:axis] + (n - k,) + v.shape[axis + 1:])],
                    name=f"{node.name}.{tag}.slice", before=node)
    pads = [0] * (2 * rank)
    pads[axis + (rank if back else 0)] = k
    pad = graph.make("onnx.Pad", [sl.outputs[0], c("pads", pads)], [v.type],
                     {"mode": "constant"}, name=f"{node.name}.{tag}.pad", before=node)
    return pad.outputs[0]


def decompose(graph: Graph, node: Node) -> bool:
    x, out = node.inputs[0], node.outputs[0]
    axis = None if x.dtype.is_float or x.dtype is DType.bool else _axis(node)
    if axis is None:
        return False
    n, back = x.shape[axis], bool(node.attrs.get("reverse", 0))
    y, k, step = x, 1, 0
    while k < n:
        s = _shift(graph, node, y, axis, k, back, f"scan{step}")
        y = graph.make("onnx.Add", [y, s], [x.type], name=f"{node.name}.add{step}",
                       before=node).outputs[0]
        k, step = 2 * k, step + 1
    if node.attrs.get("exclusive", 0):
        y = _shift(graph, node, y, axis, 1, back, "exclusive") if n > 1 else \
            graph.make("onnx.Sub", [y, y], [x.type], name=f"{node.name}.zero", before=node).outputs[0]
    graph.replace_node(node, "onnx.Identity", [y])
    return True


@register_pass("decompose-cumsum", "CumSum of an integer tensor -> log2(n) shifted integer adds",
               kind="integer")
def decompose_cumsum(graph: Graph, ctx: PassContext) -> bool:
    done = [n.name for n in list(graph.nodes) if n.op == "onnx.CumSum" and decompose(graph, n)]
    ctx.note("decompose-cumsum", rewritten=len(done), nodes=done)
    return bool(done)
