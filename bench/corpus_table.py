"""The corpus speed benchmark's report (bench/corpus_speed.py): the Markdown table, the
summary line, merging re-measured rows into a saved run, and the line saying when, where
and how it was measured."""

from __future__ import annotations

import json

import numpy as np

GOAL_M4 = {"cnn": 1.5, "transformer": 1.0}  # instructions per MAC (transformers: linears)
ARM_FIELDS = ("m4", "m55", "arm_measured")

def _us(x) -> str:
    return "–" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:,.1f}")


def _ratio(r: dict, key: str) -> str:
    v = r.get("ratio", {}).get(key)
    return "–" if v is None else (f"**{v:.2f}**" if v > 1.0 else f"{v:.2f}")


def _arm(r: dict, key: str, cls: str) -> str:
    a = r.get(key) or {}
    if "insns_per_mac" not in a:
        return "–" if not a else ("does not fit" if "does not fit" in a.get("skipped", "")
                                  else ("skipped" if "skipped" in a else "error"))
    s = f"{a['insns_per_mac']:.2f}"
    if a.get("linear_insns_per_mac") is not None and cls == "transformer":
        s += f" (linears {a['linear_insns_per_mac']:.2f})"
    return s


def m4_misses(r: dict) -> bool:
    a, goal = r.get("m4") or {}, GOAL_M4.get(r.get("class"))
    if goal is None or "insns_per_mac" not in a:
        return False
    fig = a.get("linear_insns_per_mac") if r["class"] == "transformer" else a["insns_per_mac"]
    return fig is not None and fig > goal


def why_line(r: dict) -> str:
    from .corpus_why import why

    if r.get("error"):
        return r["error"]
    parts = []
    for key, label in (("native_vs_int8", "native"), ("default_vs_fp32", "default")):
        w = (r.get("why") or {}).get(key)
        if w:
            parts.append(f"{label}: {w.get('error') or why(w)}")
    if m4_misses(r) and (r.get("m4") or {}).get("why"):
        parts.append(f"M4: {why(r['m4']['why'])}")
    parts += [r[k] for k in ("qcc_native_error", "qcc_default_error", "ort_int8_error") if r.get(k)]
    return "; ".join(parts).replace("|", "/")


def table(rows: list[dict]) -> str:
    out = ["| model | class | M MACs | C native µs | ORT int8 µs (- call) | native / int8 | "
           "C default µs | ORT fp32 µs (- call) | default / fp32 | M4 insns/MAC | M55 insns/MAC | why (misses) |",
           "|---" * 12 + "|"]
    for r in rows:
        b, f = (r.get("host") or {}).get("best_us", {}), r.get("ort_minus_call_us", {})
        ort = lambda k: "–" if k not in b else f"{_us(b[k])} ({_us(f.get(k))})"  # noqa: E731
        macs = f"{r['macs'] / 1e6:,.1f}" if r.get("macs") is not None else "–"
        out.append(f"| {r['model']} | {r.get('class', '')} | {macs} | {_us(b.get('qcc_native'))} | "
                   f"{ort('ort_int8')} | {_ratio(r, 'native_vs_int8')} | {_us(b.get('qcc_default'))} | "
                   f"{ort('ort_fp32')} | {_ratio(r, 'default_vs_fp32')} | {_arm(r, 'm4', r.get('class'))} | "
                   f"{_arm(r, 'm55', r.get('class'))} | {why_line(r)} |")
    return "\n".join(out)


def summary(rows: list[dict]) -> str:
    ok = [r for r in rows if "ratio" in r]
    n8 = [r for r in ok if "native_vs_int8" in r["ratio"]]
    nf = [r for r in ok if "default_vs_fp32" in r["ratio"]]
    m4 = [r for r in ok if "insns_per_mac" in (r.get("m4") or {}) and r["class"] in GOAL_M4]
    med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
    return (f"{len(ok)} models timed: -march=native at or below onnxruntime int8 on "
            f"{sum(r['ratio']['native_vs_int8'] <= 1 for r in n8)}/{len(n8)} (median ratio "
            f"{med([r['ratio']['native_vs_int8'] for r in n8]):.2f}), default build at or below "
            f"onnxruntime float32 on {sum(r['ratio']['default_vs_fp32'] <= 1 for r in nf)}/{len(nf)} "
            f"(median {med([r['ratio']['default_vs_fp32'] for r in nf]):.2f}); Cortex-M4 goal met on "
            f"{sum(not m4_misses(r) for r in m4)}/{len(m4)} that fit the board")


def merge(path: str, new: dict) -> dict:
    """``path``'s result with ``new``'s rows in place of its rows of the same models (each
    row keeps its own date, qcc revision and load); an ``--arm-only`` row replaces only the
    Arm columns; a new row that failed leaves the old one as it was plus ``update_error``.
    ``runs`` lists every run merged."""
    with open(path) as f:
        old = json.load(f)
    got = {r["model"]: r for r in new["rows"]}

    def one(r: dict) -> dict:
        n = got.pop(r["model"], None)
        if n is None:
            return r
        if n.get("error") and "error" not in r:  # a failed re-measurement keeps the old row
            return dict(r, update_error=n["error"])
        if "arm_measured" in n and "host" not in n:  # --arm-only: only the Arm columns
            return dict(r, **{k: n[k] for k in ARM_FIELDS if k in n})
        return n
    rows = [one(r) for r in old["rows"]] + list(got.values())
    runs = old.get("runs") or [{k: old[k] for k in ("date", "command", "qcc", "load_average_end") if k in old}]
    runs.append({k: new[k] for k in ("date", "command", "qcc", "load_average_end") if k in new})
    res = dict(old, rows=rows, runs=runs, summary=summary(rows))
    with open(path, "w") as f:
        json.dump(res, f, indent=1, default=str)
    return res


def render(res: dict) -> str:
    """The table, the summary and the line saying when, where and how it was measured."""
    info = res["machine"]
    load = ", ".join(f"{x:.1f}" for x in res.get("load_average_end") or [])
    when = (f"{res['date']}" if not res.get("runs") else
            "runs " + "; ".join(f"{r.get('date')} (qcc {r.get('qcc')})" for r in res["runs"]))
    return (f"{table(res['rows'])}\n\n{summary(res['rows'])}\n\n{when}, {info['cpu']}, "
            f"{info['cores_available']} cores available, load average at the end {load}; "
            f"{info['versions']['gcc']}; onnxruntime {info['versions']['onnxruntime']}; qcc {res['qcc']}; "
            f"{res['method']}\n")
