"""Geometry of the report's SVG plots (the template only draws what this computes).

Each figure is a dict: ``w``/``h`` (pixels), ``title``, axis ``xticks``/``yticks``
(``pos``, ``label``), and primitives: ``bars`` (x, y, w, h, cls, tip),
``whiskers`` (x1, x2, y), ``lines`` (points "x,y ..."), ``points`` (cx, cy, cls,
label, tip) and ``legend`` (cls, label).
"""

from __future__ import annotations

import math
from typing import Optional

from .ticks import byte_ticks, value_ticks

W, PAD_L, PAD_R, PAD_T, PAD_B = 760, 170, 30, 30, 40
ENGINE_LABELS = {"ort_fp32": "ORT fp32", "ort_int8": "ORT int8", "qcc_c": "qcc C",
                 "qcc_onnx": "qcc ONNX"}


def _log_ticks(lo: float, hi: float) -> list[float]:
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10.0 ** e for e in range(a, b + 1)]


def _fmt(v: float) -> str:
    for unit, f in (("s", 1e6), ("ms", 1e3)):
        if v >= f:
            return f"{v / f:g} {unit}"
    return f"{v:g} µs"


def latency_figure(models: list[dict]) -> Optional[dict]:
    """Horizontal bars (log scale): median latency per model and engine, IQR whiskers."""
    rows = []
    for r in models:
        for k, label in ENGINE_LABELS.items():
            d = (r.get("latency") or {}).get(k)
            if isinstance(d, dict) and d.get("median_us", 0) > 0:
                rows.append((r["model"], k, label, d))
    if not rows:
        return None
    lo = min(d["min_us"] for *_, d in rows)
    hi = max(d["max_us"] for *_, d in rows)
    ticks = _log_ticks(max(lo, 1e-3), max(hi, lo * 10))
    x0, x1 = PAD_L, W - PAD_R
    lt0, lt1 = math.log10(ticks[0]), math.log10(ticks[-1])

    def X(v: float) -> float:
        return round(x0 + (math.log10(max(v, ticks[0])) - lt0) / (lt1 - lt0) * (x1 - x0), 1)

    bh, gap = 14, 2
    fig = {"title": "Latency per inference (log scale; whisker = interquartile range)",
           "bars": [], "whiskers": [], "labels": [], "lines": [], "points": [], "yticks": []}
    y, last = PAD_T, None
    for model, k, label, d in rows:
        if model != last:
            y += 10 if last else 0
            fig["labels"].append({"x": x0 - 8, "y": y + bh, "text": model})
            last = model
        fig["bars"].append({"x": x0, "y": y, "w": max(X(d["median_us"]) - x0, 1), "h": bh, "cls": k,
                            "tip": f"{model} {label}: {_fmt(d['median_us'])}"})
        fig["whiskers"].append({"x1": X(d["q1_us"]), "x2": X(d["q3_us"]), "y": y + bh / 2})
        y += bh + gap
    fig["h"] = y + PAD_B
    fig["w"] = W
    fig["xticks"] = [{"pos": X(t), "label": _fmt(t)} for t in ticks]
    fig["axis"] = {"x0": x0, "x1": x1, "y0": PAD_T - 5, "y1": y}
    fig["legend"] = [{"cls": k, "label": v} for k, v in ENGINE_LABELS.items()]
    return fig


def pareto_points(r: dict, mixed: Optional[list]) -> list[dict]:
    """(size bytes, SQNR dB) of each quantization of one model."""
    acc, mem = r.get("accuracy") or {}, r.get("memory") or {}
    pts = []

    def add(key: str, label: str, size) -> None:
        v = acc.get(key) or {}
        db = v.get("sqnr_db")
        if isinstance(db, (int, float)) and math.isfinite(db) and isinstance(size, (int, float)) and size > 0:
            pts.append({"size": float(size), "db": float(db), "label": label, "cls": key})

    add("qcc", "qcc int8", mem.get("weight_bytes"))
    add("ort_minmax", "ORT int8 minmax", mem.get("ort_int8_weight_bytes"))
    best = acc.get("ort_best") or {}
    if best.get("method") and best.get("method") != "minmax":
        add("ort_best", f"ORT int8 {best['method']}", mem.get("ort_int8_weight_bytes"))
    for p in mixed or []:
        if isinstance(p.get("sqnr_db"), (int, float)) and math.isfinite(p["sqnr_db"]) \
                and p.get("weight_bytes"):
            label = p.get("label", "qcc mixed")
            pts.append({"size": float(p["weight_bytes"]), "db": float(p["sqnr_db"]), "label": label,
                        "cls": "qcc_mixed" if label.startswith("mixed") else "qcc_w4"})
    return pts


def front(pts: list[dict]) -> list[dict]:
    """The Pareto front: no other point is both smaller and more accurate."""
    out = []
    for p in sorted(pts, key=lambda p: (p["size"], -p["db"])):
        if not out or p["db"] > out[-1]["db"]:
            out.append(p)
    return out


def pareto_figure(r: dict, mixed: Optional[list]) -> Optional[dict]:
    pts = pareto_points(r, mixed)
    if not pts:
        return None
    w, h = 360, 240
    x0, x1, y0, y1 = 60, w - 15, h - 35, 25
    smin, smax = min(p["size"] for p in pts), max(p["size"] for p in pts)
    dmin, dmax = min(p["db"] for p in pts), max(p["db"] for p in pts)
    smin, smax = (smin * 0.8, smax * 1.25) if smax / smin < 1.5 else (smin * 0.9, smax * 1.1)
    dmin, dmax = dmin - max(1.0, 0.1 * (dmax - dmin)), dmax + max(1.0, 0.1 * (dmax - dmin))

    def X(s: float) -> float:
        return round(x0 + (s - smin) / (smax - smin) * (x1 - x0), 1)

    def Y(d: float) -> float:
        return round(y0 - (d - dmin) / (dmax - dmin) * (y0 - y1), 1)

    fig = {"title": f"{r['model']}: weight bytes vs SQNR", "w": w, "h": h, "bars": [], "whiskers": [],
           "labels": [], "axis": {"x0": x0, "x1": x1, "y0": y1, "y1": y0},
           "points": [{"cx": X(p["size"]), "cy": Y(p["db"]), "cls": p["cls"],
                       "tip": f"{p['label']}: {p['size'] / 1024:.1f} KiB, {p['db']:.1f} dB"} for p in pts],
           "lines": [{"points": " ".join(f"{X(p['size'])},{Y(p['db'])}" for p in front(pts))}],
           "xticks": [{"pos": X(s), "label": t} for s, t in byte_ticks(smin, smax, 3)],
           "yticks": [{"pos": Y(d), "label": t} for d, t in value_ticks(dmin, dmax, "dB", 4)],
           "legend": _legend(pts)}
    return fig


def _lin(a: float, b: float, n: int) -> list[float]:
    return [a + (b - a) * (i + 0.5) / n for i in range(n)]


def _legend(pts: list[dict]) -> list[dict]:
    seen, out = set(), []
    for p in pts:
        if p["cls"] not in seen:
            seen.add(p["cls"])
            out.append({"cls": p["cls"], "label": "qcc mixed" if p["cls"] == "qcc_mixed" else p["label"]})
    return out


def layer_figure(r: dict, key: str = "layers", what: str = "int8") -> Optional[dict]:
    """Vertical bars: cumulative SQNR at each quantized layer, coloured by weight bits."""
    layers = [L for L in r.get(key) or [] if isinstance(L.get("sqnr_db"), (int, float))]
    if not layers:
        return None
    n = len(layers)
    bw = max(3, min(24, 640 // n))
    w = max(440, 70 + n * (bw + 2) + 20)
    h = 230 + NAME_PAD
    x0, y0, y1 = 60, h - 35 - NAME_PAD, 25
    top = max(10.0, math.ceil(max(L["sqnr_db"] for L in layers) / 10) * 10)
    low = min(0.0, min(L["sqnr_db"] for L in layers))
    yt = value_ticks(low, top, "dB", 5)
    low, top = min(low, yt[0][0]), max(top, yt[-1][0])

    def Y(d: float) -> float:
        return round(y0 - (d - low) / (top - low) * (y0 - y1), 1)

    fig = {"title": f"{r['model']} ({what}): SQNR per quantized layer",
           "w": w, "h": h, "bars": [], "whiskers": [], "labels": [], "lines": [], "points": [],
           "axis": {"x0": x0, "x1": w - 10, "y0": y1, "y1": y0}, "xticks": [],
           "yticks": [{"pos": Y(d), "label": t} for d, t in yt]}
    every = max(1, math.ceil(n / MAX_NAMES))  # a name under every bar, or every k-th
    for i, L in enumerate(layers):
        b = L.get("weight_bits")
        cls = f"bits{b}" if b else "bitsnone"
        x = x0 + 4 + i * (bw + 2)
        if i % every == 0:
            fig["xticks"].append({"pos": round(x + bw / 2, 1), "label": short_name(L["node"]),
                                  "rotate": True})
        fig["bars"].append({"x": x, "y": Y(L["sqnr_db"]), "w": bw, "h": round(y0 - Y(L["sqnr_db"]), 1),
                            "cls": cls, "tip": f"{L['node']} ({L['op']}, w{b or '-'}/a{L['act_bits']}): "
                                               f"{L['sqnr_db']} dB"})
    used = sorted({b["cls"] for b in fig["bars"]})
    names = {"bitsnone": "no weights"}
    fig["legend"] = [{"cls": c, "label": names.get(c, f"{c[4:]}-bit weights")} for c in used]
    return fig


NAME_PAD, MAX_NAMES, NAME_CHARS = 90, 40, 16


def short_name(name: str) -> str:
    """A layer name that fits under its bar (the full name is in the bar's tooltip)."""
    name = name.strip("/").replace("/", ".")
    return name if len(name) <= NAME_CHARS else "…" + name[-(NAME_CHARS - 1):]


def figures(report: dict) -> dict:
    ms = report["models"]
    mixed = report.get("mixed") or {}
    study = ((report.get("studies") or {}).get("mixed_precision") or {}).get("results") or []
    return {"latency": latency_figure(ms),
            "study": [f for r in study for f in (study_curve(r), study_bits(r)) if f],
            "pareto": [f for f in (pareto_figure(r, mixed.get(r["model"])) for r in ms) if f],
            "layers": [f for r in ms for f in (layer_figure(r), layer_figure(r, "layers_mixed",
                                                                             "mixed 60%")) if f]}


def _scale(lo: float, hi: float, a: float, b: float):
    lo, hi = (lo - 1, hi + 1) if hi - lo < 1e-9 else (lo, hi)
    return lambda v: round(a + (v - lo) / (hi - lo) * (b - a), 1)


def study_curve(res: dict) -> Optional[dict]:
    """ILP vs uniform vs random-median SQNR at equal size budgets (mixed_precision.json)."""
    series = {k: [(b[k]["bytes"], b[k]["sqnr_db"]) for b in res.get("budgets", [])
                  if isinstance(b.get(k), dict) and "bytes" in b[k]
                  and isinstance(b[k].get("sqnr_db"), (int, float)) and math.isfinite(b[k]["sqnr_db"])]
              for k in ("ilp", "uniform")}
    rnd = [(b["budget_bytes"], b["random_median"]["sqnr_db"]) for b in res.get("budgets", [])
           if "random_median" in b and math.isfinite(b["random_median"].get("sqnr_db", math.nan))]
    series["random"] = rnd
    allp = [p for v in series.values() for p in v]
    if not allp:
        return None
    w, h, x0, x1, y0, y1 = 380, 240, 60, 365, 205, 25
    X = _scale(min(p[0] for p in allp), max(p[0] for p in allp), x0 + 8, x1 - 8)
    dlo, dhi = min(p[1] for p in allp), max(p[1] for p in allp)
    Y = _scale(dlo, dhi, y0 - 8, y1 + 8)
    fig = {"title": f"{res['model']}: weight-only study, bytes vs SQNR", "w": w, "h": h,
           "axis": {"x0": x0, "x1": x1, "y0": y1, "y1": y0}, "bars": [], "whiskers": [],
           "labels": [], "lines": [], "points": [],
           "xticks": [{"pos": X(v), "label": t} for v, t in
                      byte_ticks(min(p[0] for p in allp), max(p[0] for p in allp), 3)
                      if x0 <= X(v) <= x1],
           "yticks": [{"pos": Y(v), "label": t} for v, t in value_ticks(dlo, dhi, "dB", 4)
                      if y1 <= Y(v) <= y0],
           "legend": [{"cls": "st_" + k, "label": lbl} for k, lbl in
                      (("ilp", "ILP"), ("uniform", "uniform"), ("random", "random (median of 20)"))]}
    for k, pts in series.items():
        pts = sorted(pts)
        fig["lines"].append({"points": " ".join(f"{X(a)},{Y(b)}" for a, b in pts), "cls": "st_" + k})
        fig["points"] += [{"cx": X(a), "cy": Y(b), "cls": "st_" + k,
                           "tip": f"{k}: {a / 1024:.1f} KiB, {b:.1f} dB"} for a, b in pts]
    return fig


def study_bits(res: dict) -> Optional[dict]:
    """The ILP's weight width per layer (columns) at each budget (rows)."""
    rows = [b for b in res.get("budgets", []) if isinstance(b.get("ilp"), dict) and b["ilp"].get("bits")]
    if not rows:
        return None
    n = len(rows[0]["ilp"]["bits"])
    cw = max(4, min(22, 600 // max(n, 1)))
    w, x0, ch = max(380, 120 + n * cw + 20), 110, 16
    fig = {"title": f"{res['model']}: ILP weight bits per layer", "w": w, "h": 40 + len(rows) * (ch + 3) + 20,
           "axis": {"x0": x0, "x1": x0 + n * cw, "y0": 22, "y1": 30 + len(rows) * (ch + 3)},
           "bars": [], "whiskers": [], "labels": [], "lines": [], "points": [], "xticks": [], "yticks": []}
    for r, b in enumerate(rows):
        y = 28 + r * (ch + 3)
        fig["labels"].append({"x": x0 - 6, "y": y + ch - 4, "text": f"{b['budget_pct']}% of int8"})
        for i, bits in enumerate(b["ilp"]["bits"]):
            fig["bars"].append({"x": x0 + i * cw, "y": y, "w": cw - 1, "h": ch, "cls": f"bits{bits}",
                                "tip": f"layer {i}: {bits} bits at {b['budget_pct']}%"})
    used = sorted({x["cls"] for x in fig["bars"]}, key=lambda c: -int(c[4:]))
    fig["legend"] = [{"cls": c, "label": f"{c[4:]}-bit"} for c in used]
    return fig


def mixed_table(mixed: dict) -> str:
    lines = ["| model | configuration | weight KiB | SQNR dB | top-1 % | layers per weight width |",
             "|---|---|---|---|---|---|"]
    for model, pts in mixed.items():
        for p in pts:
            if "error" in p:
                lines.append(f"| {model} | {p.get('label', '-')} | n/a | n/a | n/a | {p['error'][:80]} |")
                continue
            kib = f"{p['weight_bytes'] / 1024:,.1f}" if p.get("weight_bytes") else "n/a"
            top = p.get("top1_pct", p.get("top1_agree_pct"))
            bits = ", ".join(f"{n}x{b}-bit" for b, n in (p.get("bits") or {}).items())
            lines.append(f"| {model} | {p.get('label', '-')} | {kib} | {p.get('sqnr_db', 'n/a')} | "
                         f"{'n/a' if top is None else top} | {bits or 'n/a'} |")
    return "\n".join(lines)
