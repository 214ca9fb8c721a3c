"""``lower(graph, name, target, support)``: an integer IR graph -> a :class:`KernelProgram`.

1. the boundary: float graph inputs must feed one ``qcc.quantize`` (its integer result
   is the program input, quantized by the caller/runner), graph outputs made by
   ``qcc.dequantize`` export its integer input; integer inputs/outputs (token ids,
   arg-max indices) pass as they are;
2. every other node is lowered by its rule (:mod:`qcc.lower.registry`); nodes without a
   rule, nodes whose rule fails and calls the backend does not implement
   (:class:`~qcc.lower.support.Support`) are reported together;
3. residual adds folded into the epilogue of the call making an operand, where the
   target's kernels can (:mod:`qcc.lower.fuse`);
4. liveness of the arena buffers (views, scratch, in place) and the memory plan
   (:mod:`qcc.lower.plan`), replayed against the schedule.
"""

from __future__ import annotations

from typing import Optional

from qcc.errors import LoweringError, UnsupportedOpError
from qcc.ir import DType, Graph

from .fuse import fuse_residuals
from .plan import plan
from .program import Boundary, KernelProgram, Lowerer
from .registry import RULES
from .support import Support
from .target import DEFAULT, Target

BOUNDARY_DTYPES = (DType.int8, DType.uint8, DType.int16, DType.int32, DType.int64, DType.bool)
MAX_SHOWN = 12


def lower(graph: Graph, name: str = "model", target: Target = DEFAULT,
          support: Optional[Support] = None) -> KernelProgram:
    lw = Lowerer(graph, name, target)
    skip = _boundary(lw)
    todo = [n for n in graph.nodes if id(n) not in skip]
    _check_rules(lw, todo)
    problems = []
    for n in todo:
        first = len(lw.p.calls)
        try:
            RULES[n.op](lw, n)
        except LoweringError as e:
            problems.append(str(e))
            continue
        if support is not None:
            for call in lw.p.calls[first:]:
                problems += [f"target {target.name}: {m}" for m in support.problems(call)]
    if problems:
        if len(problems) == 1:
            raise LoweringError(problems[0])
        shown = "; ".join(problems[:MAX_SHOWN])
        more = f"; and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise LoweringError(f"target {target.name}: {len(problems)} problems: {shown}{more}")
    fuse_residuals(lw)
    plan(lw)
    return lw.p


def _check_rules(lw: Lowerer, todo: list) -> None:
    missing = [n for n in todo if n.op not in RULES]
    if not missing:
        return
    err = UnsupportedOpError([(n.op, n.name, 0) for n in missing], "node")
    kinds = sorted({n.op for n in missing})
    shown = ", ".join(f"{n.op} '{n.name}'" for n in missing[:MAX_SHOWN])
    more = f" and {len(missing) - MAX_SHOWN} more" if len(missing) > MAX_SHOWN else ""
    err.args = (f"target {lw.target.name} has no kernel for {len(missing)} node(s) "
                f"[{', '.join(kinds)}]: {shown}{more}; a float op left after quantization "
                f"needs a calibration range (--calib) or an integer rule (ops kept float with "
                f"--allow-float cannot run: the integer program has no float)",)
    raise err


def _boundary(lw: Lowerer) -> set:
    g, p = lw.g, lw.p
    skip = set()
    for k, gi in enumerate(g.inputs):
        if gi.dtype.is_float:
            users = list(gi.users)
            if len(users) != 1 or users[0].op != "qcc.quantize":
                ops = sorted({u.op for u in users}) or ["nothing"]
                raise lw.err(f"float input '{gi.name}' must feed exactly one qcc.quantize "
                             f"(it feeds {', '.join(ops)}); compile with --calib so it is "
                             f"quantized")
            q = users[0]
            skip.add(id(q))
            v = q.outputs[0]
            spec = Boundary(k, gi.name, v, v.type.numel, "float32", float(q.attr("scale")),
                            int(q.attr("zero_point", 0)))
        elif gi.dtype in BOUNDARY_DTYPES:
            spec = Boundary(k, gi.name, gi, gi.type.numel, gi.dtype.name)
        else:
            raise lw.err(f"input '{gi.name}' has dtype {gi.dtype.name}, which the program "
                         f"interface does not take")
        p.inputs.append(spec)
        lw.bind(spec.value, "in", k)
    for k, go in enumerate(g.outputs):
        prod = go.producer
        if prod is not None and prod.op == "qcc.dequantize" and not go.users:
            skip.add(id(prod))
            v = prod.inputs[0]
            spec = Boundary(k, go.name, v, v.type.numel, "float32", float(prod.attr("scale")),
                            int(prod.attr("zero_point", 0)))
        elif prod is not None and go.dtype in BOUNDARY_DTYPES:
            v = go
            spec = Boundary(k, go.name, v, v.type.numel, go.dtype.name)
        else:
            made = _float_ops(go)
            raise lw.err(f"output '{go.name}' ({go.dtype.name}){made} is neither an integer "
                         f"tensor nor a qcc.dequantize of one; the integer program has no "
                         f"float (drop --allow-float for its ops, or --calib)")
        if v.is_const or lw.binding(v) is not None:
            raise lw.err(f"output '{go.name}' is a constant, a model input or another output; "
                         f"the program interface needs it computed")
        p.outputs.append(spec)
        lw.bind(v, "out", k)
    return skip


def _float_ops(v) -> str:
    """' (computed in float by Op 'node', ...)': the float ops upstream of a float output."""
    seen, todo, found = set(), [v.producer], []
    while todo and len(found) < 6:
        n = todo.pop()
        if n is None or id(n) in seen or n.op in ("qcc.dequantize", "qcc.quantize"):
            continue
        seen.add(id(n))
        if any(o.dtype.is_float for o in n.outputs):
            found.append(f"{n.op} '{n.name}'")
            todo.extend(i.producer for i in n.inputs if i is not None and i.dtype.is_float)
    return f" (computed in float by {', '.join(found)})" if found else ""
