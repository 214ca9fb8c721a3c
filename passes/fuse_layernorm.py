"""fuse-layernorm: decomposed LayerNorm subgraphs and onnx LayerNormalization
-> ``fused.layernorm`` (axis, epsilon; inputs x, scale, bias).

Matched decomposition (torch opset < 17, paddle, hand-written)::

    mean = ReduceMean(x, axes)              # axes attribute (< 18) or input (>= 18)
    d    = Sub(x, mean)
    sq   = Pow(d, 2) | Mul(d, d)
    var  = ReduceMean(sq, axes)
    den  = Sqrt(Add(var, eps))               # Add in either operand order
    n    = Div(d, den) | Mul(d, Reciprocal(den))
    y    = [Mul(n, scale)] then [Add(., bias)]   # both optional, constants

``axes`` must be the trailing axes ``[axis, rank)`` with keepdims = 1, and
``scale``/``bias`` must vary only over those axes.  A missing scale becomes
ones and a missing bias zeros.  The fused node defines ``y``.

The moments form ``E[x^2] - E[x]^2`` (jax2tf; ReduceSum * 1/n, keepdims 0 with
Reshapes, any normalised axes, a Transpose on each side when they are not the
trailing ones) is matched by ``layernorm_moments.py``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from qcc.ir import Graph, Node, Value
from qcc.passmanager import PassContext, register_pass

from .fusion_match import const_operand, fuse, only_user, other_input, scalar
from .layernorm_moments import fuse_moments


def _axes(node: Node, rank: int) -> Optional[tuple[int, ...]]:
    if node.op != "onnx.ReduceMean" or not node.attrs.get("keepdims", 1):
        return None
    if "axes" in node.attrs:
        axes = node.attrs["axes"]
    elif len(node.inputs) > 1 and node.inputs[1] is not None and node.inputs[1].is_const:
        axes = node.inputs[1].data.reshape(-1).tolist()
    else:
        return None
    axes = tuple(sorted(int(a) % rank for a in axes))
    if not axes or axes != tuple(range(rank - len(axes), rank)):
        return None
    return axes


def _affine_const(c: Value, xshape: tuple, k: int) -> Optional[np.ndarray]:
    """A constant varying only over the last ``k`` axes, as an array of shape xshape[-k:]."""
    if c is None or not c.is_const or not c.dtype.is_float or c.data.ndim > len(xshape):
        return None
    d = c.data.reshape((1,) * (len(xshape) - c.data.ndim) + c.data.shape)
    lead, norm = d.shape[:len(xshape) - k], xshape[len(xshape) - k:]
    if any(s != 1 for s in lead):
        return None
    try:
        return np.broadcast_to(d.reshape(d.shape[len(lead):]), norm).copy()
    except ValueError:
        return None


def _square_of(graph: Graph, d: Value, node: Node) -> bool:
    if node.op == "onnx.Pow":
        return node.inputs[0] is d and scalar(node.inputs[1]) == 2.0
    return node.op == "onnx.Mul" and node.inputs[0] is d and node.inputs[1] is d


def _normalize(graph: Graph, d: Value, den: Value) -> Optional[list[Node]]:
    """The node(s) computing d / den: [Div] or [Reciprocal, Mul]."""
    user = only_user(den, graph)
    if user is None:
        return None
    if user.op == "onnx.Div" and user.inputs[0] is d and user.inputs[1] is den:
        return [user]
    if user.op == "onnx.Reciprocal":
        mul = only_user(user.outputs[0], graph)
        if mul is not None and mul.op == "onnx.Mul" and other_input(mul, user.outputs[0]) is d:
            return [user, mul]
    return None


def _core(graph: Graph, mean: Node):
    """Match mean..normalize; returns (x, axes, eps, nodes) or None."""
    x = mean.inputs[0]
    axes = _axes(mean, x.type.rank) if x.dtype.is_float else None
    sub = only_user(mean.outputs[0], graph)
    if axes is None or sub is None or sub.op != "onnx.Sub" or sub.inputs != [x, mean.outputs[0]]:
        return None
    d = sub.outputs[0]
    users = list(dict.fromkeys(d.users))
    if len(users) != 2 or graph.is_output(d):
        return None
    sq = next((u for u in users if _square_of(graph, d, u)), None)
    var = only_user(sq.outputs[0], graph) if sq is not None else None
    if var is None or _axes(var, x.type.rank) != axes:
        return None
    add = only_user(var.outputs[0], graph)
    eps = scalar(other_input(add, var.outputs[0])) if add is not None and add.op == "onnx.Add" else None
    sqrt = only_user(add.outputs[0], graph) if eps is not None else None
    if sqrt is None or sqrt.op != "onnx.Sqrt":
        return None
    norm = _normalize(graph, d, sqrt.outputs[0])
    if norm is None or (set(users) - {sq}) != {norm[-1]}:
        return None
    return x, axes, eps, [mean, sub, sq, var, add, sqrt] + norm


def _affine_tail(graph: Graph, v: Value, op: str, x: Value, k: int):
    user = only_user(v, graph)
    if user is None or user.op != op:
        return None
    xv, cv = const_operand(user)
    if xv is not v or user.outputs[0].shape != v.shape:
        return None
    data = _affine_const(cv, x.shape, k)
    return None if data is None else (user, data)


def _fuse_decomposed(graph: Graph, mean: Node) -> bool:
    core = _core(graph, mean)
    if core is None:
        return False
    x, axes, eps, nodes = core
    k, norm_shape, dt = len(axes), x.shape[x.type.rank - len(axes):], x.dtype.np
    scale, bias = np.ones(norm_shape, dt), np.zeros(norm_shape, dt)
    out = nodes[-1].outputs[0]
    tail = _affine_tail(graph, out, "onnx.Mul", x, k)
    if tail is not None:
        nodes.append(tail[0])
        scale, out = tail[1], tail[0].outputs[0]
    tail = _affine_tail(graph, out, "onnx.Add", x, k)
    if tail is not None:
        nodes.append(tail[0])
        bias, out = tail[1], tail[0].outputs[0]
    if any(graph.is_output(o) for n in nodes[:-1] for o in n.outputs):
        return False
    sv = graph.add_const(f"{mean.name}.ln_scale", scale.astype(dt))
    bv = graph.add_const(f"{mean.name}.ln_bias", bias.astype(dt))
    fuse(graph, nodes[-1], "fused.layernorm", [x, sv, bv],
         {"axis": axes[0], "epsilon": float(eps)}, nodes[:-1])
    return True


def _from_onnx(graph: Graph, node: Node) -> bool:
    if len(node.outputs) > 1 and any(v.users or graph.is_output(v) for v in node.outputs[1:]):
        return False
    x = node.inputs[0]
    axis = int(node.attrs.get("axis", -1)) % x.type.rank
    if node.attrs.get("stash_type", 1) != 1 or not x.dtype.is_float:
        return False
    norm = x.shape[axis:]
    ins = [x]
    for i, fill in ((1, 1.0), (2, 0.0)):
        v = node.inputs[i] if len(node.inputs) > i else None
        if v is not None and v.shape == norm:
            ins.append(v)
            continue
        data = np.full(norm, fill, x.dtype.np) if v is None else _affine_const(v, x.shape, len(norm))
        if data is None:
            return False
        ins.append(graph.add_const(f"{node.name}.ln_{i}", data.astype(x.dtype.np)))
    outs = node.outputs[1:]
    new = graph.replace_node(node, "fused.layernorm", ins,
                             {"axis": axis, "epsilon": float(node.attrs.get("epsilon", 1e-5))})
    new.outputs = new.outputs[:1]
    for v in outs:
        v.producer = None
    return True


@register_pass("fuse-layernorm", "ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div(/Mul/Add), the moments "
                                 "form and onnx LayerNormalization -> fused.layernorm")
def fuse_layernorm(graph: Graph, ctx: PassContext) -> bool:
    count = 0
    for node in list(graph.nodes):
        if node not in graph.nodes:
            continue
        if node.op == "onnx.ReduceMean" and _fuse_decomposed(graph, node):
            count += 1
        elif node.op in ("onnx.ReduceMean", "onnx.ReduceSum"):
            count += fuse_moments(graph, node)
        elif node.op == "onnx.LayerNormalization":
            count += _from_onnx(graph, node)
    graph.drop_unused_constants()
    ctx.note("fuse-layernorm", fused=count)
    return count > 0
