"""Residual fusion: a requantized add/sub folded into the epilogue of the call that makes
one of its operands, for targets whose kernels can (``Target.fuse_residual`` names the
families).

A :class:`~qcc.lower.kernels.Binary` ``add``/``sub`` call (requantized, both operands and
the output of one shape) whose operand ``y0`` is written by an earlier call ``P`` of a
fusible family is removed, and ``P`` gets a :class:`~qcc.lower.kernels.Residual` and writes
the add's output instead, when:

* ``y0`` is ``P``'s own output (not a view), read by the add only, and not a program output;
* ``P`` requantizes (no int32 accumulators) and has no residual yet;
* the other operand ``r`` is a constant, a program input, or written before ``P`` (the
  fused call reads it at ``P``'s place in the schedule);
* for ``sub``, ``y0`` is the left operand.

The result is bit-identical: ``P`` computes ``y0`` exactly as before, then the add's one
rounding (docs/integer_ops.md).  Runs on the schedule before the memory plan.
"""

from __future__ import annotations

from .kernels import Binary, Kernel, Residual
from .program import Lowerer


def fuse_residuals(lw: Lowerer) -> int:
    """Fold every eligible add/sub; returns how many were folded."""
    families = set(lw.target.fuse_residual)
    if not families:
        return 0
    done = 0
    i = 0
    while i < len(lw.p.calls):
        call = lw.p.calls[i]
        if isinstance(call, Binary) and _fold(lw, i, call, families):
            del lw.p.calls[i]
            done += 1
            continue
        i += 1
    return done


def _readers(lw: Lowerer, v) -> int:
    """Operand slots of all calls that read ``v``'s storage."""
    r = lw.find(v)
    return sum(1 for c in lw.p.calls for u, w in c.tensors() if not w and lw.find(u) is r)


def _writer(lw: Lowerer, v, before: int):
    """Index of the last call before ``before`` writing ``v``'s storage, or None."""
    r = lw.find(v)
    for j in range(before - 1, -1, -1):
        if any(w and lw.find(u) is r for u, w in lw.p.calls[j].tensors()):
            return j
    return None


def _fold(lw: Lowerer, i: int, k: Binary, families: set) -> bool:
    a, b, y = k.a, k.b, k.y
    e = k.epi
    if k.op not in ("add", "sub") or not e.requant or a is b:
        return False
    if not (tuple(a.shape) == tuple(b.shape) == tuple(y.shape)):
        return False
    ms, s = e.mult.values, e.shift.scalar
    zps = (k.a_zp, k.b_zp)
    for side, (y0, r) in enumerate(((a, b), (b, a))):
        if k.op == "sub" and side == 1:
            break
        if y0.is_const or lw.binding(y0) is not None or lw.find(y0) is not y0:
            continue
        j = _writer(lw, y0, i)
        if j is None:
            continue
        p: Kernel = lw.p.calls[j]
        if (p.family not in families or p.out is not y0 or getattr(p, "residual", 1) is not None
                or not p.epi.requant or _readers(lw, y0) != 1):
            continue
        rb = lw.binding(r)
        if not r.is_const and (rb is None or rb[0] != "in"):
            rj = _writer(lw, r, i)
            if rj is None or rj >= j:
                continue
        p.residual = Residual(node=k.node, op=k.op, r=r, m_y=ms[side], m_r=ms[1 - side],
                              shift=s, y_zp=zps[side], r_zp=zps[1 - side], out_dtype=y.dtype,
                              zero_point=e.zero_point, lo=e.lo, hi=e.hi)
        _retarget(p, y)
        return True
    return False


def _retarget(p: Kernel, y) -> None:
    """``p`` now writes ``y`` (its output field holds the add's output)."""
    for name, v, write in p.operands():
        if write:
            setattr(p, name, y)
            return
