"""The bit-width assignment as a 0/1 integer linear program (HAWQ-V3 style).

One binary ``x[l, j]`` per layer ``l`` and candidate width ``bits[j]``;
minimise ``sum omega[l, j] * x[l, j]`` subject to

* exactly one width per layer: ``sum_j x[l, j] = 1``;
* one row per budget kind ``k`` (size, bops, latency, ...):
  ``sum cost_k[l, j] * x[l, j] <= budget_k``;
* ties ``x[a, j] = x[b, j]`` for every ``j`` (layers that must share a width);
* pins: ``x[l, j] = 0`` for every width other than the pinned one.

Solved with ``scipy.optimize.milp`` (HiGHS).  When the program is infeasible,
:func:`solve` raises :class:`qcc.errors.BudgetError` naming each budget that
cannot be met and the smallest value that would be feasible (itself the
optimum of the same program with that cost as the objective).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from qcc.errors import BudgetError

# budgets are met up to this relative slack (HiGHS works in floating point)
REL_TOL = 1e-9


@dataclass
class Problem:
    """Inputs of the ILP.  ``omega`` and every ``costs[k]`` are ``[L, len(bits)]``."""

    names: list[str]
    bits: tuple[int, ...]
    omega: np.ndarray
    costs: dict[str, np.ndarray] = field(default_factory=dict)
    budgets: dict[str, float] = field(default_factory=dict)
    ties: list[tuple[int, int]] = field(default_factory=list)
    pins: dict[int, int] = field(default_factory=dict)  # layer index -> bits
    units: dict[str, str] = field(default_factory=dict)  # cost kind -> unit for messages

    def __post_init__(self) -> None:
        self.bits = tuple(int(b) for b in self.bits)
        self.omega = np.asarray(self.omega, np.float64)
        shape = (len(self.names), len(self.bits))
        if self.omega.shape != shape:
            raise ValueError(f"omega has shape {self.omega.shape}, expected {shape}")
        self.costs = {k: np.asarray(c, np.float64) for k, c in self.costs.items()}
        for k, c in self.costs.items():
            if c.shape != shape:
                raise ValueError(f"cost '{k}' has shape {c.shape}, expected {shape}")
        self.check()

    def check(self) -> None:
        """Budgets name known costs; pins name candidate widths (checked again by
        :func:`solve`, since fields may be set after construction)."""
        for k in self.budgets:
            if k not in self.costs:
                raise ValueError(f"budget '{k}' has no cost table")
        for i, b in self.pins.items():
            if b not in self.bits:
                raise BudgetError(f"layer '{self.names[i]}' is pinned to {b} bits, which is not "
                                  f"a candidate width ({', '.join(map(str, self.bits))})")


@dataclass
class Solution:
    bits: list[int]  # per layer
    choice: np.ndarray  # [L] index into Problem.bits
    objective: float
    totals: dict[str, float]  # cost kind -> total of the chosen widths


def _equalities(p: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-choice rows, tie rows and pin rows as ``A x = rhs``."""
    n_l, n_b = len(p.names), len(p.bits)
    rows, rhs = [], []
    for i in range(n_l):
        r = np.zeros(n_l * n_b)
        r[i * n_b:(i + 1) * n_b] = 1
        rows.append(r)
        rhs.append(1.0)
    for a, b in p.ties:
        for j in range(n_b):
            r = np.zeros(n_l * n_b)
            r[a * n_b + j], r[b * n_b + j] = 1, -1
            rows.append(r)
            rhs.append(0.0)
    for i, bits in p.pins.items():
        r = np.zeros(n_l * n_b)
        r[i * n_b + p.bits.index(bits)] = 1
        rows.append(r)
        rhs.append(1.0)
    a = np.array(rows)
    return a, np.array(rhs), np.array(rhs)


def _milp(p: Problem, objective: np.ndarray, budgets: dict[str, float]):
    a_eq, lo, hi = _equalities(p)
    cons = [LinearConstraint(a_eq, lo, hi)]
    for k, limit in budgets.items():
        c = p.costs[k].reshape(-1)
        slack = REL_TOL * max(abs(limit), float(np.abs(c).max(initial=0.0)), 1.0)
        cons.append(LinearConstraint(c.reshape(1, -1), -np.inf, limit + slack))
    n = objective.size
    return milp(objective.reshape(-1), constraints=cons, integrality=np.ones(n),
                bounds=Bounds(np.zeros(n), np.ones(n)))


def _decode(p: Problem, x: np.ndarray) -> Solution:
    n_l, n_b = len(p.names), len(p.bits)
    choice = np.argmax(np.asarray(x).reshape(n_l, n_b), axis=1)
    return Solution(bits=[p.bits[j] for j in choice], choice=choice,
                    objective=float(p.omega[np.arange(n_l), choice].sum()),
                    totals={k: float(c[np.arange(n_l), choice].sum()) for k, c in p.costs.items()})


def evaluate(p: Problem, bits: Sequence[int]) -> Solution:
    """The :class:`Solution` record of a given per-layer assignment ``bits``."""
    n_l = len(p.names)
    choice = np.array([p.bits.index(int(b)) for b in bits], int).reshape(n_l)
    return Solution([p.bits[j] for j in choice], choice,
                    float(p.omega[np.arange(n_l), choice].sum()),
                    {k: float(c[np.arange(n_l), choice].sum()) for k, c in p.costs.items()})


def min_cost(p: Problem, kind: str, budgets: Optional[dict[str, float]] = None) -> Optional[float]:
    """Smallest total of cost ``kind`` over assignments meeting ``budgets``
    (and the ties and pins); None when even that is infeasible."""
    res = _milp(p, p.costs[kind], budgets or {})
    return float(res.fun) if res.status == 0 else None


def _fmt(v: float, unit: str) -> str:
    if unit == "%":
        return f"{v:.4g}%"
    return f"{v:,.0f} {unit}".strip() if abs(v) >= 100 else f"{v:.6g} {unit}".strip()


def _pct(p: Problem, kind: str, v: float) -> str:
    """`` (N% of int8)`` when 8 bits is a candidate width."""
    if 8 not in p.bits:
        return ""
    ref = uniform_cost(p, kind, 8)
    return f" ({100 * v / ref:.1f}% of int8)" if ref > 0 else ""


def _infeasible(p: Problem) -> BudgetError:
    parts = []
    for k, limit in p.budgets.items():
        others = {o: v for o, v in p.budgets.items() if o != k}
        best = min_cost(p, k, others)
        unit = p.units.get(k, "")
        if best is None:
            parts.append(f"{k} budget {_fmt(limit, unit)}: no value is feasible with the other budgets")
        elif best > limit * (1 + REL_TOL):
            ctx = " with the other budgets" if others else ""
            parts.append(f"{k} budget {_fmt(limit, unit)}{_pct(p, k, limit)} is below the smallest "
                         f"feasible {_fmt(best, unit)}{_pct(p, k, best)}{ctx}")
    if not parts:
        parts.append("the budgets cannot be met together")
    pins = (f"; {len(p.pins)} layer(s) pinned to 8 bits (the first and last layer and "
            f"--keep-8bit; '--keep-8bit none' frees the first and last)" if p.pins else "")
    return BudgetError("mixed precision: " + "; ".join(parts) + pins
                       + "; raise the budget" + (" or pin fewer layers" if p.pins else ""))


def solve(p: Problem) -> Solution:
    """Optimal assignment of ``p``; :class:`BudgetError` when no assignment fits."""
    p.check()
    if not p.names:
        return Solution([], np.zeros(0, int), 0.0, {k: 0.0 for k in p.costs})
    res = _milp(p, p.omega, p.budgets)
    if res.status == 2:  # infeasible
        raise _infeasible(p)
    if res.status != 0:
        raise BudgetError(f"mixed precision: the ILP solver stopped without a solution "
                          f"(HiGHS status {res.status}: {res.message})")
    return _decode(p, res.x)


def restrict(p: Problem, bits) -> Problem:
    """The same program with only the candidate widths ``bits`` (a subset of
    ``p.bits``); pins to a dropped width are an error from :func:`solve`."""
    keep = [p.bits.index(int(b)) for b in sorted(set(int(b) for b in bits))]
    return Problem(list(p.names), tuple(p.bits[j] for j in keep), p.omega[:, keep],
                   {k: c[:, keep] for k, c in p.costs.items()}, dict(p.budgets), list(p.ties),
                   dict(p.pins), dict(p.units))


def uniform_cost(p: Problem, kind: str, bits: int) -> float:
    """Total cost ``kind`` with every layer at ``bits``."""
    return float(p.costs[kind][:, p.bits.index(bits)].sum())


def fraction_budget(p: Problem, kind: str, f: float, lo_bits: int, hi_bits: int) -> float:
    """HAWQ's budget: ``C(all lo) + f * (C(all hi) - C(all lo))``."""
    lo, hi = uniform_cost(p, kind, lo_bits), uniform_cost(p, kind, hi_bits)
    return lo + f * (hi - lo)


def random_assignment(p: Problem, kind: str, budget: float, rng: np.random.Generator) -> Solution:
    """A random assignment that fills cost ``kind`` up to ``budget``: start from the
    narrowest widths (pins and ties respected), visit the tie groups in random
    order and give each a random wider width that still fits."""
    groups = _tie_groups(p)
    n_l = len(p.names)
    lo = min(range(len(p.bits)), key=lambda j: p.bits[j])
    choice = np.full(n_l, lo, int)
    for i, b in p.pins.items():
        choice[list(_group_of(groups, i))] = p.bits.index(b)
    cost = p.costs[kind]
    for gi in rng.permutation(len(groups)):
        g = list(groups[gi])
        if any(i in p.pins for i in g):
            continue
        total = cost[np.arange(n_l), choice].sum()
        opts = [j for j in range(len(p.bits))
                if total + cost[g, j].sum() - cost[g, lo].sum() <= budget * (1 + REL_TOL)]
        choice[g] = rng.choice(opts) if opts else lo
    return evaluate(p, [p.bits[j] for j in choice])


def closed_pins(p: Problem) -> dict[int, int]:
    """The pins extended over the ties: every layer tied (directly or through
    others) to a pinned layer has that layer's width."""
    groups = _tie_groups(p)
    out: dict[int, int] = {}
    for i, b in p.pins.items():
        out.update({j: b for j in _group_of(groups, i)})
    return out


def uniform_assignment(p: Problem, bits: int) -> list[int]:
    """Every layer at ``bits`` except the pinned ones and those tied to them."""
    pins = closed_pins(p)
    return [pins.get(i, int(bits)) for i in range(len(p.names))]


def _tie_groups(p: Problem) -> list[set[int]]:
    parent = list(range(len(p.names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in p.ties:
        parent[find(a)] = find(b)
    groups: dict[int, set[int]] = {}
    for i in range(len(p.names)):
        groups.setdefault(find(i), set()).add(i)
    return list(groups.values())


def _group_of(groups: Sequence[set[int]], i: int) -> set[int]:
    return next(g for g in groups if i in g)
