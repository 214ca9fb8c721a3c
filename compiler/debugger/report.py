"""``qcc debug`` outputs: the terminal table, ``debug.json`` and ``debug.html``."""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Optional, TextIO

from .html import render_html


def _db(x: Optional[float]) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.1f}"


def ranked(stats: list) -> list:
    """Worst introduced error first (ties: worse inherited error first)."""
    return sorted(stats, key=lambda s: (s.introduced_sqnr_db, s.inherited_sqnr_db))


def print_table(stats: list, e2e: float, tried: list, target_check: Optional[dict],
                out: TextIO = sys.stdout, top: int = 15) -> None:
    rows = ranked(stats)[:top]
    out.write(f"end-to-end SQNR {_db(e2e)} dB over {len(stats)} quantized tensors; "
              f"worst {len(rows)} by the error each layer introduces by itself:\n")
    w = max([len(s.node) for s in rows] + [4])
    out.write(f"  {'#':>3} {'node':<{w}} {'op':<18} {'introduced dB':>13} {'inherited dB':>12} "
              f"{'cosine':>8} {'max err LSB':>11} {'clip %':>7}\n")
    for r, s in enumerate(rows, 1):
        out.write(f"  {r:>3} {s.node:<{w}} {s.op:<18} {_db(s.introduced_sqnr_db):>13} "
                  f"{_db(s.inherited_sqnr_db):>12} {s.cosine:8.5f} {s.max_err_lsb:11.1f} "
                  f"{100 * s.clip_rate:7.2f}\n")
    if tried:
        out.write(f"suggestions (end-to-end SQNR, baseline {_db(e2e)} dB):\n")
        for t in tried:
            res = f"{_db(t.sqnr_db)} dB" if t.sqnr_db is not None else t.error
            out.write(f"  {t.what:<60} {res:>10}   [{t.flag}]\n")
    if target_check is not None:
        out.write(_target_line(target_check) + "\n")


def _target_line(tc: dict) -> str:
    if tc.get("first_mismatch") is None:
        return f"target {tc['target']}: every layer output is bit-exact with the reference " \
               f"({tc['layers']} layers, {tc['samples']} sample(s))"
    m = tc["first_mismatch"]
    return (f"target {tc['target']}: first layer that differs from the reference: step {m['step']} "
            f"{m['op']} '{m['node']}' (tensor '{m['tensor']}'), first at index {m['index']}: "
            f"target {m['target_value']}, reference {m['reference_value']}")


def _num(x):
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def debug_json(stats: list, e2e: float, tried: list, target_check: Optional[dict]) -> dict:
    layers = []
    for s in ranked(stats):
        d = s.as_dict()
        layers.append({"node": d["node"], "op": d["op"], "tensor": d["tensor"],
                       "introduced_sqnr_db": _num(d["introduced_sqnr_db"]),
                       "inherited_sqnr_db": _num(d["inherited_sqnr_db"]),
                       "clip_rate": d["clip_rate"], "cosine": d["cosine"],
                       "max_err_lsb": d["max_err_lsb"], "scale": d["scale"],
                       "zero_point": d["zero_point"], "int_node": d["int_node"],
                       "int_op": d["int_op"], "schedule_index": d["index"]})
    out = {"end_to_end_sqnr_db": _num(e2e), "layers": layers,
           "suggestions": [{"layer": t.layer, "what": t.what, "flag": t.flag,
                            "end_to_end_sqnr_db": _num(t.sqnr_db), "error": t.error} for t in tried]}
    if target_check is not None:
        out["target_check"] = target_check
    return out


def write_outputs(out_dir: str, stats: list, e2e: float, tried: list, target_check, dg, samples,
                  model: str = "model", top: int = 15) -> None:
    print_table(stats, e2e, tried, target_check, top=top)
    with open(os.path.join(out_dir, "debug.json"), "w") as f:
        json.dump(debug_json(stats, e2e, tried, target_check), f, indent=1)
    with open(os.path.join(out_dir, "debug.html"), "w") as f:
        f.write(render_html(model, stats, e2e, tried, target_check, dg, samples))
    print(f"qcc: wrote {os.path.join(out_dir, 'debug.json')} and debug.html", file=sys.stderr)
