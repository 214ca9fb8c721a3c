"""The accelerator target on the model corpus: does every corpus model compile with
``--target accel``, run bit-exact on the simulator, and what do its streams cost?

    python -m qcc.bench.corpus_accel [--zoo ~/.cache/qcc-zoo] [--models a,b] [--timeout S]
        [--json OUT] [--md OUT] [--update OUT] [--work DIR]

Per corpus model (a ``NAME/`` folder of ``tests/models/zoo/fetch.py``: ``model.onnx``,
``calib.npz``, ``test.npz``, ``meta.json``), each in its own process with a timeout (the
tile search simulates layers; a big model may take minutes, and a model past the timeout
is a row that says so):

1. ``qcc compile --target accel`` with the model's calibration samples (and its
   ``--input-shape`` / ``--bind`` from meta.json), timed;
2. the first ``--samples`` test samples run with ``--engine target`` (the functional
   simulator) and ``--engine reference`` (qcc's interpreter), compared bit for bit;
3. the timing model's profile (``qcc profile``): total cycles and utilisation, the cycles
   of the convolution layers, and the host ops with their reasons from the manifest.

Smallest model file first.  A stage that fails records its one-line error in the row.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from .corpus_speed import DEFAULT_ZOO, _err, _load, _stamp, folders

CONV_OPS = ("conv",)  # a layer whose op names a convolution (conv2d, the fused forms)


# -------------------------------------------------------------------------- one model
def first_samples(art, test: dict, n: int) -> list[dict]:
    """The first ``n`` samples of ``test`` (one dict each) as ``qcc run`` splits them."""
    from qcc.frontend.bind import drop_bound
    from qcc.npzio import iter_samples

    data = drop_bound(test, art.manifest.get("bound_inputs"))
    out = []
    for s in iter_samples(art.graph, data, "test.npz"):
        out.append(s)
        if len(out) == n:
            break
    return out


def bit_exact(art, samples: list[dict]) -> tuple[bool, str]:
    """Target against reference, sample by sample; (all equal, the first difference)."""
    for i, s in enumerate(samples):
        got, want = art.run(s, "target"), art.run(s, "reference")
        for k in want:
            if k not in got:
                return False, f"sample {i}: output '{k}' missing"
            g, w = np.asarray(got[k]), np.asarray(want[k])
            if g.shape != w.shape or g.dtype != w.dtype:
                return False, f"sample {i}: '{k}' {g.dtype}{list(g.shape)} vs {w.dtype}{list(w.shape)}"
            if not np.array_equal(g, w):
                n = int(np.sum(g != w)) if g.dtype != object else -1
                return False, f"sample {i}: '{k}' differs in {n} of {w.size} elements"
    return True, ""


def profile_columns(out_dir: str) -> dict:
    """Total cycles and utilisation, the convolution layers' cycles, host ops with reasons."""
    from qcc.backends import accel

    res = accel.profile(out_dir)
    t = res["total"]
    conv = [r for r in res["layers"] if r.get("kind") == "gemm" and any(c in r["op"] for c in CONV_OPS)]
    cc = sum(r["cycles"] for r in conv)
    cm = sum(r["macs"] for r in conv)
    return {"cycles": t["cycles"], "macs": t["macs"], "utilization": round(t["utilization"], 4),
            "conv_layers": len(conv), "conv_cycles": cc,
            "conv_utilization": round(cm / (t["pe"] * cc), 4) if cc else None,
            "accel_layers": len(res["layers"]),
            "host_ops": [{"node": h["node"], "op": h["op"], "reason": h["reason"]} for h in res["host_ops"]]}


def measure_one(d: str, work: str, n_samples: int = 2, log=sys.stderr) -> dict:
    """One model's row (see the module docstring); a stage that fails records its error."""
    from qcc.api import load
    from qcc.driver import CompileOptions, compile_model
    from qcc.frontend.onnx_import import parse_input_shapes

    name = os.path.basename(os.path.normpath(d))
    meta = json.load(open(os.path.join(d, "meta.json")))
    row: dict = {"model": name, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "qcc": _stamp()}
    out = os.path.join(work, name, "accel")
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    print(f"[{name}] compile", file=log, flush=True)
    try:
        compile_model(os.path.join(d, "model.onnx"),
                      CompileOptions(target="accel", out_dir=out,
                                     input_shapes=parse_input_shapes(meta.get("input_shapes")),
                                     bind=meta.get("bind") or {},
                                     options={"calib": os.path.join(d, "calib.npz"), "quiet": True}))
    except Exception as e:  # noqa: BLE001
        row.update(compiles=False, error=f"compile: {_err(e)}", compile_s=round(time.time() - t0, 1))
        return row
    row.update(compiles=True, compile_s=round(time.time() - t0, 1))
    print(f"[{name}] run {n_samples} samples", file=log, flush=True)
    try:
        art = load(out)
        samples = first_samples(art, _load(os.path.join(d, "test.npz")), n_samples)
        row["samples"] = len(samples)
        ok, why = bit_exact(art, samples)
        row["bit_exact"] = ok
        if not ok:
            row["error"] = f"not bit-exact: {why}"
    except Exception as e:  # noqa: BLE001
        row["bit_exact"] = False
        row["error"] = f"run: {_err(e)}"
    print(f"[{name}] profile", file=log, flush=True)
    try:
        row.update(profile_columns(out))
    except Exception as e:  # noqa: BLE001
        row.setdefault("error", f"profile: {_err(e)}")
    row["seconds"] = round(time.time() - t0, 1)
    row["load_average"] = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    return row


def _run_one(d: str, timeout: float, n_samples: int, work: str) -> dict:
    """measure_one in its own process (a crash or hang costs one row)."""
    name = os.path.basename(os.path.normpath(d))
    with tempfile.TemporaryDirectory(prefix="qcc_caccel_") as tmp:
        out = os.path.join(tmp, "row.json")
        cmd = [sys.executable, "-m", "qcc.bench.corpus_accel", "--one", d, "--row-out", out,
               "--samples", str(n_samples), "--work", work]
        t0 = time.time()
        try:
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            stage = [ln for ln in err.splitlines() if ln.startswith(f"[{name}]")]
            at = f" (in {stage[-1].split('] ', 1)[1]})" if stage else ""
            return {"model": name, "error": f"timed out after {timeout:.0f} s{at}", "seconds": round(timeout)}
        if p.returncode != 0 or not os.path.isfile(out):
            tail = (p.stderr.strip().splitlines() or ["crashed"])[-1]
            return {"model": name, "error": f"crashed (exit {p.returncode}): {tail[:240]}",
                    "seconds": round(time.time() - t0, 1)}
        with open(out) as f:
            return json.load(f)


# ------------------------------------------------------------------------ the table
def _host_cell(r: dict) -> str:
    ops = r.get("host_ops")
    if ops is None:
        return ""
    if not ops:
        return "none"
    by: dict = {}
    for h in ops:
        by.setdefault((h["op"], h["reason"]), 0)
        by[(h["op"], h["reason"])] += 1
    return "; ".join(f"{n} {op}: {why}" for (op, why), n in by.items())


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f} %"


def table(rows: list[dict]) -> str:
    lines = ["| model | compiles | host ops (why) | bit-exact (2 samples) | cycles | utilisation | "
             "conv cycles | conv utilisation | compile s | qcc | error |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        comp = {True: "yes", False: "no"}.get(r.get("compiles"), "")
        be = {True: "yes", False: "no"}.get(r.get("bit_exact"), "")
        cyc = f"{r['cycles']:,}" if "cycles" in r else ""
        conv = f"{r['conv_cycles']:,} ({r['conv_layers']})" if r.get("conv_layers") else ("0" if "cycles" in r else "")
        err = r.get("error", "").replace("|", "\\|")
        lines.append(f"| {r['model']} | {comp} | {_host_cell(r).replace('|', '/')} | {be} | {cyc} | "
                     f"{_pct(r.get('utilization'))} | {conv} | {_pct(r.get('conv_utilization'))} | "
                     f"{r.get('compile_s', '')} | {r.get('qcc', '')} | {err} |")
    return "\n".join(lines)


def summary(rows: list[dict]) -> dict:
    return {"models": len(rows), "compile": sum(bool(r.get("compiles")) for r in rows),
            "bit_exact": sum(r.get("bit_exact") is True for r in rows),
            "no_host_ops": sum(r.get("host_ops") == [] for r in rows),
            "failed": [r["model"] for r in rows if r.get("bit_exact") is not True]}


def merge(path: str, rows: list[dict]) -> list[dict]:
    """The rows of the earlier run in ``path`` with ``rows`` in place of theirs (new models
    appended)."""
    with open(path) as f:
        old = json.load(f)["rows"]
    new = {r["model"]: r for r in rows}
    out = [new.pop(r["model"], r) for r in old]
    return out + list(new.values())


def result(rows: list[dict], t0: float, argv: list) -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0)), "seconds": round(time.time() - t0),
            "qcc": _stamp(), "load_average_end": load,
            "command": "python -m qcc.bench.corpus_accel " + " ".join(argv),
            "summary": summary(rows), "rows": rows}


def _write(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m qcc.bench.corpus_accel", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo", default=DEFAULT_ZOO, help="the corpus folder (default ~/.cache/qcc-zoo)")
    ap.add_argument("--models", default="", help="comma-separated corpus names (default: all)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per model")
    ap.add_argument("--samples", type=int, default=2, help="test samples compared bit for bit")
    ap.add_argument("--work", default=None, help="keep the compiled folders here")
    ap.add_argument("--json", default=None, help="write the rows as JSON (rewritten after every model)")
    ap.add_argument("--md", default=None, help="write the table as Markdown")
    ap.add_argument("--update", default=None, metavar="JSON", help="measure --models and replace their "
                    "rows in this earlier --json (written back, the table of all its rows printed)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--row-out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:  # the child process of _run_one
        row = measure_one(args.one, args.work, args.samples)
        with open(args.row_out, "w") as f:
            json.dump(row, f, indent=1, default=str)
        return 0
    from qcc.errors import QccError

    try:
        todo = folders(args.zoo, [n for n in args.models.split(",") if n] or None)
    except QccError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.time()
    work = args.work or tempfile.mkdtemp(prefix="qcc_caccel_work_")
    rows = []
    for d in todo:
        rows.append(_run_one(d, args.timeout, args.samples, work))
        r = rows[-1]
        print(f"{r['model']}: {'bit-exact' if r.get('bit_exact') else r.get('error', '?')} "
              f"{r.get('cycles', '')} ({r.get('seconds', '')} s)", file=sys.stderr, flush=True)
        if args.json:
            _write(args.json, json.dumps(result(rows, t0, argv), indent=1, default=str))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if args.update:
        rows = merge(args.update, rows)
        _write(args.update, json.dumps(result(rows, t0, argv), indent=1, default=str))
    md = table(rows)
    print(md)
    if args.md:
        _write(args.md, md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
