"""Packed low-bit weights against int8 on the host C kernels (docs/target_c.md "ISA variants").

    python -m qcc.bench.lowbit [MODELS...] [--rounds 3] [--runs 100] [--out DIR]

Per model, the same calibration compiled three times (int8; ``--weight-bits 4 --group-size
32``; ``--weight-bits 2 --group-size 16``) and each built three ways: the default build
(``-O3``; on x86-64 its SSE2 kernels), ``-march=native`` and ``-DQCC_PORTABLE`` (the portable
C99 reference). Every (width, build) pair is timed in alternating rounds (``qcc_run --bench``,
one sample, one thread; each cell is the median over rounds of per-round medians), and once
more layer by layer through the profiling build of the same flags (``qcc_run --profile``,
as ``qcc profile``). The JSON keeps every layer and the whole-model medians; the table shows
the sum of the steps' medians, that of the MAC layers (linear, conv, matmul) alone, and the
ratio of each low-bit width to int8 in the same build (below 1: faster than int8). On a
loaded machine the step sums are steadier: a run of milliseconds is often preempted whole.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np

from . import speed

DEFAULT = ["digits_cnn", "mobilenet_small", "tiny_bert", "text_recog"]
WIDTHS = {"int8": {}, "int4_g32": {"weight_bits": "4", "group_size": 32},
          "int2_g16": {"weight_bits": "2", "group_size": 16}}
BUILDS = {"default": (), "native": ("-march=native",), "native_nolut": ("-march=native", "-DQCC_NO_LUT"),
          "avx2": ("-mavx2",), "avx2_nolut": ("-mavx2", "-DQCC_NO_LUT"), "portable": ("-DQCC_PORTABLE",)}
# the table-lookup kernel (kernels/linear_lut.c) against whole-register unpacking: the same ISA
# with and without -DQCC_NO_LUT
LUT_PAIRS = (("native", "native_nolut"), ("avx2", "avx2_nolut"))
MAC_OPS = ("qcc.linear", "qcc.conv2d", "qcc.matmul")


def compile_widths(m, work: str) -> dict:
    """width -> the qcc output folder of ``m`` compiled with that weight width."""
    import qcc
    from qcc.frontend.onnx_import import parse_input_shapes

    calib = os.path.join(work, "calib.npz")
    np.savez(calib, **m.calib)
    dirs = {}
    for w, opts in WIDTHS.items():
        out = os.path.join(work, w)
        qcc.compile(m.path, calib=calib, target="c", out_dir=out, quiet=True,
                    input_shapes=parse_input_shapes(m.input_shapes), allow_float=m.allow_float, **opts)
        dirs[w] = out
    return dirs


def layer_profile(c_dir: str, sample: dict, flags: tuple, runs: int) -> list[dict]:
    """Median ns per step of the profiling build with ``flags`` (``qcc profile``'s host steps)."""
    from qcc.analysis import macs_by_node
    from qcc.backends.c.profile import host_steps
    from qcc.ir.serialize import load as load_ir

    with open(os.path.join(c_dir, "manifest.json")) as f:
        manifest = json.load(f)
    steps, _ = host_steps(c_dir, sample, manifest, runs, tuple(flags))
    macs = macs_by_node(load_ir(os.path.join(c_dir, "model.qcc")))
    return [{"node": row["node"], "op": row["op"], "kernel": row["kernel"], "macs": int(macs.get(row["node"], 0)),
             "ns": steps[i]} for i, row in enumerate(manifest["layers"])]


def bench_model(m, work: str, rounds: int, runs: int, log=sys.stderr, builds=None) -> dict:
    from qcc.backends.c import build as cbuild

    builds = builds or BUILDS
    sample = {k: v[:1] for k, v in m.test.items()}
    dirs = compile_widths(m, work)
    bins = {(w, b): cbuild.build(d, extra_cflags=fl) for w, d in dirs.items() for b, fl in builds.items()}
    times = {k: [] for k in bins}
    for r in range(rounds):
        for (w, b), binary in bins.items():
            times[(w, b)].append(float(cbuild.bench_latency(dirs[w], sample, runs, binary=binary)))
        print(f"  {m.name} round {r + 1}/{rounds} done", file=log)
    cells = {}
    for (w, b), ts in times.items():
        layers = layer_profile(dirs[w], sample, builds[b], runs)
        cells[f"{w}/{b}"] = {"median_us": round(float(np.median(ts)), 2), "rounds_us": [round(t, 2) for t in ts],
                             "steps_us": round(sum(x["ns"] for x in layers) / 1e3, 2),
                             "mac_layers_us": round(sum(x["ns"] for x in layers if x["op"] in MAC_OPS) / 1e3, 2),
                             "layers": layers}
    ratio = {}
    for w in WIDTHS:
        for b in builds:
            base = cells[f"int8/{b}"]
            if w != "int8" and min(base["median_us"], base["steps_us"], base["mac_layers_us"]) > 0:
                c = cells[f"{w}/{b}"]
                ratio[f"{w}/{b}"] = {"model": round(c["median_us"] / base["median_us"], 2),
                                     "steps": round(c["steps_us"] / base["steps_us"], 2),
                                     "mac_layers": round(c["mac_layers_us"] / base["mac_layers_us"], 2)}
    return {"model": m.name, "cells": cells, "vs_int8": ratio}


def table(rows: list[dict]) -> str:
    """One line per model and build: µs of int8 / int4 / int2 (sum of the steps' medians, of
    the MAC layers' alone) and the low-bit / int8 ratios of both."""
    out = ["| model | build | int8 µs: steps (MAC layers) | int4 g32 µs | int2 g16 µs | "
           "int4 / int8 | int2 / int8 |", "|---" * 7 + "|"]
    for r in rows:
        for b in sorted({c.split("/")[1] for c in r["cells"]}, key=list(BUILDS).index):
            c = [r["cells"][f"{w}/{b}"] for w in WIDTHS]
            q = [r["vs_int8"].get(f"{w}/{b}", {}) for w in ("int4_g32", "int2_g16")]
            out.append(f"| {r['model']} | {b} | "
                       + " | ".join(f"{x['steps_us']:,.1f} ({x['mac_layers_us']:,.1f})" for x in c) + " | "
                       + " | ".join(f"{x.get('steps', 0):.2f}x ({x.get('mac_layers', 0):.2f}x)" for x in q) + " |")
    return "\n".join(out)


def lut_layers(rows: list[dict]) -> list[dict]:
    """Every linear layer with packed weights, timed with the table-lookup kernel and without
    (-DQCC_NO_LUT, whole-register unpacking) in the same ISA, next to the int8 layer."""
    out = []
    for r in rows:
        for lut, nolut in LUT_PAIRS:
            if f"int8/{lut}" not in r["cells"] or f"int8/{nolut}" not in r["cells"]:
                continue
            for w in WIDTHS:
                if w == "int8":
                    continue
                a, b = r["cells"][f"{w}/{lut}"]["layers"], r["cells"][f"{w}/{nolut}"]["layers"]
                i8 = {x["node"]: x for x in r["cells"][f"int8/{lut}"]["layers"]}
                for x, y in zip(a, b):
                    if x["kernel"] != "qcc_linear_lut":
                        continue
                    base = i8.get(x["node"], {}).get("ns", 0)
                    out.append({"model": r["model"], "width": w, "isa": lut, "node": x["node"],
                                "macs": x["macs"], "lut_ns": x["ns"], "unpack_ns": y["ns"], "int8_ns": base})
    return out


def lut_table(layers: list[dict]) -> str:
    """Per model, width and ISA: the linear layers with bit planes summed, LUT against unpack."""
    agg = {}
    for x in layers:
        a = agg.setdefault((x["model"], x["width"], x["isa"]), [0, 0, 0, 0, 0])
        a[0] += 1
        a[1] += x["macs"]
        a[2] += x["lut_ns"]
        a[3] += x["unpack_ns"]
        a[4] += x["int8_ns"]
    out = ["| model | weights | ISA | layers (MACs) | int8 µs | unpack µs | LUT µs | LUT / unpack |",
           "|---" * 8 + "|"]
    for (m, w, isa), (n, mac, lu, un, i8) in agg.items():
        out.append(f"| {m} | {w} | {isa} | {n} ({mac:,}) | {i8 / 1e3:,.1f} | {un / 1e3:,.1f} | "
                   f"{lu / 1e3:,.1f} | {lu / un if un else 0:.2f}x |")
    return "\n".join(out)


def main(argv=None) -> int:
    from . import script
    from .run import select_models

    ap = script.parser("lowbit", __doc__)
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    script.add_timing(ap, rounds=3, runs=100, per="build")
    script.add_out(ap, "lowbit")
    ap.add_argument("--builds", default=",".join(BUILDS),
                    help=f"comma-separated subset of {', '.join(BUILDS)} (default: all)")
    args = ap.parse_args(argv)
    names = [b for b in args.builds.split(",") if b]
    bad = [b for b in names if b not in BUILDS]
    if bad or not names:
        print(f"python -m qcc.bench.lowbit: unknown build(s) {', '.join(bad) or '(none)'}; "
              f"choose from {', '.join(BUILDS)}", file=sys.stderr)
        return 2
    builds = {b: BUILDS[b] for b in names}
    rows = []
    for m in select_models(args.models or DEFAULT, quick=True):
        with tempfile.TemporaryDirectory(prefix="qcc_lowbit_") as work:
            rows.append(bench_model(m, work, args.rounds, args.runs, builds=builds))
    info = speed.machine_info()
    layers = lut_layers(rows)
    text = (f"{table(rows)}\n\nµs: sums of the profiled steps' medians (whole-model medians of qcc_run "
            f"--bench in the JSON); ratios: low-bit / int8 in the same build, all steps (MAC layers); "
            f"machine: {info['cpu']}, {info['cores_available']} cores available; {info['versions']['gcc']}\n")
    if layers:
        text += (f"\nLinear layers with bit planes: table lookup (LUT) against whole-register unpacking "
                 f"(-DQCC_NO_LUT) in the same ISA, and the same layers in int8 (µs, sums of step "
                 f"medians):\n\n{lut_table(layers)}\n")
    script.publish(text, args.out, "lowbit", {"machine": info, "models": rows, "lut_layers": layers})
    return 0


if __name__ == "__main__":
    sys.exit(main())
