"""Corpus speed benchmark: issue 19's goals on the CNNs and transformers of the model corpus.

    python -m qcc.bench.corpus_speed [--zoo ~/.cache/qcc-zoo] [--models a,b] [--classes cnn,transformer]
        [--budget 20] [--rounds 5] [--total-budget 5400] [--no-m4] [--m55] [--work DIR] [--json OUT]

Per corpus model (a ``NAME/`` folder of ``tests/models/zoo/fetch.py``: ``model.onnx``,
``calib.npz``, ``test.npz``, ``meta.json``), each in its own process:

1. ``qcc compile --target c`` with the model's calibration samples (and its
   ``--input-shape`` / ``--bind`` from meta.json);
2. the host runner built twice: the default build (``-O3``, no ``-march``: the portable
   build a user gets) and ``-march=native``; onnxruntime float32 and its static int8 QDQ
   model (``quantize_static``, per-channel, MinMax on the first ``--ort-calib`` calibration
   samples: calibration changes the scales, not the graph onnxruntime runs);
3. all timed side by side, one thread, one sample, in ``--rounds`` alternating rounds
   (every engine once per round); a round times ``n`` runs and keeps their median, ``n``
   sized from a probe so one model's timing takes about ``--budget`` seconds; each cell
   is the **least over rounds** of those medians (on a shared machine the least-disturbed
   round). onnxruntime runs with I/O binding and the same measure of a one-element
   Identity model (its empty call) is subtracted;
4. Cortex-M4 (``-mcpu=cortex-m4 -O2``, QEMU ``mps2-an386 -icount shift=0``: **instructions,
   not cycles**) per inference and per MAC where the model fits the board, and with
   ``--m55`` the Cortex-M55 (Helium) figure on ``mps3-an547``;
5. for each goal a row misses, the per-layer profile of that build (``qcc profile``: host
   ns, or M4 instructions) grouped into layer kinds (bench/corpus_why.py): the "why".

Goals (issue 19): ``-march=native`` at or below onnxruntime int8, the default build at or
below onnxruntime float32, Cortex-M4 at most 1.5 instructions/MAC over a CNN and 1.0 over
a transformer's linear layers.  A model's class is read from its graph, never its name:
``transformer`` has a MatMul of two activations (attention), ``recurrent`` an
LSTM/GRU/RNN/If/Loop/Scan, ``cnn`` a Conv, else ``mlp``.
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

from . import script
from .corpus_table import GOAL_M4, _arm, merge, render, summary, table  # noqa: F401

DEFAULT_ZOO = os.path.expanduser(os.environ.get("QCC_ZOO", "~/.cache/qcc-zoo"))
ENGINES = ("qcc_native", "qcc_default", "ort_fp32", "ort_int8", "ort_empty")
RECURRENT = {"LSTM", "GRU", "RNN", "If", "Loop", "Scan"}


# ------------------------------------------------------------------------------ the corpus
def model_class(path: str) -> str:
    """cnn | transformer | recurrent | mlp, from the ONNX graph (see the module docstring)."""
    import onnx

    m = onnx.load(path, load_external_data=False)
    consts = {t.name for t in m.graph.initializer}
    consts |= {o for n in m.graph.node if n.op_type == "Constant" for o in n.output}
    ops = {n.op_type for n in m.graph.node}
    if ops & RECURRENT:
        return "recurrent"
    if any(n.op_type == "MatMul" and not (set(n.input[:2]) & consts) for n in m.graph.node):
        return "transformer"
    return "cnn" if ops & {"Conv", "ConvTranspose"} else "mlp"


def folders(zoo: str, names=None) -> list[str]:
    """The corpus model folders in ``zoo``: ``names`` in their order, else all, smallest
    model file first."""
    if not os.path.isdir(zoo):
        from qcc.errors import QccError

        raise QccError(f"corpus folder '{zoo}' does not exist (build it with tests/models/zoo/fetch.py)")
    have = sorted(n for n in os.listdir(zoo) if os.path.isfile(os.path.join(zoo, n, "meta.json"))
                  and os.path.isfile(os.path.join(zoo, n, "model.onnx")))
    if names:
        missing = [n for n in names if n not in have]
        if missing:
            from qcc.errors import QccError

            raise QccError(f"not in the corpus at '{zoo}': {', '.join(missing)}")
        return [os.path.join(zoo, n) for n in names]
    return sorted((os.path.join(zoo, n) for n in have),
                  key=lambda d: os.path.getsize(os.path.join(d, "model.onnx")))


def corpus(zoo: str, names=None, classes=None) -> list[tuple[str, str]]:
    """(folder, class) of the corpus models in ``zoo``: ``names`` in their order, else every
    model of ``classes``, smallest model file first."""
    out = [(d, model_class(os.path.join(d, "model.onnx"))) for d in folders(zoo, names)]
    return out if names else [(d, c) for d, c in out if not classes or c in classes]


def _load(p: str) -> dict:
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _err(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return f"{type(e).__name__}: {s[0][:240] if s else ''}"


def _stamp() -> str:
    """qcc's source revision: git HEAD plus a hash of the uncommitted diff (compiled
    folders in ``--work`` are reused only under the same stamp)."""
    import hashlib

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=30).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--", "compiler", "passes", "backends"], cwd=root, capture_output=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{head[:12]}+{hashlib.sha1(diff).hexdigest()[:8]}" if diff else head[:12]


# -------------------------------------------------------------------------- one model
def compile_cached(d: str, work: str) -> str:
    """``work/c``: the model compiled for target c (reused when its stamp matches)."""
    from qcc.driver import CompileOptions, compile_model
    from qcc.frontend.onnx_import import parse_input_shapes

    meta = json.load(open(os.path.join(d, "meta.json")))
    out, stamp_file = os.path.join(work, "c"), os.path.join(work, "c.stamp")
    stamp = f"{_stamp()} {os.path.getmtime(os.path.join(d, 'model.onnx'))}"
    if os.path.isfile(stamp_file) and open(stamp_file).read() == stamp and _stamp():
        return out
    shutil.rmtree(out, ignore_errors=True)
    compile_model(os.path.join(d, "model.onnx"),
                  CompileOptions(target="c", out_dir=out, input_shapes=parse_input_shapes(meta.get("input_shapes")),
                                 bind=meta.get("bind") or {},
                                 options={"calib": os.path.join(d, "calib.npz"), "quiet": True}))
    with open(stamp_file, "w") as f:
        f.write(stamp)
    return out


def ort_int8_cached(d: str, work: str, n_calib: int) -> str:
    from .accuracy import ort_quantize
    from .models import BenchModel

    meta = json.load(open(os.path.join(d, "meta.json")))
    q8 = os.path.join(work, f"ort_int8_c{n_calib}.onnx")
    if not os.path.isfile(q8) or os.path.getmtime(q8) < os.path.getmtime(os.path.join(d, "model.onnx")):
        calib = {k: v[:n_calib * max(1, v.shape[0] // 32)] for k, v in _load(os.path.join(d, "calib.npz")).items()}
        m = BenchModel(meta["name"], os.path.join(d, "model.onnx"), calib, {},
                       input_shapes=list(meta.get("input_shapes") or []), bind=meta.get("bind") or {})
        ort_quantize(m, "minmax", q8 + ".tmp.onnx")
        os.replace(q8 + ".tmp.onnx", q8)
    return q8


def _engines(d: str, c_dir: str, q8: str | None, work: str, sample: dict) -> tuple[dict, dict]:
    """name -> callable(n) returning the median µs of ``n`` runs; and build errors."""
    from qcc.backends.c import build as cbuild

    from .accuracy import _samples
    from .kernels import _identity, _iobound

    test = _load(os.path.join(d, "test.npz"))
    eng: dict = {}
    errors = {}
    for key, cflags in (("qcc_native", ("-march=native",)), ("qcc_default", ())):
        try:  # a build that fails is a finding of its own: recorded, the other columns go on
            binary = cbuild.build(c_dir, extra_cflags=cflags)
            eng[key] = lambda n, b=binary: cbuild.bench_latency(c_dir, sample, n, binary=b)
        except Exception as e:  # noqa: BLE001
            errors[f"{key}_error"] = f"build {' '.join(cflags) or 'default'}: {_err(e)}"
    from . import speed

    def ort(path):
        call = _iobound(path, _samples(test, speed.ort_session(path))[0])
        return lambda n: speed.time_callable(call, n, 1, budget_s=1e9)["median_us"]

    eng["ort_fp32"] = ort(os.path.join(d, "model.onnx"))
    if q8:
        try:
            eng["ort_int8"] = ort(q8)
        except Exception as e:  # noqa: BLE001 - onnxruntime may refuse its own QDQ model
            errors["ort_int8_error"] = f"onnxruntime int8 session: {_err(e)}"
    empty = _iobound(_identity(work), {"x": np.zeros(1, np.float32)})
    eng["ort_empty"] = lambda n: speed.time_callable(empty, n, 1, budget_s=1e9)["median_us"]
    return eng, errors


def time_engines(eng: dict, rounds: int, budget_s: float, max_runs: int = 1000, log=sys.stderr) -> dict:
    """Least over ``rounds`` alternating rounds of the median of ``n`` runs per engine;
    ``n`` per engine from a one-run probe so all rounds take about ``budget_s``."""
    probe = {k: max(float(fn(1)), 0.5) for k, fn in eng.items()}
    share_us = budget_s * 1e6 / max(rounds, 1) / len(eng)
    runs = {k: int(min(max_runs, max(1, share_us // p))) for k, p in probe.items()}
    meds: dict = {k: [] for k in eng}
    for _ in range(rounds):
        for k, fn in eng.items():
            meds[k].append(round(float(fn(runs[k])), 2))
    return {"best_us": {k: min(v) for k, v in meds.items()}, "rounds_us": meds, "runs": runs}


def arm_figures(c_dir: str, sample: dict, core: str, max_macs: int) -> dict:
    """Instructions per inference and per MAC under QEMU icount, or why none."""
    from qcc.analysis import macs
    from qcc.backends.c import arm
    from qcc.errors import BuildError

    n = macs(_graph(c_dir))
    if n > max_macs:
        return {"skipped": f"{n / 1e6:.0f} M MACs > --m4-max-macs {max_macs / 1e6:.0f} M", "macs": n}
    if not arm.available(core):
        return {"skipped": arm.missing_tools()}
    try:
        arm.build(c_dir, core=core)
    except BuildError as e:
        if "does not fit" in str(e) or "overflow" in str(e):
            return {"skipped": "does not fit the board (" + arm.core_of(core).memory + ")", "macs": n}
        return {"error": _err(e)}
    insns = arm.count_instructions(c_dir, [sample], core=core)[0]
    return {"instructions": insns, "macs": n, "insns_per_mac": round(insns / n, 3) if n else None}


def _graph(c_dir: str):
    from .corpus_why import load_graph

    return load_graph(c_dir)


def _host_why(c_dir: str, sample: dict, cflags: tuple, us: float, goal_us: float, graph) -> dict:
    from qcc.analysis import macs
    from qcc.backends.c.profile import profile

    from . import corpus_why

    runs = int(min(200, max(5, 3e6 / max(us, 1.0))))  # about 3 s of profiling
    prof = profile(c_dir, sample, "host", runs, extra_cflags=cflags)
    n = macs(graph)
    goal = goal_us * 1e3 / n if n else None
    return dict(corpus_why.explain(prof, graph, goal), profile_runs=runs)


def _m4_profile(c_dir: str, sample: dict, cls: str, m4: dict, graph) -> None:
    """Fill ``m4`` with the linears' figure (transformers) and the why of a miss."""
    from qcc.backends.c.profile import profile

    from . import corpus_why

    goal = GOAL_M4.get(cls)
    if goal is None or "insns_per_mac" not in m4:
        return
    if cls == "cnn" and m4["insns_per_mac"] <= goal:
        return
    prof = profile(c_dir, sample, "cortex-m4")
    lin = corpus_why.linear_per_mac(prof, graph)
    m4["linear_insns_per_mac"] = lin
    fig = lin if cls == "transformer" else m4["insns_per_mac"]
    if fig is not None and fig > goal:
        m4["why"] = corpus_why.explain(prof, graph, goal)


def _host_goals(row: dict, c_dir: str, sample: dict, graph, opts: dict) -> None:
    """The two host ratios (qcc time over onnxruntime's minus its call) and, for each one
    above 1, the why from the profile of that build."""
    best, fair = row["host"]["best_us"], row["ort_minus_call_us"]
    row["ratio"] = {}
    checks = [("native_vs_int8", "qcc_native", "ort_int8", ("-march=native",)),
              ("default_vs_fp32", "qcc_default", "ort_fp32", ())]
    for key, mine, ref, cflags in checks:
        if ref not in fair or fair[ref] <= 0 or mine not in best:
            continue
        row["ratio"][key] = round(best[mine] / fair[ref], 3)
        if row["ratio"][key] > 1.0 and not opts.get("no_why"):
            try:
                row.setdefault("why", {})[key] = _host_why(c_dir, sample, cflags, best[mine], fair[ref], graph)
            except Exception as e:  # noqa: BLE001
                row.setdefault("why", {})[key] = {"error": f"profile failed: {_err(e)}"}


def _arm_columns(row: dict, c_dir: str, sample: dict, cls: str, graph, opts: dict) -> None:
    for core, on in (("cortex-m4", not opts.get("no_m4")), ("cortex-m55", opts.get("m55"))):
        if not on:
            continue
        try:
            fig = arm_figures(c_dir, sample, core, opts["m4_max_macs"])
            if core == "cortex-m4" and not opts.get("no_why"):
                _m4_profile(c_dir, sample, cls, fig, graph)
        except Exception as e:  # noqa: BLE001
            fig = {"error": _err(e)}
        row[core.replace("cortex-", "")] = fig


def _host_columns(row: dict, d: str, c_dir: str, sample: dict, work: str, opts: dict, log) -> None:
    """The host timings (both builds, onnxruntime float32, int8 and its empty call)."""
    q8 = None
    try:
        q8 = ort_int8_cached(d, work, opts["ort_calib"])
    except Exception as e:  # noqa: BLE001
        row["ort_int8_error"] = f"quantize_static: {_err(e)}"
    eng, errors = _engines(d, c_dir, q8, work, sample)
    row.update(errors)
    print(f"[{row['model']}] timing {', '.join(eng)}", file=log, flush=True)
    t = time_engines(eng, opts["rounds"], opts["budget"])
    best = t["best_us"]
    row["host"] = t
    row["ort_minus_call_us"] = {k: round(max(best[k] - best["ort_empty"], 0.0), 2)
                                for k in ("ort_fp32", "ort_int8") if k in best}


def measure_one(d: str, cls: str, opts: dict, log=sys.stderr) -> dict:
    """One model's row (see the module docstring); a stage that fails records its error."""
    from qcc.analysis import macs

    name = os.path.basename(os.path.normpath(d))
    row: dict = {"model": name, "class": cls}
    work = os.path.join(opts["work"], name)
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    try:
        c_dir = compile_cached(d, work)
    except Exception as e:  # noqa: BLE001
        row["error"] = f"compile: {_err(e)}"
        return row
    graph = _graph(c_dir)
    row["macs"] = macs(graph)
    row["compile_s"] = round(time.time() - t0, 1)
    from qcc.npzio import iter_samples

    sample = next(iter_samples(graph, _load(os.path.join(d, "test.npz"))))
    if not opts.get("arm_only"):
        _host_columns(row, d, c_dir, sample, work, opts, log)
        _host_goals(row, c_dir, sample, graph, opts)
    _arm_columns(row, c_dir, sample, cls, graph, opts)
    row["seconds"] = round(time.time() - t0, 1)
    row["arm_measured" if opts.get("arm_only") else "measured"] = \
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))} qcc {_stamp()}"
    row["load_average"] = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    if not opts.get("keep"):
        shutil.rmtree(work, ignore_errors=True)
    return row


# --------------------------------------------------------------------------------- main
def _run_one(d: str, cls: str, opts: dict, timeout: float) -> dict:
    """measure_one in its own process (a crash or hang costs one row)."""
    name = os.path.basename(os.path.normpath(d))
    with tempfile.TemporaryDirectory(prefix="qcc_cspeed_") as tmp:
        out = os.path.join(tmp, "row.json")
        cmd = [sys.executable, "-m", "qcc.bench.corpus_speed", "--one", d, "--class", cls,
               "--row-out", out, "--opts", json.dumps(opts)]
        try:
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"model": name, "class": cls, "error": f"timed out after {timeout:.0f} s"}
        if p.returncode != 0 or not os.path.isfile(out):
            tail = (p.stderr.strip().splitlines() or ["crashed"])[-1]
            return {"model": name, "class": cls, "error": f"crashed: {tail[:240]}"}
        with open(out) as f:
            return json.load(f)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--zoo", default=DEFAULT_ZOO, help="the corpus folder (default ~/.cache/qcc-zoo)")
    ap.add_argument("--models", default="", help="comma-separated corpus names (default: every "
                    "model of --classes)")
    ap.add_argument("--classes", default="cnn,transformer", help="model classes measured "
                    "(cnn, transformer, recurrent, mlp)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating timing rounds (least of)")
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of host timing per model")
    ap.add_argument("--total-budget", type=float, default=5400.0,
                    help="start no new model after this many seconds (the rest are listed as not measured)")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per model")
    ap.add_argument("--ort-calib", type=int, default=8, help="calibration samples for onnxruntime's quantize_static")
    ap.add_argument("--no-m4", action="store_true", help="skip the Cortex-M4 columns")
    ap.add_argument("--m55", action="store_true", help="also the Cortex-M55 (Helium) column")
    ap.add_argument("--m4-max-macs", type=float, default=400e6, help="skip QEMU above this many MACs")
    ap.add_argument("--arm-only", action="store_true", help="only the Cortex-M columns (with --update: "
                    "they replace those of the saved rows, the host columns stay)")
    ap.add_argument("--no-why", action="store_true", help="no profiles for the rows that miss a goal")
    ap.add_argument("--work", default=None, help="keep compiled folders and onnxruntime int8 models "
                    "here and reuse them (same qcc revision) on the next run")
    ap.add_argument("--json", default=None, help="write the rows, machine and method as JSON")
    ap.add_argument("--md", default=None, help="write the table as Markdown")
    ap.add_argument("--from-json", default=None, help="only print (and --md) the table of an earlier --json")
    ap.add_argument("--update", default=None, metavar="JSON", help="measure --models and replace their rows "
                    "in this earlier --json (written back; new models appended)")


def _result(args, rows: list, t0: float, info: dict) -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0)), "seconds": round(time.time() - t0),
            "machine": info, "load_average_end": load, "qcc": _stamp(),
            "command": "python -m qcc.bench.corpus_speed " + " ".join(sys.argv[1:]),
            "method": (f"least of {args.rounds} alternating rounds of the median of n runs (n from a probe, "
                       f"about {args.budget:g} s per model); onnxruntime with I/O binding minus its empty "
                       f"call; one thread, one sample"),
            "summary": summary(rows), "rows": rows}


def _write(path: str, res: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(res, f, indent=1, default=str)
    os.replace(path + ".tmp", path)


def run(args, log=sys.stderr) -> dict:
    """Every picked model in turn; with ``--json`` the result so far is written after each
    one (an interrupted run keeps its rows)."""
    from . import speed

    names = [n for n in args.models.split(",") if n]
    picked = corpus(os.path.expanduser(args.zoo), names, set(args.classes.split(",")))
    tmp = None if args.work else tempfile.mkdtemp(prefix="qcc_cspeed_work_")
    opts = {"work": os.path.abspath(args.work or tmp), "rounds": args.rounds, "budget": args.budget,
            "ort_calib": args.ort_calib, "no_m4": args.no_m4, "m55": args.m55,
            "m4_max_macs": int(args.m4_max_macs), "no_why": args.no_why, "keep": bool(args.work),
            "arm_only": args.arm_only}
    t0, rows, info = time.time(), [], speed.machine_info()
    try:
        for d, cls in picked:
            name = os.path.basename(d)
            if time.time() - t0 > args.total_budget:
                rows.append({"model": name, "class": cls, "error": "not measured: --total-budget spent"})
                continue
            rows.append(_run_one(d, cls, opts, args.timeout))
            r = rows[-1]
            print(f"{name}: {r.get('seconds', '-')} s ratio={r.get('ratio')} m4={_arm(r, 'm4', cls)} "
                  f"{r.get('error', '')}", file=log, flush=True)
            if args.json and not args.update:
                _write(args.json, _result(args, rows, t0, info))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return _result(args, rows, t0, info)


def main(argv=None) -> int:
    from qcc.errors import QccError

    ap = script.parser("corpus_speed", __doc__)
    add_arguments(ap)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--class", dest="cls", help=argparse.SUPPRESS)
    ap.add_argument("--row-out", help=argparse.SUPPRESS)
    ap.add_argument("--opts", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        row = measure_one(args.one, args.cls, json.loads(args.opts))
        with open(args.row_out, "w") as f:
            json.dump(row, f, indent=1, default=str)
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
    if args.update:
        res = merge(args.update, res)
    text = render(res)
    print(text)
    if args.json and not args.from_json:
        _write(args.json, res)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    return 0

if __name__ == "__main__":
    sys.exit(main())
