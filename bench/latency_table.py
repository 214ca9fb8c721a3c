"""Measure a latency table (``--latency-table``) with qcc's C kernels on this host.

    python -m qcc.bench.latency_table MODEL.onnx --calib CALIB.npz -o table.json [--runs N]

Compiles the model for ``--target c`` with every layer at 8 bits, then once per
(layer, width) with only that layer at 4 or 2 bits, and times each runner
(``qcc_run --bench``: the least over ``--rounds`` interleaved rounds of the
median of ``--runs`` inferences of the first calibration sample).  A layer's time at width ``b`` is its share of the all-8-bit time
(split evenly) plus the measured change when that layer alone goes to ``b``
bits, so the sum over layers of any assignment is the all-8 time plus the
per-layer changes (assumed additive).  The table is in microseconds of this
host; measure on the deployment device for real budgets.  Cost: ``2 L + 1``
compiles and builds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

from qcc.backends.c.build import bench_latency, build
from qcc.driver import CompileOptions, compile_model
from qcc.errors import QccError

WIDTHS = (4, 2)


def _compile(model: str, out: str, calib, layer_bits: dict) -> dict:
    opts = CompileOptions(target="c", out_dir=out, options={
        "calib": calib, "quantize": True, "quiet": True, "max_calib_samples": 4,
        "layer_bits": dict(layer_bits)})
    compile_model(model, opts)
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def _times(dirs: list, sample: dict, runs: int, rounds: int) -> list:
    """Per build: the least over ``rounds`` interleaved rounds of the median of
    ``runs`` inferences (the least is the one the host's other load disturbed least)."""
    bins = [build(d) for d in dirs]
    best = [float("inf")] * len(dirs)
    for _ in range(rounds):
        for i, (d, b) in enumerate(zip(dirs, bins)):
            best[i] = min(best[i], bench_latency(d, sample, n=runs, binary=b))
    return best


def measure_c_host(model: str, calib, runs: int = 200, rounds: int = 3, log=sys.stderr) -> dict:
    """The latency table of ``model`` (a dict in the ``--latency-table`` format)."""
    from qcc.calibration.data import CalibData
    from qcc.ir.serialize import load as load_ir

    calib = CalibData.of(calib)  # read once for the 2L+1 compiles
    with tempfile.TemporaryDirectory(prefix="qcc_lat_") as tmp:
        base = os.path.join(tmp, "all8")
        man = _compile(model, base, calib, {})
        layers = [r["node"] for r in man["passes"]["quantize"]["layers"]]
        if not layers:
            raise QccError(f"'{model}' has no layer with quantized weights to time")
        graph = load_ir(os.path.join(base, "model.qcc"))
        sample = calib.samples(graph, 1)[0]
        keys = [(name, b) for name in layers for b in WIDTHS]
        dirs = [base]
        for i, (name, b) in enumerate(keys):
            dirs.append(os.path.join(tmp, f"v{i}"))
            _compile(model, dirs[-1], calib, {name: b})
        print(f"[measure] {len(dirs)} builds, timing {rounds} rounds ...", file=log, flush=True)
        t = _times(dirs, sample, runs, rounds)
    t8, delta = t[0], {k: v - t[0] for k, v in zip(keys, t[1:])}
    for (name, b), d in delta.items():
        print(f"[measure] {name} w{b}: {d:+.2f} us (all-int8 {t8:.2f} us)", file=log)
    share = t8 / len(layers)
    table = {name: {"8": round(share, 4), **{str(b): round(max(share + delta[(name, b)], 0.0), 4)
                                              for b in WIDTHS}} for name in layers}
    return {"unit": "us", "layers": table, "model": os.path.basename(model),
            "device": f"{platform.machine()} {platform.processor() or ''}".strip()
                      + f", {os.cpu_count()} cpus",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "method": f"qcc C kernels (gcc, host runner), least of {rounds} rounds of the median "
                      f"of {runs} runs; per layer: its share of the all-int8 time plus the change "
                      f"with only it at 4 or 2 bits"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qcc.bench.latency_table",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--calib", required=True, help="calibration samples (.npz)")
    ap.add_argument("-o", "--output", required=True, help="the table (JSON)")
    ap.add_argument("--runs", type=int, default=200, help="timed inferences per build (median)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (least)")
    args = ap.parse_args(argv)
    try:
        table = measure_c_host(args.model, args.calib, args.runs, args.rounds)
    except QccError as e:
        print(f"qcc: error: {e}", file=sys.stderr)
        return 2
    with open(args.output, "w") as f:
        json.dump(table, f, indent=1)
    print(f"wrote {args.output} ({len(table['layers'])} layers, {table['unit']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
