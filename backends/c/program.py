"""Build a :class:`~qcc.backends.c.lower.Program` from an integer graph.

1. the boundary: float graph inputs must feed one ``qcc.quantize`` (its int
   result is the C input, quantized by the caller/runner), graph outputs made by
   ``qcc.dequantize`` export its integer input; integer inputs/outputs (token
   ids, arg-max indices) pass as they are;
2. every other node is lowered by the rule registered for its op; all nodes
   without a rule are reported together;
3. liveness of the arena buffers (alias groups, scratch) and the memory plan;
4. operands become C expressions.
"""

from __future__ import annotations

from typing import Callable

from qcc.errors import LoweringError, UnsupportedOpError
from qcc.ir import DType, Graph, Node

from .lower import ALIGN, CTYPES, DT_CODES, Arg, Buffer, IoSpec, Lowerer, Program, c_nbytes, \
    check_plan, plan_memory
from qcc.lower.memplan import Access, MemoryPlanError, check_schedule

RULES: dict[str, Callable[[Lowerer, Node], None]] = {}


def rule(*ops: str):
    def deco(fn):
        for op in ops:
            RULES[op] = fn
        return fn
    return deco


def _load_rules() -> None:
    from . import rules_elem, rules_logic, rules_move, rules_nn, rules_tf  # noqa: F401


def build_program(graph: Graph, name: str) -> Program:
    _load_rules()
    lw = Lowerer(graph, name)
    skip = _boundary(lw)
    todo = [n for n in graph.nodes if id(n) not in skip]
    missing = [n for n in todo if n.op not in RULES]
    if missing:
        err = UnsupportedOpError([(n.op, n.name, 0) for n in missing], "node")
        kinds = sorted({n.op for n in missing})
        shown = ", ".join(f"{n.op} '{n.name}'" for n in missing[:12])
        more = f" and {len(missing) - 12} more" if len(missing) > 12 else ""
        err.args = (f"target c has no kernel for {len(missing)} node(s) [{', '.join(kinds)}]: "
                    f"{shown}{more}; a float op left after quantization needs a calibration "
                    f"range (--calib) or an integer rule (ops kept float with --allow-float "
                    f"cannot run: the C model code has no float)",)
        raise err
    for n in todo:
        RULES[n.op](lw, n)
    _plan(lw)
    return lw.p


def _boundary(lw: Lowerer) -> set:
    g, p = lw.g, lw.p
    skip = set()
    for k, gi in enumerate(g.inputs):
        if gi.dtype.is_float:
            users = list(gi.users)
            if len(users) != 1 or users[0].op != "qcc.quantize":
                ops = sorted({u.op for u in users}) or ["nothing"]
                raise LoweringError(
                    f"target c: float input '{gi.name}' must feed exactly one qcc.quantize "
                    f"(it feeds {', '.join(ops)}); compile with --calib so it is quantized")
            q = users[0]
            skip.add(id(q))
            v = q.outputs[0]
            spec = IoSpec(k, gi.name, v, CTYPES[v.dtype], v.type.numel, "float32",
                          float(q.attr("scale")), int(q.attr("zero_point", 0)))
        elif gi.dtype in DT_CODES:
            spec = IoSpec(k, gi.name, gi, CTYPES[gi.dtype], gi.type.numel, gi.dtype.name)
        else:
            raise LoweringError(f"target c: input '{gi.name}' has dtype {gi.dtype.name}, "
                                f"which the C API does not take")
        p.inputs.append(spec)
        lw.bind(spec.value, "in", k)
    for k, go in enumerate(g.outputs):
        prod = go.producer
        if prod is not None and prod.op == "qcc.dequantize" and not go.users:
            skip.add(id(prod))
            v = prod.inputs[0]
            spec = IoSpec(k, go.name, v, CTYPES[v.dtype], v.type.numel, "float32",
                          float(prod.attr("scale")), int(prod.attr("zero_point", 0)))
        elif prod is not None and go.dtype in DT_CODES:
            v = go
            spec = IoSpec(k, go.name, v, CTYPES[v.dtype], v.type.numel, go.dtype.name)
        else:
            made = _float_ops(go)
            raise LoweringError(f"target c: output '{go.name}' ({go.dtype.name}){made} is neither "
                                f"an integer tensor nor a qcc.dequantize of one; the C model "
                                f"code has no float (drop --allow-float for its ops, or --calib)")
        if v.is_const or lw.binding(v) is not None:
            raise LoweringError(f"target c: output '{go.name}' is a constant, a model input "
                                f"or another output; the C API needs it computed")
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


def _lifetimes(lw: Lowerer):
    first, last, roots, inplace = {}, {}, {}, {}
    for i, st in enumerate(lw.p.steps):
        for a in st.args:
            if a.kind != "val":
                continue
            r = lw.find(a.value)
            if lw.binding(r) is not None:
                continue
            roots[id(r)] = r
            if a.write:
                first.setdefault(id(r), i)
            last[id(r)] = i
        if st.inplace_of is not None and st.out is not None:
            src, dst = lw.find(st.inplace_of), lw.find(st.out)
            if lw.binding(src) is None and lw.binding(dst) is None and src is not dst:
                inplace[id(dst)] = src.name
    for key, r in roots.items():
        if key not in first:
            raise LoweringError(f"target c: internal error, '{r.name}' is read before it is written")
    return first, last, roots, inplace


def _plan(lw: Lowerer) -> None:
    first, last, roots, inplace = _lifetimes(lw)
    buffers = [Buffer(r.name, c_nbytes(r), first[k], last[k], inplace.get(k))
               for k, r in roots.items()]
    for i, st in enumerate(lw.p.steps):
        if st.scratch:
            buffers.append(Buffer(f"scratch.{i}", st.scratch, i, i))
    plan = plan_memory(buffers, ALIGN)
    check_plan(buffers, plan)
    p = lw.p
    p.arena, p.lower_bound, p.strategy, p.offsets = plan.arena, plan.lower_bound, plan.strategy, plan.offsets
    p.extra_info.update(inplace=dict(plan.inplace), rejected=dict(plan.rejected),
                        tried=dict(plan.tried))
    _replay(lw, plan)
    for i, st in enumerate(p.steps):
        st.cargs = [_expr(lw, a, i) for a in st.args]


def _replay(lw: Lowerer, plan) -> None:
    """Replay every step's arena operands over the plan (``memplan.check_schedule``): a
    read must find the bytes its tensor was written to, a call must not overwrite what it
    reads (except an honoured in-place step).  Independent of the lifetimes planned."""
    steps, inplace = [], set()
    for i, st in enumerate(lw.p.steps):
        accs = []
        for a in st.args:
            if a.kind == "scratch":
                accs.append(Access(f"scratch.{i}", plan.offsets[f"scratch.{i}"], st.scratch, True))
            elif a.kind == "val" and lw.binding(a.value) is None:
                r = lw.find(a.value)
                accs.append(Access(r.name, plan.offsets[r.name], c_nbytes(r), a.write))
        if st.out is not None and lw.find(st.out).name in plan.inplace:
            inplace.add(i)
        steps.append(accs)
    try:
        check_schedule(plan.arena, steps, inplace)
    except MemoryPlanError as e:
        raise LoweringError(f"target c: internal error, the memory plan fails the schedule "
                            f"check: {e}") from e


def _expr(lw: Lowerer, a: Arg, i: int) -> str:
    q = "" if a.write else "const "
    if a.kind == "null":
        return "NULL"
    if a.kind == "const":
        c = next(c for c in lw.p.consts.values() if c.cname == a.cname)
        return a.cname if c.ctype == a.ctype else f"(const {a.ctype} *){a.cname}"
    if a.kind == "scratch":
        return f"({a.ctype} *)(arena + {lw.p.offsets[f'scratch.{i}']})"
    r = lw.find(a.value)
    b = lw.binding(r)
    if b is None:
        base = f"arena + {lw.p.offsets[r.name]}"
    else:
        kind, k = b
        if kind == "in" and a.write:
            raise LoweringError(f"target c: internal error, a step writes input '{r.name}'")
        base = f"{kind}{k}"
    return f"({q}{a.ctype} *)({base})"


def dtype_code(dt: DType) -> str:
    if dt not in DT_CODES:
        raise LoweringError(f"target c: dtype {dt.name} has no C kernel type")
    return DT_CODES[dt]
