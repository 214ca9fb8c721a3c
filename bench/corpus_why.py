"""Why a model misses a speed goal, derived from its measured per-layer profile.

``qcc profile`` (backends/c/profile.py) gives per step the time (host, ns) or the
instructions (Cortex-M, QEMU icount) and the MACs.  Here the steps are grouped into
layer kinds read from the IR (depthwise kxk, 1x1 conv, kxk conv, grouped conv, linear,
attention matmul, and every other op by name), with each kind's share of the whole
run, its cost per MAC and the output planes its convs write; the "why" of a row is
the leading kinds by share.  Nothing here knows any model: the text comes from the
measurement and the graph.
"""

from __future__ import annotations

import os


def _hw(shape) -> str | None:
    return f"{shape[-2]}x{shape[-1]}" if shape is not None and len(shape) == 4 else None


def layer_kind(node) -> str:
    """A layer's kind from its IR node (op and, for convolutions, kernel size and groups)."""
    if node is None:
        return "?"
    op = node.op.split(".")[-1]
    if op in ("conv2d", "conv_transpose2d") and len(node.inputs) > 1 and node.inputs[1].shape:
        w = node.inputs[1].shape
        k = "x".join(str(d) for d in w[2:]) or "1"
        g = int(node.attrs.get("group", 1) or 1)
        cin = node.inputs[0].shape[1] if node.inputs[0].shape and len(node.inputs[0].shape) > 1 else 0
        if op == "conv_transpose2d":
            return f"transposed conv {k}"
        if g > 1 and g == cin:
            return f"depthwise {k}"
        if g > 1:
            return f"grouped conv {k}"
        return "1x1 conv" if all(d == 1 for d in w[2:]) else f"conv {k}"
    if op == "matmul":
        consts = sum(1 for v in node.inputs[:2] if v is not None and v.is_const)
        return "matmul" if consts else "attention matmul"
    return op


UNATTRIBUTED = 0.05
NOT_IN_A_STEP = "unattributed"


def groups(profile: dict, graph) -> list[dict]:
    """The profile's steps grouped by layer kind, largest share first: ``kind, layers,
    cost, macs, share`` (of the whole run), ``per_mac`` (cost/MAC or None) and ``planes``
    (the smallest and largest output plane HxW of its 4-D outputs).  Where the median whole
    run exceeds the sum of the steps' medians by more than 5 %, the difference is a kind of
    its own, ``unattributed``: time no single step owns in the typical run (such as a stall
    that hits a different step each run)."""
    unit = profile["unit"]
    by_name = {n.name: n for n in graph.nodes} if graph is not None else {}
    steps = sum(r[unit] for r in profile["layers"])
    total = float((profile.get("total") or {}).get(unit) or 0)
    out: dict[str, dict] = {}
    if total - steps > UNATTRIBUTED * total:  # e.g. stalls that hit a different step each run
        out[NOT_IN_A_STEP] = {"kind": NOT_IN_A_STEP, "layers": 0, "cost": total - steps, "macs": 0,
                              "planes": []}
    else:  # medians do not add up exactly: shares of the steps
        total = steps or 1
    for r in profile["layers"]:
        node = by_name.get(r["node"])
        kind = layer_kind(node) if node is not None else r["op"].split(".")[-1]
        g = out.setdefault(kind, {"kind": kind, "layers": 0, "cost": 0.0, "macs": 0, "planes": []})
        g["layers"] += 1
        g["cost"] += r[unit]
        g["macs"] += r["macs"]
        hw = _hw(node.outputs[0].shape) if node is not None and node.outputs else None
        if hw and r["macs"]:
            g["planes"].append(hw)
    res = []
    for g in out.values():
        areas = sorted(set(g.pop("planes")), key=lambda s: int(s.split("x")[0]) * int(s.split("x")[1]))
        g["planes"] = [areas[0], areas[-1]] if areas else []
        g["share"] = round(g["cost"] / total, 4)
        g["per_mac"] = round(g["cost"] / g["macs"], 3) if g["macs"] else None
        res.append(g)
    return sorted(res, key=lambda g: -g["cost"])


def linear_per_mac(profile: dict, graph) -> float | None:
    """Cost per MAC over the linear and matmul layers (the transformer-linears figure)."""
    gs = [g for g in groups(profile, graph) if g["kind"] in ("linear", "matmul", "attention matmul")]
    macs = sum(g["macs"] for g in gs)
    return round(sum(g["cost"] for g in gs) / macs, 3) if macs else None


def _num(x: float) -> str:
    return f"{x:.3g}" if x < 10 else f"{x:,.0f}"


def explain(profile: dict, graph, goal_per_mac: float | None = None) -> dict:
    """What a row stores of a profile: its unit, the goal per MAC and the layer kinds."""
    return {"unit": "ns" if profile["unit"] == "ns" else "insns", "goal_per_mac": goal_per_mac,
            "groups": groups(profile, graph)}


def why(ex: dict, top: int = 3) -> str:
    """One line from :func:`explain`: the leading layer kinds by share, each with its cost
    per MAC, layer count and output planes, then the share of layers without MACs and the
    whole-model cost per MAC that would meet the goal."""
    unit, gs = ex["unit"], ex["groups"]
    parts = []
    for g in gs[:top]:
        s = f"{g['kind']} {100 * g['share']:.0f} %"
        if g["per_mac"] is not None:
            s += f" ({_num(g['per_mac'])} {unit}/MAC, {g['layers']}x"
            if g["planes"]:
                lo, hi = g["planes"]
                s += f" on {lo}" + (f"..{hi}" if hi != lo else "")
            s += ")"
        elif g["kind"] == NOT_IN_A_STEP:
            s += " (median run minus the sum of the steps' medians)"
        else:
            s += f" (no MACs, {g['layers']}x)"
        parts.append(s)
    nomac = sum(g["share"] for g in gs if not g["macs"] and g["kind"] != NOT_IN_A_STEP)
    tail = f"; no-MAC layers {100 * nomac:.0f} %" if nomac >= 0.05 else ""
    goal = f"; goal {_num(ex['goal_per_mac'])} {unit}/MAC overall" if ex.get("goal_per_mac") else ""
    return ", ".join(parts) + tail + goal


def load_graph(c_dir: str):
    from qcc.ir.serialize import load as load_ir

    return load_ir(os.path.join(c_dir, "model.qcc"))
