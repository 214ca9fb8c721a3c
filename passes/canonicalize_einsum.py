"""Two-operand Einsum as Transpose / Reshape / MatMul (used by ``canonicalize``).

Attention written with ``torch.einsum`` (Funnel, XLNet, Perceiver ...: ``bind,bjnd->bnij``,
``bnij,bjnd->bind``) exports as ONNX Einsum, which no integer rule lowers.  An equation
``A,B->C`` without ellipsis or repeated letters in one operand is a batched matrix product:
letters in A, B and C are batch dims, letters in A and B only are contracted, letters in
one operand and C are that operand's free dims.  Each operand is transposed to
``[batch, free, contracted]`` (B to ``[batch, contracted, free]``), reshaped to rank
``len(batch) + 2``, multiplied, reshaped back and transposed to C's order.  The sum runs over
the same products (its float rounding order may differ, as any BLAS's does).  Letters summed
out of a single operand, broadcast batch dims and ellipses are left as Einsum.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import Graph, Node, TensorType


def _parse(eq: str):
    eq = eq.replace(" ", "")
    if "->" not in eq or "." in eq:
        return None
    lhs, out = eq.split("->")
    ops = lhs.split(",")
    if len(ops) != 2 or any(len(set(t)) != len(t) for t in ops + [out]):
        return None
    return ops[0], ops[1], out


def _plan(a: str, b: str, c: str, sa, sb):
    size = {}
    for t, s in ((a, sa), (b, sb)):
        for ch, n in zip(t, s):
            if size.setdefault(ch, n) != n:
                return None  # a broadcast batch dim (1 against n): left as Einsum
    if any(ch not in size for ch in c) or any(ch not in c and ch not in (a if t == b else b)
                                              for t in (a, b) for ch in t):
        return None  # a letter summed out of one operand only
    batch = [ch for ch in c if ch in a and ch in b]
    contract = [ch for ch in a if ch in b and ch not in c]
    fa = [ch for ch in a if ch not in b]
    fb = [ch for ch in b if ch not in a]
    return size, batch, contract, fa, fb


def _view(graph: Graph, node: Node, v, perm, shape, tag):
    if list(perm) != list(range(len(perm))):
        t = graph.make("onnx.Transpose", [v], [TensorType(v.dtype, tuple(v.shape[p] for p in perm))],
                       {"perm": list(perm)}, name=f"{node.name}.{tag}.t", before=node)
        v = t.outputs[0]
    if tuple(shape) != tuple(v.shape):
        sc = graph.add_const(f"{node.name}.{tag}.shape", np.asarray(shape, np.int64))
        v = graph.make("onnx.Reshape", [v, sc], [TensorType(v.dtype, tuple(shape))],
                       name=f"{node.name}.{tag}.r", before=node).outputs[0]
    return v


def einsum_to_matmul(graph: Graph, node: Node) -> bool:
    parsed = _parse(str(node.attrs.get("equation", "")))
    if parsed is None or len(node.inputs) != 2 or not node.outputs[0].dtype.is_float:
        return False
    a, b, c = parsed
    x, y = node.inputs
    plan = _plan(a, b, c, x.shape, y.shape)
    if plan is None:
        return False
    size, batch, contract, fa, fb = plan
    prod = lambda letters: int(np.prod([size[ch] for ch in letters], dtype=np.int64))
    bs = [size[ch] for ch in batch]
    xa = _view(graph, node, x, [a.index(ch) for ch in batch + fa + contract],
               bs + [prod(fa), prod(contract)], "a")
    yb = _view(graph, node, y, [b.index(ch) for ch in batch + contract + fb],
               bs + [prod(contract), prod(fb)], "b")
    mm = graph.make("onnx.MatMul", [xa, yb], [TensorType(node.outputs[0].dtype,
                                                          tuple(bs + [prod(fa), prod(fb)]))],
                    name=f"{node.name}.mm", before=node).outputs[0]
    order = batch + fa + fb
    res = _view(graph, node, mm, list(range(len(bs) + 2)), [size[ch] for ch in order], "c")
    res = _view(graph, node, res, [order.index(ch) for ch in c], [size[ch] for ch in c], "o")
    graph.replace_node(node, "onnx.Identity", [res])
    return True
