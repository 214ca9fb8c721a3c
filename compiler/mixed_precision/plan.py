"""From a float graph and calibration samples to an ILP :class:`Problem`, and
from its :class:`Solution` to the per-layer table (printed and in the manifest).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Optional

from qcc.errors import BudgetError
from qcc.ir import Graph

from . import sensitivity
from .costs import UNITS, Layer, cost_tables, find_layers, latency_model, parse_budget
from .ilp import Problem, Solution, evaluate, restrict, solve, uniform_cost
from .joint import JointMeter, joint_cache_file
from .latency import load_latency_table

DEFAULT_BITS = (2, 4, 8)
# "auto" widths: the ILP over HAWQ-V3's {4, 8} and over {2, 4, 8}; when both meet
# the budgets and differ, the one whose measured joint output change is smaller.
# int2 layers (no retraining) compound worse than their summed sensitivities say
# (docs/mixed_precision.md, "Automatic widths"), which only the joint measurement sees.
AUTO_FIRST = (4, 8)
JOINT_SAMPLES = 128  # calibration samples for the joint check (32 were too noisy)
JOINT_MARGIN = 0.05  # 2/4/8 must change the output this much less than 4/8 to be kept
FLAGS = {"size": "--size-budget", "bops": "--bops-budget", "latency": "--latency-budget"}


@dataclass
class Plan:
    layers: list[Layer]
    problem: Problem
    sens_info: dict = field(default_factory=dict)
    auto: bool = False  # candidate widths chosen by solve_plan (AUTO_FIRST, then all)
    used_bits: tuple = ()  # the widths the solution was chosen from
    latency_note: str = ""  # where the latency costs come from
    meter: Optional[JointMeter] = None  # joint output change of an assignment (auto widths)
    auto_check: dict = field(default_factory=dict)  # widths -> measured joint change


def pins_for(layers: list[Layer], patterns: list[str]) -> dict[int, int]:
    """Layer index -> 8 for the first and last layer (unless a pattern is
    ``none``) and every layer whose node or weight name matches a glob."""
    pins: dict[int, int] = {}
    pats = [p for p in patterns if p]
    if "none" not in pats and layers:
        pins[0] = pins[len(layers) - 1] = 8
    for pat in (p for p in pats if p != "none"):
        hit = [i for i, lay in enumerate(layers)
               if fnmatch.fnmatchcase(lay.name, pat) or fnmatch.fnmatchcase(lay.weight, pat)]
        if not hit:
            shown = ", ".join(f"'{lay.name}'" for lay in layers[:8])
            more = f" and {len(layers) - 8} more" if len(layers) > 8 else ""
            raise BudgetError(f"--keep-8bit '{pat}' matches no quantizable layer; the layers are "
                              f"{shown}{more}")
        pins.update({i: 8 for i in hit})
    return pins


def ties_for(layers: list[Layer], tie_inputs: bool = True) -> list[tuple[int, int]]:
    """Layers reusing a weight are tied to its first user; with ``tie_inputs`` so
    are layers reading the same activation (a block's conv and its downsample,
    q/k/v): they can share one kernel launch over the same input."""
    ties = [(lay.shares_weight_with, i) for i, lay in enumerate(layers)
            if lay.shares_weight_with is not None]
    if tie_inputs:
        first: dict[str, int] = {}
        for i, lay in enumerate(layers):
            if lay.input in first:
                ties.append((first[lay.input], i))
            else:
                first[lay.input] = i
    return ties


def budgets_from(options: dict, problem: Problem) -> dict[str, float]:
    out = {}
    for kind, flag in FLAGS.items():
        val = parse_budget(options.get(f"{kind}_budget"), kind, uniform_cost(problem, kind, 8), flag)
        if val is not None:
            out[kind] = val
    if not out:
        raise BudgetError("--weight-bits mixed needs a budget: give --size-budget (bytes or a "
                          "percentage of int8, e.g. 60%), --bops-budget or --latency-budget")
    return out


def build(graph: Graph, samples: list[dict], options: dict, progress=None,
          joint_samples: Optional[list] = None) -> Plan:
    """Layers, sensitivities (cached), costs, ties and pins of ``graph``; budgets
    from ``options`` (``size_budget``/``bops_budget``/``latency_budget``).  The
    automatic width check runs on ``joint_samples`` (default ``samples``)."""
    bits, auto = parse_bits(options.get("mixed_bits"))
    group = options.get("group_size")
    layers = find_layers(graph, group)
    mode = options.get("sensitivity") or "auto"
    metric = None if mode in ("auto", "hessian", "output") else mode
    omega, info = sensitivity.measure(
        graph, layers, bits, samples, metric=metric, mode="hessian" if mode == "hessian" else "output",
        group_size=group, cache=options.get("sensitivity_cache"),
        engine=options.get("sensitivity_engine", "auto"), progress=progress)
    table = options.get("latency_table")
    table = load_latency_table(table) if isinstance(table, str) else table
    costs = cost_tables(layers, bits, options.get("target", "c"), table)
    units = dict(UNITS, **({"latency": table.unit} if table is not None else {}))
    p = Problem([lay.name for lay in layers], bits, omega, costs,
                ties=ties_for(layers, options.get("tie_shared_inputs", True)),
                pins=pins_for(layers, list(options.get("keep_8bit") or [])), units=units)
    p.budgets = budgets_from(options, p)
    note = table.note if table is not None else latency_model(options.get("target", "c")).note
    meter = JointMeter(graph, layers, joint_samples or samples, info["metric"], group,
                       joint_cache_file(info.get("cache_file")),
                       options.get("sensitivity_engine", "auto")) if auto else None
    return Plan(layers, p, info, auto=auto, used_bits=bits, latency_note=note, meter=meter)


def parse_bits(value) -> tuple[tuple[int, ...], bool]:
    """``(widths to measure, auto)`` from ``--mixed-bits``: ``auto`` (default) or a
    comma-separated subset of 2,4,8 that includes 8."""
    if value is None or str(value).strip().lower() in ("", "auto"):
        return DEFAULT_BITS, True
    items = [x for x in str(value).replace(" ", "").split(",") if x] if isinstance(value, str) \
        else list(value)
    try:
        bits = tuple(sorted({int(x) for x in items}))
    except (TypeError, ValueError):
        bits = ()
    if not bits or not set(bits) <= {2, 4, 8} or 8 not in bits:
        raise BudgetError(f"--mixed-bits '{value}': give 'auto' or comma-separated widths among "
                          f"2, 4, 8 that include 8 (e.g. 4,8 or 2,4,8)")
    return bits, False


def solve_plan(plan: Plan) -> Solution:
    """The ILP's answer.  With automatic widths: the answers over AUTO_FIRST and over
    all widths; when both exist and differ, the 2/4/8 one only if its measured joint
    output change is JOINT_MARGIN smaller (``plan.auto_check``).  The solution's
    ``choice`` indexes ``plan.problem.bits``."""
    p = plan.problem
    plan.used_bits, plan.auto_check = p.bits, {}
    if not (plan.auto and set(AUTO_FIRST) < set(p.bits)):
        return solve(p)
    try:
        first = evaluate(p, solve(restrict(p, AUTO_FIRST)).bits)
    except BudgetError:
        return solve(p)  # 2-bit layers are needed to meet the budgets
    full = solve(p)
    if full.bits != first.bits and plan.meter is not None:
        d_first, d_full = plan.meter.divergence(first.bits), plan.meter.divergence(full.bits)
        plan.auto_check = {"/".join(map(str, AUTO_FIRST)): d_first, "/".join(map(str, p.bits)): d_full}
        if d_full < (1 - JOINT_MARGIN) * d_first:
            return full
    plan.used_bits = AUTO_FIRST
    return first


def table(plan: Plan, sol: Solution) -> list[dict]:
    p = plan.problem
    rows = []
    for i, lay in enumerate(plan.layers):
        j = int(sol.choice[i])
        rows.append({"layer": lay.name, "op": lay.op, "params": lay.params, "bits": p.bits[j],
                     "sensitivity": float(p.omega[i, j]), "bytes": int(p.costs["size"][i, j]),
                     "bops": int(p.costs["bops"][i, j]), "latency": float(p.costs["latency"][i, j]),
                     "pinned": i in p.pins})
    return rows


def summary(plan: Plan, sol: Solution, target: str) -> dict:
    p = plan.problem
    return {
        "candidates": list(plan.used_bits or p.bits),
        "candidates_rule": ("auto: the 4/8 ILP answer unless the 2/4/8 one changes the output "
                            f"{100 * JOINT_MARGIN:.0f}% less (measured jointly); 2/4/8 alone "
                            "below the 4/8 floor"
                            if plan.auto else "--mixed-bits"),
        "auto_check": dict(plan.auto_check),
        "objective": sol.objective,
        "totals": {k: float(v) for k, v in sol.totals.items()},
        "int8_totals": {k: uniform_cost(p, k, 8) for k in p.costs},
        "budgets": dict(p.budgets), "units": dict(p.units),
        "ties": [[p.names[a], p.names[b]] for a, b in p.ties],
        "pinned": [p.names[i] for i in sorted(p.pins)],
        "latency_model": plan.latency_note or latency_model(target).note,
        "sensitivity": plan.sens_info,
    }


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


def format_table(rows: list[dict], summ: dict) -> str:
    w = max([len(r["layer"]) for r in rows] + [5])
    cands = "/".join(map(str, summ["candidates"]))
    unit = summ["units"].get("latency", "cycles")
    lines = [f"mixed precision ({summ['sensitivity'].get('metric')} sensitivity, "
             f"{summ['sensitivity'].get('mode')}, cache {summ['sensitivity'].get('cache')}; "
             f"widths {cands}{' auto' if summ['candidates_rule'].startswith('auto') else ''}):",
             f"  {'layer':<{w}} {'bits':>4} {'sensitivity':>12} {'bytes':>10} {'BOPs':>14} {unit:>12}"]
    for r in rows:
        pin = " pinned" if r["pinned"] else ""
        lines.append(f"  {r['layer']:<{w}} {r['bits']:>4} {r['sensitivity']:>12.4g} {r['bytes']:>10,} "
                     f"{r['bops']:>14,} {_num(r['latency']):>12}{pin}")
    t, i8 = summ["totals"], summ["int8_totals"]
    lines.append(f"  {'total':<{w}} {'':>4} {summ['objective']:>12.4g} {int(t['size']):>10,} "
                 f"{int(t['bops']):>14,} {_num(t['latency']):>12}")
    lines.append(f"  {'int8':<{w}} {'':>4} {'':>12} {int(i8['size']):>10,} {int(i8['bops']):>14,} "
                 f"{_num(i8['latency']):>12}")
    for k, v in summ["budgets"].items():
        lines.append(f"  {k} budget {_num(v)} {summ['units'][k]}: used {_num(t[k])} "
                     f"({100 * t[k] / i8[k]:.1f}% of int8)")
    if summ.get("auto_check"):
        chk = ", ".join(f"{w} {v:.4g}" for w, v in summ["auto_check"].items())
        lines.append(f"  auto widths: measured joint {summ['sensitivity'].get('metric')} {chk}; "
                     f"kept {cands}")
    return "\n".join(lines)


def first_samples(graph: Graph, data, n: Optional[int]) -> list[dict]:
    from qcc.interp import check_feeds
    from qcc.npzio import iter_samples

    out = []
    for s in iter_samples(graph, data, "calibration data"):
        if n is not None and len(out) >= n:
            break
        out.append(check_feeds(graph, s))
    return out


def omega_of(p: Problem, bits: list[int]) -> float:
    return float(sum(p.omega[i, p.bits.index(b)] for i, b in enumerate(bits)))


__all__ = ["Plan", "build", "parse_bits", "solve_plan", "AUTO_FIRST", "table", "summary", "format_table", "first_samples", "omega_of",
           "pins_for", "ties_for", "budgets_from", "DEFAULT_BITS", "JOINT_SAMPLES"]
