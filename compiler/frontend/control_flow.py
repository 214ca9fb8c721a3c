"""Control flow at import: ``If`` whose condition is known at compile time is inlined.

Audio and vision exports branch on things fixed once the input shape is bound
(sample rate, image size, ``dim > 0``): the condition folds to a constant while
the graph is imported, and the taken branch's nodes are imported in place of the
``If`` (their names prefixed with the If's name; names of the outer graph stay
visible inside, as ONNX scoping says).  An ``If`` whose condition depends on the
input data, and ``Loop``/``Scan`` (a body run a data-dependent number of times),
cannot become a static integer graph: each is refused with one line naming the
node and why.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import QccError, UnsupportedOpError
from ..ir import DType, Graph, Value

LOOPS = {"Loop", "Scan"}
BIND_HINT_MAX = 16  # inputs up to this many elements look like settings: suggest --bind


class ControlFlowError(UnsupportedOpError):
    """A control-flow node that cannot be made static."""

    def __init__(self, msg: str):
        QccError.__init__(self, msg)
        self.ops = []


def branches(n: onnx.NodeProto) -> list[onnx.GraphProto]:
    return [a.g for a in n.attribute if a.type == onnx.AttributeProto.GRAPH] + \
        [g for a in n.attribute if a.type == onnx.AttributeProto.GRAPHS for g in a.graphs]


def check_loops(model: onnx.ModelProto) -> None:
    """Loop/Scan anywhere in the model: one clear refusal naming the first one."""
    for i, n in enumerate(model.graph.node):
        if n.domain in ("", "ai.onnx") and n.op_type in LOOPS:
            raise ControlFlowError(
                f"{n.op_type} node '{n.name or f'#{i}'}' cannot be compiled: its body runs a number "
                f"of times known only at inference time, and qcc compiles static graphs; export "
                f"the model with the loop unrolled (e.g. a fixed-length loop in torch.onnx.export)")


def inline_if(graph: Graph, env: dict, n: onnx.NodeProto, name: str, inputs: list,
              import_node: Callable, emit: Callable) -> list[Value]:
    """Import the branch of If ``n`` that its constant condition selects; returns the
    values of the If's outputs."""
    cond = inputs[0]
    if cond is None or not cond.is_const:
        deps = _inputs_behind(cond)
        small = [v.name for v in deps if v.type.numel <= BIND_HINT_MAX]
        hint = (f"; if {', '.join(repr(s) for s in small)} {'is' if len(small) == 1 else 'are'} fixed "
                f"where the model is deployed, bind {'it' if len(small) == 1 else 'them'} at compile "
                f"time: {' '.join(f'--bind {s}=VALUE' for s in small)}") if small else ""
        raise ControlFlowError(
            f"If node '{name}': its condition '{n.input[0]}' is not known at compile time "
            f"(it depends on {sorted(v.name for v in deps) or 'values computed at inference time'}); "
            f"qcc inlines an If only when its condition folds to a constant once the input shapes "
            f"are bound{hint}")
    taken = bool(np.asarray(cond.data).reshape(-1)[0])
    attr = "then_branch" if taken else "else_branch"
    sub = next(a.g for a in n.attribute if a.name == attr)
    scope = dict(env)
    for init in sub.initializer:
        arr = numpy_helper.to_array(init)
        scope[init.name] = graph.add_const(f"{name}/{init.name}", arr, DType.from_numpy(arr.dtype))
    from .onnx_import import _toposorted

    for i, sn in enumerate(_toposorted(sub)):
        inner = onnx.NodeProto()
        inner.CopyFrom(sn)
        inner.name = f"{name}/{sn.name or f'{sn.op_type}_{i}'}"
        import_node(graph, scope, inner, i, True)
    outs = []
    for o, bo in zip(n.output, sub.output):
        if bo.name not in scope:
            raise QccError(f"If node '{name}': branch output '{bo.name}' is produced by no node")
        outs.append(emit(graph, "Identity", [scope[bo.name]], {}, f"{name}/{attr}",
                         [o or f"{name}.unused"], True)[0])
    return outs


def _inputs_behind(v) -> list:
    """Graph inputs that ``v`` depends on (for the error message)."""
    seen, stack, found = set(), [v], []
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if x.producer is None and not x.is_const:
            found.append(x)
        elif x.producer is not None:
            stack.extend(x.producer.inputs)
    return sorted(found, key=lambda x: x.name)


