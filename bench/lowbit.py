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

import argparse
import json
import os
import sys
import tempfile

import numpy as np

from . import speed

DEFAULT = ["digits_cnn", "mobilenet_small", "tiny_bert", "text_recog"]
WIDTHS = {"int8": {}, "int4_g32": {"weight_bits": "4", "group_size": 32},
          "int2_g16": {"weight_bits": "2", "group_size": 16}}
BUILDS = {"default": (), "native": ("-march=native",), "portable": ("-DQCC_PORTABLE",)}
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


def bench_model(m, work: str, rounds: int, runs: int, log=sys.stderr) -> dict:
    from qcc.backends.c import build as cbuild

    sample = {k: v[:1] for k, v in m.test.items()}
    dirs = compile_widths(m, work)
    bins = {(w, b): cbuild.build(d, extra_cflags=fl) for w, d in dirs.items() for b, fl in BUILDS.items()}
    times = {k: [] for k in bins}
    for r in range(rounds):
        for (w, b), binary in bins.items():
            times[(w, b)].append(float(cbuild.bench_latency(dirs[w], sample, runs, binary=binary)))
        print(f"  {m.name} round {r + 1}/{rounds} done", file=log)
    cells = {}
    for (w, b), ts in times.items():
        layers = layer_profile(dirs[w], sample, BUILDS[b], runs)
        cells[f"{w}/{b}"] = {"median_us": round(float(np.median(ts)), 2), "rounds_us": [round(t, 2) for t in ts],
                             "steps_us": round(sum(x["ns"] for x in layers) / 1e3, 2),
                             "mac_layers_us": round(sum(x["ns"] for x in layers if x["op"] in MAC_OPS) / 1e3, 2),
                             "layers": layers}
    ratio = {}
    for w in WIDTHS:
        for b in BUILDS:
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
        for b in BUILDS:
            c = [r["cells"][f"{w}/{b}"] for w in WIDTHS]
            q = [r["vs_int8"].get(f"{w}/{b}", {}) for w in ("int4_g32", "int2_g16")]
            out.append(f"| {r['model']} | {b} | "
                       + " | ".join(f"{x['steps_us']:,.1f} ({x['mac_layers_us']:,.1f})" for x in c) + " | "
                       + " | ".join(f"{x.get('steps', 0):.2f}x ({x.get('mac_layers', 0):.2f}x)" for x in q) + " |")
    return "\n".join(out)


def main(argv=None) -> int:
    from .run import select_models

    ap = argparse.ArgumentParser(prog="python -m qcc.bench.lowbit", description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=100, help="timed runs per build per round")
    ap.add_argument("--out", default=None, help="write lowbit.json and lowbit.md here")
    args = ap.parse_args(argv)
    rows = []
    for m in select_models(args.models or DEFAULT, quick=True):
        with tempfile.TemporaryDirectory(prefix="qcc_lowbit_") as work:
            rows.append(bench_model(m, work, args.rounds, args.runs))
    info = speed.machine_info()
    text = (f"{table(rows)}\n\nµs: sums of the profiled steps' medians (whole-model medians of qcc_run "
            f"--bench in the JSON); ratios: low-bit / int8 in the same build, all steps (MAC layers); "
            f"machine: {info['cpu']}, {info['cores_available']} cores available; {info['versions']['gcc']}\n")
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "lowbit.json"), "w") as f:
            json.dump({"machine": info, "models": rows}, f, indent=1)
        with open(os.path.join(args.out, "lowbit.md"), "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
