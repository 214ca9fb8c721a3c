"""Accelerator benchmark: cycles, utilisation and roofline efficiency per conv layer of
compiled models, plus the SCALE-Sim comparison (docs/target_accel.md §10).

``python -m qcc.bench.accel [MODEL.onnx:CALIB.npz ...] [--out DIR] [--scalesim] [--hw KEY=VALUE]``
compiles each model (default: the example CNNs) for the default accelerator, profiles it
with the timing model and writes ``accel.json`` and ``accel.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from . import script

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT = [("digits_cnn", "digits_cnn/digits_cnn.onnx", "digits_cnn/calib.npz"),
           ("mobilenet_small", "mobilenet_small/mobilenet_small.onnx", "mobilenet_small/calib.npz")]


def profile_model(name: str, model: str, calib: str, out: str, extra=()) -> dict:
    from qcc.backends import accel
    from qcc.cli import main

    t0 = time.perf_counter()
    rc = main(["compile", model, "--calib", calib, "--target", "accel", "-o", out, "--quiet", *extra])
    if rc != 0:
        raise RuntimeError(f"compiling {model} failed")
    res = accel.profile(out)
    with open(os.path.join(out, "manifest.json")) as f:
        acc = json.load(f)["accel"]
    shapes = {ly["name"]: ly.get("shape") for ly in acc["layers"]}
    lanes = min(acc["hw"]["rows"], acc["hw"]["cols"])
    for r in res["layers"]:  # the convolution's group (1: dense; > 1: grouped / depthwise)
        shape = shapes.get(r["node"]) or {}
        r["group"] = shape.get("group", 1)
        r["ceiling_cycles"] = ceiling_cycles(r, shape, lanes)
    res["model"] = name
    res["compile_s"] = time.perf_counter() - t0
    return res


def ceiling_cycles(r: dict, shape: dict, lanes: int) -> int:
    """The layer's bound with the depthwise hardware ceiling: a depthwise convolution (one
    input channel per output channel) runs one diagonal weight block per tap on the array,
    at most ``min(rows, cols)`` MACs per cycle, so its bound is the larger of the ideal bound
    and ``MACs / min(rows, cols)``; every other layer keeps its ideal bound.  A second,
    lower roof of the roofline, reported beside the ideal bound, never instead of it."""
    ideal = r.get("ideal_cycles", r.get("roofline_cycles", 0))
    from qcc.backends.accel.floor import is_depthwise

    if is_depthwise(shape):
        return max(ideal, -(-r["macs"] // lanes))
    return ideal


def conv_summary(res: dict) -> dict:
    """MAC-weighted utilisation and roofline efficiency of the conv/linear layers
    (dense = group 1; grouped and depthwise listed apart)."""
    rows = [r for r in res["layers"] if r["kind"] == "gemm"]
    out = {}
    for label, sel in (("all", rows), ("compute-bound", [r for r in rows if r["bound"] == "compute"]),
                       ("memory-bound", [r for r in rows if r["bound"] == "memory"]),
                       ("dense", [r for r in rows if r.get("group", 1) == 1]),
                       ("grouped", [r for r in rows if r.get("group", 1) > 1])):
        cyc = sum(r["cycles"] for r in sel)
        roof = sum(r["roofline_cycles"] for r in sel)
        ideal = sum(r.get("ideal_cycles", r["roofline_cycles"]) for r in sel)
        ceil = sum(r.get("ceiling_cycles", r.get("ideal_cycles", r["roofline_cycles"])) for r in sel)
        floor = sum(r.get("floor_cycles", 0) for r in sel)
        macs = sum(r["macs"] for r in sel)
        out[label] = {"layers": len(sel), "cycles": cyc, "macs": macs, "floor_cycles": floor,
                      "ceiling_cycles": ceil, "floor_eff": floor / cyc if cyc else 0.0,
                      "utilization": macs / (res["total"]["pe"] * cyc) if cyc else 0.0,
                      "roofline_eff": roof / cyc if cyc else 0.0,
                      "ideal_eff": ideal / cyc if cyc else 0.0,
                      "ceiling_eff": ceil / cyc if cyc else 0.0}
    return out


def markdown(results: list[dict]) -> str:
    lines = ["| model | total cycles | utilisation | conv layers | conv cycles | conv utilisation | "
             "conv roofline eff. | compute-bound eff. | memory-bound eff. | conv ideal-bound eff. | "
             "dense conv ideal-bound eff. | grouped conv ideal-bound eff. | host ops | "
             "conv eff. vs the depthwise-ceiling bound | conv eff. vs the latency floor | "
             "the bound / the floor |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s = conv_summary(r)
        t = r["total"]
        lines.append(f"| {r['model']} | {t['cycles']:,} | {100 * t['utilization']:.1f} % | "
                     f"{s['all']['layers']} | {s['all']['cycles']:,} | {100 * s['all']['utilization']:.1f} % | "
                     f"{100 * s['all']['roofline_eff']:.1f} % | "
                     f"{100 * s['compute-bound']['roofline_eff']:.1f} % ({s['compute-bound']['layers']}) | "
                     f"{100 * s['memory-bound']['roofline_eff']:.1f} % ({s['memory-bound']['layers']}) | "
                     f"{100 * s['all']['ideal_eff']:.1f} % | "
                     f"{100 * s['dense']['ideal_eff']:.1f} % ({s['dense']['layers']}) | "
                     f"{100 * s['grouped']['ideal_eff']:.1f} % ({s['grouped']['layers']}) | {t['host_ops']} | "
                     f"{100 * s['all']['ceiling_eff']:.1f} % | {100 * s['all']['floor_eff']:.1f} % | "
                     f"{s['all']['ceiling_cycles']:,} / {s['all']['floor_cycles']:,} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = script.parser("accel", __doc__)
    ap.add_argument("models", nargs="*", metavar="MODEL.onnx:CALIB.npz")
    ap.add_argument("--out", default="bench_accel")
    ap.add_argument("--scalesim", action="store_true", help="also run the SCALE-Sim comparison")
    ap.add_argument("--hw", action="append", default=[], metavar="KEY=VALUE",
                    help="a hardware parameter for every compile (as `qcc compile --hw`)")
    args = ap.parse_args(argv)
    extra = [a for kv in args.hw for a in ("--hw", kv)]
    todo = [(n, str(EXAMPLES / m), str(EXAMPLES / c)) for n, m, c in DEFAULT]
    for spec in args.models:
        m, _, c = spec.partition(":")
        todo.append((Path(m).stem, m, c))
    os.makedirs(args.out, exist_ok=True)
    results = []
    for name, m, c in todo:
        results.append(profile_model(name, m, c, os.path.join(args.out, name), extra))
        print(f"{name}: {results[-1]['total']['cycles']:,} cycles", file=sys.stderr)
    doc = {"models": results}
    md = markdown(results)
    if args.scalesim:
        from dataclasses import replace

        from qcc.backends.accel.hw import HwConfig

        from .accel_scalesim import SHAPES, compare
        doc["scalesim"] = []
        for df in ("ws", "os"):
            for ov in (False, True):
                doc["scalesim"] += compare(SHAPES, replace(HwConfig(), dataflow=df, gemm_overlap=ov))
    with open(os.path.join(args.out, "accel.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(args.out, "accel.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
