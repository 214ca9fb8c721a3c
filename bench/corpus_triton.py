"""The Triton target on the model corpus: compiles, runs under the interpreter, bit-exact?

    python -m qcc.bench.corpus_triton [--zoo ~/.cache/qcc-zoo] [--models a,b] [--timeout 900]
        [--rows 2] [--cheap 60] [--json OUT] [--md OUT] [--from-json J]

Per corpus model (a ``NAME/`` folder of ``tests/models/zoo/fetch.py``: ``model.onnx``,
``calib.npz``, ``test.npz``, ``meta.json``), smallest model file first, each in its own
process under a timeout (a crash or a hang costs one row):

1. ``qcc compile --target triton`` with the model's calibration samples (and its
   ``--input-shape`` / ``--bind`` from meta.json);
2. the first test sample through the generated ``Model`` on the CPU (the Triton
   interpreter, ``TRITON_INTERPRET=1`` set before triton is imported) and through the
   reference interpreter (``--engine reference``); the second sample too when the first
   ran in under ``--cheap`` seconds, up to ``--rows``;
3. every output compared bit for bit (dtype and values).

A row records the kernel launches of the manifest, host fallbacks (the Triton target has
none: a node it cannot lower fails the compile), compile and run seconds, and on failure
its stage and one line: ``compile``/``run`` errors of qcc (``QccError``, a clear message)
apart from crashes (any other exception: a traceback a user would see), ``mismatch``
(outputs differ: how many elements, the largest difference) and ``timeout``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from . import script
from .corpus_speed import DEFAULT_ZOO, _err, _load, _stamp, folders

CLASSES = ("bit-exact", "mismatch", "unsupported", "error", "crash", "timeout")


# -------------------------------------------------------------------------- one model
def _compare(got: dict, want: dict) -> str:
    """'' when ``got`` equals ``want`` bit for bit, else one line saying where it differs."""
    if sorted(got) != sorted(want):
        return f"outputs {sorted(got)} != reference {sorted(want)}"
    import numpy as np

    for k in sorted(want):
        g, w = np.asarray(got[k]), np.asarray(want[k])
        if g.dtype != w.dtype or g.shape != w.shape:
            return f"output '{k}': {g.dtype}{list(g.shape)} != reference {w.dtype}{list(w.shape)}"
        if not np.array_equal(g, w, equal_nan=g.dtype.kind == "f"):
            bad = g != w
            diff = np.abs(g.astype(np.float64) - w.astype(np.float64))[bad]
            return (f"output '{k}': {int(bad.sum())} of {bad.size} elements differ "
                    f"(largest difference {float(diff.max()):.6g})")
    return ""


def _classify(e: BaseException) -> str:
    from qcc.errors import LoweringError, QccError, UnsupportedOpError

    if not isinstance(e, QccError):
        return "crash"
    return "unsupported" if isinstance(e, (UnsupportedOpError, LoweringError)) else "error"


def _samples(out: str, test: str, n: int) -> list:
    """The first ``n`` samples of ``test`` as the compiled model's inputs take them (a
    sample of an input whose leading dimension is B is B rows; bound inputs dropped)."""
    from qcc.api import load
    from qcc.npzio import iter_samples

    graph = load(out).graph
    names = {v.name for v in graph.inputs}
    data = {k: v for k, v in _load(test).items() if k in names}
    return [s for s, _ in zip(iter_samples(graph, data, "test.npz"), range(n))]


def measure_one(d: str, opts: dict, save) -> dict:
    """One model's row; ``save(row)`` is called after each stage (a timeout keeps the last)."""
    from qcc.api import compile_options
    from qcc.commands import run_artifact
    from qcc.driver import CompileOptions, compile_model
    from qcc.frontend.onnx_import import parse_input_shapes

    name = os.path.basename(os.path.normpath(d))
    meta = json.load(open(os.path.join(d, "meta.json")))
    row: dict = {"model": name, "stage": "compile", "status": "timeout"}
    save(row)
    out = os.path.join(opts["work"], name)
    t0 = time.time()
    try:
        man = compile_model(os.path.join(d, "model.onnx"), CompileOptions(
            target="triton", out_dir=out, input_shapes=parse_input_shapes(meta.get("input_shapes")),
            bind=meta.get("bind") or {},
            options=compile_options(os.path.join(d, "calib.npz"), **{"quiet": True, **opts.get("options", {})})))
    except Exception as e:  # noqa: BLE001
        row.update(status=_classify(e), error=f"compile: {_err(e)}", compile_s=round(time.time() - t0, 1))
        return row
    row.update(compile_s=round(time.time() - t0, 1), kernels=len(man.get("layers") or []),
               host_fallbacks=0, workspace_bytes=(man.get("memory") or {}).get("workspace_bytes"),
               stage="run", run_s=[], ref_s=[])
    save(row)
    try:
        samples = _samples(out, os.path.join(d, "test.npz"), opts["rows"])
    except Exception as e:  # noqa: BLE001
        row.update(status=_classify(e), error=f"test samples: {_err(e)}")
        return row
    for i, feed in enumerate(samples):
        try:
            t1 = time.time()
            got = run_artifact(out, feed, "target", "cpu")
            t2 = time.time()
            want = run_artifact(out, feed, "reference")
        except Exception as e:  # noqa: BLE001
            row.update(status=_classify(e), error=f"run sample {i}: {_err(e)}")
            return row
        row["run_s"].append(round(t2 - t1, 1))
        row["ref_s"].append(round(time.time() - t2, 1))
        bad = _compare(got, want)
        if bad:
            row.update(status="mismatch", error=f"sample {i}: {bad}", samples=i + 1)
            return row
        row["samples"] = i + 1
        save(row)
        if t2 - t1 > opts["cheap"]:
            break
    row.update(status="bit-exact", stage="done")
    return row


# --------------------------------------------------------------------------------- main
def _run_one(d: str, opts: dict, timeout: float) -> dict:
    """measure_one in its own process, the Triton interpreter switched on before import."""
    name = os.path.basename(os.path.normpath(d))
    with tempfile.TemporaryDirectory(prefix="qcc_ctriton_") as tmp:
        out = os.path.join(tmp, "row.json")
        cmd = [sys.executable, "-m", "qcc.bench.corpus_triton", "--one", d, "--row-out", out,
               "--opts", json.dumps({**opts, "work": tmp})]
        env = {**os.environ, "TRITON_INTERPRET": "1"}
        t0 = time.time()
        try:
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               timeout=timeout, env=env)
            tail = (p.stderr.strip().splitlines() or ["crashed"])[-1]
        except subprocess.TimeoutExpired:
            p, tail = None, ""
        row = {"model": name, "stage": "start", "status": "crash"}
        if os.path.isfile(out):
            with open(out) as f:
                row = json.load(f)
        if p is None:
            row.update(status="timeout", error=f"timed out after {timeout:.0f} s in {row['stage']}")
        elif p.returncode != 0 or row.get("stage") not in ("done",) and "error" not in row:
            row.update(status="crash", error=f"{row['stage']}: process died ({p.returncode}): {tail[:240]}")
        row["seconds"] = round(time.time() - t0, 1)
        return row


def summary(rows: list) -> dict:
    return {c: sum(r.get("status") == c for r in rows) for c in CLASSES}


def _secs(v) -> str:
    if isinstance(v, list):
        return " / ".join(f"{x:.1f}" for x in v) if v else ""
    return "" if v is None else f"{v:.1f}"


def _load_avg(res: dict) -> str:
    la = res.get("load_average_end")
    return " ".join(f"{x:.1f}" for x in la) if la else "unknown"


def render(res: dict) -> str:
    s = res["summary"]
    head = (f"{s['bit-exact']} of {len(res['rows'])} corpus models bit-exact with the reference "
            f"under the Triton interpreter; " + ", ".join(f"{k} {v}" for k, v in s.items() if v and k != "bit-exact"))
    lines = [head.rstrip("; "), "",
             f"{res['date']}, qcc {res['qcc']}, {res['machine']}, load at the end {_load_avg(res)}, "
             f"per-model timeout {res['timeout']:g} s; "
             f"`{res['command']}`", "",
             "| model | status | kernels | host fallbacks | compile s | run s (interpreter, per sample) "
             "| reference s | samples | error |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        err = (r.get("error") or "").replace("|", "\\|")
        lines.append(f"| {r['model']} | {r['status']} | {r.get('kernels', '')} | {r.get('host_fallbacks', '')} "
                     f"| {_secs(r.get('compile_s'))} | {_secs(r.get('run_s'))} | {_secs(r.get('ref_s'))} "
                     f"| {r.get('samples', '')} | {err} |")
    return "\n".join(lines) + "\n"


def _write(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def _result(args, rows: list, t0: float) -> dict:
    from .speed import cpu_model

    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0)), "seconds": round(time.time() - t0),
            "machine": f"{cpu_model()}, {os.cpu_count()} cores, no GPU (Triton interpreter)",
            "load_average_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "qcc": _stamp(), "timeout": args.timeout, "rows_per_model": args.rows,
            "options": _options(args.option),
            "command": "python -m qcc.bench.corpus_triton " + " ".join(args.argv),
            "summary": summary(rows), "rows": rows}


def _options(pairs) -> dict:
    """``--option KEY=VALUE`` pairs as compile options (VALUE read as JSON when it is, e.g.
    ``group_size=32``, else as a string), checked by ``qcc.compile_options``."""
    from qcc.api import compile_options
    from qcc.errors import QccError

    out = {}
    for p in pairs or ():
        k, eq, v = p.partition("=")
        if not eq:
            raise QccError(f"--option {p!r}: expected KEY=VALUE")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    compile_options(None, **out)
    return out


def run(args, log=sys.stderr) -> dict:
    """Every picked model in turn; with ``--json`` the result so far is written after each."""
    names = [n for n in args.models.split(",") if n]
    picked = folders(os.path.expanduser(args.zoo), names)
    opts = {"rows": args.rows, "cheap": args.cheap, "options": _options(args.option)}
    t0, rows = time.time(), []
    for d in picked:
        rows.append(_run_one(d, opts, args.timeout))
        r = rows[-1]
        print(f"{r['model']}: {r['status']} {r.get('seconds')} s {r.get('error', '')}", file=log, flush=True)
        if args.json:
            _write(args.json, json.dumps(_result(args, rows, t0), indent=1, default=str))
    return _result(args, rows, t0)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--zoo", default=DEFAULT_ZOO, help="the corpus folder (default ~/.cache/qcc-zoo)")
    ap.add_argument("--models", default="", help="comma-separated corpus names (default: all)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per model")
    ap.add_argument("--rows", type=int, default=2, help="test samples per model at most")
    ap.add_argument("--cheap", type=float, default=60.0,
                    help="run the next sample only if this one took fewer seconds under the interpreter")
    ap.add_argument("--option", action="append", metavar="KEY=VALUE", help="a compile option of "
                    "qcc.compile (repeatable), e.g. weight_bits=4 --option group_size=32")
    ap.add_argument("--json", default=None, help="write the rows as JSON (after each model)")
    ap.add_argument("--md", default=None, help="write the table as Markdown")
    ap.add_argument("--from-json", default=None, help="only print (and --md) the table of an earlier --json")


def main(argv=None) -> int:
    from qcc.errors import QccError

    ap = script.parser("corpus_triton", __doc__)
    add_arguments(ap)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--row-out", help=argparse.SUPPRESS)
    ap.add_argument("--opts", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.one:
        def save(row):
            _write(args.row_out, json.dumps(row, default=str))
        save(measure_one(args.one, json.loads(args.opts), save))
        return 0
    try:
        if args.from_json:
            with open(args.from_json) as f:
                res = json.load(f)
        else:
            res = run(args)
    except (QccError, OSError, ValueError) as e:
        print(f"qcc bench: error: {e}", file=sys.stderr)
        return 2
    text = render(res)
    print(text, end="")
    if args.md:
        _write(args.md, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
