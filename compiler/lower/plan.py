"""Liveness of a kernel program's arena buffers, the memory plan, and its independent replay.

Arena buffers: every activation that is not at the boundary (views share their root's
buffer) and each call's scratch.  A buffer lives from the call that first writes it to
the call that last touches it; in-place requests (``Kernel.inplace_of``) are honoured by
the planner when legal (:mod:`qcc.lower.memplan`).
"""

from __future__ import annotations

from .memplan import Access, Buffer, MemoryPlanError, check_plan, check_schedule, plan_memory
from .program import Lowerer, MemoryPlan, buffer_nbytes


def lifetimes(lw: Lowerer):
    """(first write, last use, roots, in-place requests) of every arena buffer, by id."""
    first, last, roots, inplace = {}, {}, {}, {}
    for i, call in enumerate(lw.p.calls):
        for v, write in call.tensors():
            r = lw.find(v)
            if v.is_const or lw.binding(r) is not None:
                continue
            roots[id(r)] = r
            if write:
                first.setdefault(id(r), i)
            last[id(r)] = i
        out = call.out
        if call.inplace_of is not None and out is not None:
            src, dst = lw.find(call.inplace_of), lw.find(out)
            if lw.binding(src) is None and lw.binding(dst) is None and src is not dst:
                inplace[id(dst)] = src.name
    for key, r in roots.items():
        if key not in first:
            raise lw.err(f"internal error, '{r.name}' is read before it is written")
    return first, last, roots, inplace


def plan(lw: Lowerer) -> MemoryPlan:
    first, last, roots, inplace = lifetimes(lw)
    buffers = [Buffer(r.name, buffer_nbytes(r), first[k], last[k], inplace.get(k))
               for k, r in roots.items()]
    for i, call in enumerate(lw.p.calls):
        if call.scratch:
            buffers.append(Buffer(f"scratch.{i}", call.scratch, i, i))
    align = lw.target.align
    mp = plan_memory(buffers, align)
    buffers = widen_scratch(lw, buffers, mp, align)
    check_plan(buffers, mp)
    lw.p.plan = MemoryPlan(mp.arena, mp.lower_bound, mp.strategy, align, mp.offsets,
                           dict(mp.inplace), dict(mp.rejected), dict(mp.tried))
    replay(lw)
    limit = lw.target.arena_limit
    if limit is not None and mp.arena > limit:
        raise lw.err(f"the activation arena needs {mp.arena} bytes (lower bound "
                     f"{mp.lower_bound}); the target holds {limit}")
    return lw.p.plan


def widen_scratch(lw: Lowerer, buffers: list, mp, align: int) -> list:
    """Grant the calls' wider scratch options (``Kernel.wider``) where the plan has room:
    a call's scratch lives at its step only, so an option fits when an aligned gap of its
    size lies in ``[0, arena)`` between the buffers live at that step (the scratch's own
    offset first).  The arena and its lower bound (the program's need with the narrow
    scratch) stay as planned; returns the buffers with the granted sizes."""
    out = list(buffers)
    for i, call in enumerate(lw.p.calls):
        if not call.wider or not call.scratch:
            continue
        name = f"scratch.{i}"
        busy = sorted((mp.offsets[b.name], mp.offsets[b.name] + b.size) for b in out
                      if b.first <= i <= b.last and b.name != name)
        for size, attr, value in call.wider:
            off = _gap(busy, mp.offsets[name], size, mp.arena, align)
            if off is not None:
                mp.offsets[name], call.scratch = off, size
                setattr(call, attr, value)
                out = [Buffer(name, size, i, i) if b.name == name else b for b in out]
                break
    return out


def _gap(busy: list, prefer: int, size: int, arena: int, align: int):
    """The lowest aligned offset (``prefer`` if it fits) where ``size`` bytes overlap no
    interval of ``busy`` (sorted) and end within ``arena``; None if there is none."""
    def free(o: int) -> bool:
        return o + size <= arena and all(e <= o or s >= o + size for s, e in busy)

    if free(prefer):
        return prefer
    for o in [0] + [-(-e // align) * align for _, e in busy]:
        if free(o):
            return o
    return None


def replay(lw: Lowerer) -> None:
    """Replay every call's arena operands over the plan (``memplan.check_schedule``): a
    read must find the bytes its tensor was written to, a call must not overwrite what it
    reads (except an honoured in-place call).  Independent of the lifetimes planned."""
    p, mp = lw.p, lw.p.plan
    steps, inplace = [], set()
    for i, call in enumerate(p.calls):
        accs = []
        for v, write in call.tensors():
            if not v.is_const and lw.binding(v) is None:
                r = lw.find(v)
                accs.append(Access(r.name, mp.offsets[r.name], buffer_nbytes(r), write))
        if call.scratch:
            accs.append(Access(f"scratch.{i}", mp.offsets[f"scratch.{i}"], call.scratch, True))
        out = call.out
        if out is not None and lw.find(out).name in mp.inplace:
            inplace.add(i)
        steps.append(accs)
    try:
        check_schedule(mp.arena, steps, inplace)
    except MemoryPlanError as e:
        raise lw.err(f"internal error, the memory plan fails the schedule check: {e}") from e
