"""Design-space exploration of the accelerator (``qcc dse``, docs/target_accel.md §11).

The integer model is lowered once per hardware configuration (tile search included) and
its instruction streams are run through the timing model; each point gets the total
cycles and an area/cost proxy, and the Pareto front of (cycles, cost) is reported as a
table, JSON and an HTML page with an SVG plot.

Cost proxy (relative units, documented weights ``COST_WEIGHTS``): one int8 PE with its
registers = 1; one KiB of SRAM = 2 (about 512 bytes of SRAM per PE, the order of magnitude
of int8 MAC vs 6T-SRAM cell areas); one byte/cycle of DRAM bandwidth = 8 (interface width).
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import replace

import jinja2

from .hw import HwConfig
from .program import build_program
from .timing import simulate

COST_WEIGHTS = {"pe": 1.0, "sram_kib": 2.0, "dram_bytes_per_cycle": 8.0}

GRIDS = {
    # name: (array sizes, (inp_kib, wgt_kib, acc_kib) triples, bandwidths)
    "tiny": ((8, 16), ((32, 32, 16), (128, 128, 64)), (16,)),
    "small": ((8, 16, 32), ((32, 32, 16), (128, 128, 64), (256, 256, 128)), (8, 16, 32)),
    "default": ((8, 16, 32, 64), ((32, 32, 16), (64, 64, 32), (128, 128, 64), (256, 256, 128)),
                (8, 16, 32, 64)),
}


def cost(hw: HwConfig) -> float:
    sram_kib = hw.sram_bytes() / 1024
    return (COST_WEIGHTS["pe"] * hw.pe + COST_WEIGHTS["sram_kib"] * sram_kib
            + COST_WEIGHTS["dram_bytes_per_cycle"] * hw.dram_bytes_per_cycle)


def configs(grid: str, base: HwConfig) -> list[HwConfig]:
    arrays, srams, bws = GRIDS[grid]
    out = []
    for r, (i, w, a), bw in itertools.product(arrays, srams, bws):
        out.append(replace(base, rows=r, cols=r, inp_kib=i, wgt_kib=w, acc_kib=a,
                           dram_bytes_per_cycle=bw).validate())
    return out


def evaluate(graph, hw: HwConfig, search: int) -> dict:
    ap = build_program(graph, hw, search)
    cycles = 0
    for seg in ap.segments:
        if seg["kind"] == "accel":
            cycles += simulate(ap.instrs[seg["first"]:seg["last"]], hw).total
    macs = sum(ly["macs"] for ly in ap.layers)
    return {"hw": {"rows": hw.rows, "cols": hw.cols, "inp_kib": hw.inp_kib, "wgt_kib": hw.wgt_kib,
                   "acc_kib": hw.acc_kib, "dram_bytes_per_cycle": hw.dram_bytes_per_cycle,
                   "dataflow": hw.dataflow},
            "cycles": cycles, "cost": cost(hw), "macs": macs, "pe": hw.pe,
            "utilization": macs / (hw.pe * cycles) if cycles else 0.0,
            "instructions": len(ap.instrs), "host_ops": len(ap.host_ops)}


def pareto(points: list[dict]) -> list[int]:
    """Indices of the points no other point beats in both cycles and cost."""
    front = []
    for i, p in enumerate(points):
        dominated = any(q["cycles"] <= p["cycles"] and q["cost"] <= p["cost"]
                        and (q["cycles"] < p["cycles"] or q["cost"] < p["cost"])
                        for j, q in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i]["cost"])


def _label(p: dict) -> str:
    h = p["hw"]
    return (f"{h['rows']}x{h['cols']} I{h['inp_kib']}/W{h['wgt_kib']}/A{h['acc_kib']} KiB "
            f"{h['dram_bytes_per_cycle']} B/c")


def table(points: list[dict], front: list[int]) -> str:
    rows = ["| config | cycles | cost | utilisation | Pareto |", "|---|---|---|---|---|"]
    for i in sorted(range(len(points)), key=lambda i: (points[i]["cost"], points[i]["cycles"])):
        p = points[i]
        rows.append(f"| {_label(p)} | {p['cycles']:,} | {p['cost']:,.0f} | "
                    f"{100 * p['utilization']:.1f} % | {'**yes**' if i in front else ''} |")
    return "\n".join(rows)


def _svg(points: list[dict], front: list[int], w: int = 640, h: int = 400) -> dict:
    import math

    xs = [math.log10(p["cost"]) for p in points]
    ys = [math.log10(p["cycles"]) for p in points]
    x0, x1 = min(xs), max(xs) + 1e-9
    y0, y1 = min(ys), max(ys) + 1e-9
    pad = 50

    def px(x, y):
        return (pad + (x - x0) / (x1 - x0) * (w - 2 * pad), h - pad - (y - y0) / (y1 - y0) * (h - 2 * pad))
    dots = [dict(zip(("x", "y"), px(x, y)), label=_label(p), front=i in front,
                 cycles=p["cycles"], cost=p["cost"]) for i, (x, y, p) in enumerate(zip(xs, ys, points))]
    line = " ".join(f"{dots[i]['x']:.1f},{dots[i]['y']:.1f}" for i in front)
    return {"w": w, "h": h, "pad": pad, "dots": dots, "line": line}


def write_report(out_dir: str, model: str, points: list[dict], front: list[int], meta: dict) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    doc = {"model": model, "cost_weights": COST_WEIGHTS, "points": points, "pareto": front, **meta}
    files = ["dse.json", "dse.md", "dse.html"]
    with open(os.path.join(out_dir, files[0]), "w") as f:
        json.dump(doc, f, indent=1)
    md = table(points, front)
    with open(os.path.join(out_dir, files[1]), "w") as f:
        f.write(f"# qcc dse: {model}\n\ncost = {COST_WEIGHTS['pe']:g} per PE + "
                f"{COST_WEIGHTS['sram_kib']:g} per KiB SRAM + {COST_WEIGHTS['dram_bytes_per_cycle']:g} "
                f"per DRAM byte/cycle\n\n{md}\n")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
        autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("dse.html.j2").render(model=model, svg=_svg(points, front),
                                                  weights=COST_WEIGHTS,
                                                  rows=[dict(p, label=_label(p), front=i in front)
                                                        for i, p in enumerate(points)])
    with open(os.path.join(out_dir, files[2]), "w") as f:
        f.write(html)
    return files


def explore(graph, base: HwConfig, grid: str = "small", search: int = 4, progress=None) -> tuple:
    pts = []
    for k, hw in enumerate(configs(grid, base)):
        pts.append(evaluate(graph, hw, search))
        if progress:
            progress(k + 1, pts[-1])
    return pts, pareto(pts)
