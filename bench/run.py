"""``qcc bench`` orchestration: per model accuracy, speed, compile time, memory.

``run_from_args`` is shared by ``qcc bench`` and ``python -m qcc.bench``.  A
piece that fails or is missing from this build (the C backend, the Cortex-M4
tooling, mixed precision) makes its columns say "not available" with the
reason in report.json; it never stops the run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time

from qcc.errors import QccError

# heavy imports (numpy, onnx, onnxruntime) stay inside the functions: `qcc --help`
# builds this command's parser and must stay fast

TARGETS = ("c", "onnx")
NA = "not available"


class BenchError(QccError):
    """A bad ``qcc bench`` argument (unknown model or target)."""


def known_models() -> list[str]:
    from .models import EXAMPLES, LIGHT_MODELS

    ex = sorted(d for d in os.listdir(EXAMPLES) if os.path.isfile(os.path.join(EXAMPLES, d, "meta.json")))
    return ex + [f"light_{n}" for n in LIGHT_MODELS]


def select_models(names: list[str], quick: bool) -> list:
    from .models import by_name, default_models

    if not names:
        return default_models(quick)
    known = known_models()
    bad = [n for n in names if n not in known]
    if bad:
        raise BenchError(f"unknown benchmark model(s) {', '.join(repr(b) for b in bad)}; "
                         f"choose from: {', '.join(known)}")
    return [by_name(n) for n in names]


def parse_targets(spec: str) -> list[str]:
    ts = [t.strip() for t in spec.split(",") if t.strip()]
    bad = [t for t in ts if t not in TARGETS]
    if bad or not ts:
        raise BenchError(f"--targets '{spec}': benchmarkable targets are {', '.join(TARGETS)}")
    return ts


def settings(args) -> dict:
    quick = bool(getattr(args, "quick", False))
    runs = getattr(args, "runs", None) or (10 if quick else 30)
    if runs < 1:
        raise BenchError(f"--runs {runs}: needs at least 1 timed run")
    return {"quick": quick, "runs": runs, "warmup": 1 if quick else 3,
            "budget_s": 1.0 if quick else 5.0, "c_repeats": 3 if quick else 5,
            "methods": ["minmax"] if quick else ["minmax", "percentile", "entropy"],
            "layer_samples": 2 if quick else 4, "threads": 1,
            "mixed": not getattr(args, "no_mixed", False)}


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"


def _timed(rec: dict, key: str, fn, *a, **kw):
    """Run one measurement; on failure record "not available: reason" under ``key``."""
    try:
        rec[key] = fn(*a, **kw)
    except Exception as e:  # noqa: BLE001 - one missing piece must not stop the suite
        rec[key] = {"error": f"{NA}: {_err(e)}"}
    return rec[key]


def bench_one(m, targets: list[str], st: dict, work: str) -> dict:
    from . import accuracy, memory, speed
    from .accuracy import _samples

    rec: dict = {"model": m.name, "path": os.path.relpath(m.path, os.getcwd())
                 if m.path.startswith(os.getcwd()) else m.path}
    t0 = time.perf_counter()
    rec["accuracy"] = accuracy.bench_model(m, work, tuple(st["methods"]), **_qcc_methods(m, st))
    sample = _samples(m.test)[0]
    lat: dict = {}
    kw = dict(runs=st["runs"], warmup=st["warmup"], budget_s=st["budget_s"])
    _timed(lat, "ort_fp32", speed.ort_latency, m.path, sample, **kw)
    _timed(lat, "ort_int8", speed.ort_latency, os.path.join(work, "ort_minmax.onnx"), sample, **kw)
    qdir = os.path.join(work, "qcc")
    onnx_manifest = _load_manifest(qdir)
    if "onnx" in targets:
        _timed(lat, "qcc_onnx", speed.ort_latency, os.path.join(qdir, "model.onnx"), sample, **kw)
    compile_s = _onnx_compile_times(rec["accuracy"])
    mem: dict = {}
    _timed(mem, "float_weight_bytes", memory.float_weight_bytes, m.path, _shapes(m))
    if onnx_manifest:
        mem.update(memory.from_manifest(onnx_manifest))
    if "c" in targets:
        from .ctarget import bench_c

        bench_c(m, work, st, sample, lat, compile_s, mem)
    ort8 = os.path.join(work, "ort_minmax.onnx")
    if os.path.isfile(ort8):
        mem["ort_int8_weight_bytes"] = memory.initializer_bytes(ort8)
    if "error" not in compile_s:
        compile_s["total"] = round(sum(v for k, v in compile_s.items() if isinstance(v, float)), 3)
    rec["latency"] = lat
    rec["speedup"] = speed.ratios(lat)
    rec["compile_s"] = compile_s
    rec["memory"] = mem
    rec["layers"] = []
    layer_samples = _samples(m.test)[:st["layer_samples"]]
    if onnx_manifest:
        rec["layers"] = _layers(rec, m, qdir, onnx_manifest, layer_samples)
    if st["mixed"] and not getattr(m, "synthetic", False):
        _mixed(rec, m, work, st, layer_samples)
    rec["bench_seconds"] = round(time.perf_counter() - t0, 1)
    return rec


def _shapes(m) -> dict:
    from qcc.frontend.onnx_import import parse_input_shapes

    return parse_input_shapes(m.input_shapes)


def _qcc_methods(m, st: dict) -> dict:
    """qcc's own calibration sweep (its "best" column): examples only, not with --quick."""
    import inspect

    from . import accuracy

    if st["quick"] or getattr(m, "synthetic", False) or \
            "qcc_methods" not in inspect.signature(accuracy.bench_model).parameters:
        return {}
    return {"qcc_methods": tuple(getattr(accuracy, "QCC_METHODS", ()))}


def _load_manifest(d: str):
    import json

    p = os.path.join(d, "manifest.json")
    return json.load(open(p)) if os.path.isfile(p) else None


def _onnx_compile_times(acc_row: dict) -> dict:
    t = acc_row.get("qcc_timings_s") or {}
    if not t:
        return {"error": f"{NA}: qcc did not compile ({acc_row.get('qcc', {}).get('error')})"}
    return split_timings(t, "onnx")


def split_timings(t: dict, target: str) -> dict:
    """import / calibration / passes (without calibration) / codegen seconds."""
    calib = float(t.get("calibration", 0.0))
    out = {"target": target, "import": round(float(t.get("import", 0.0)), 3),
           "calibration": round(calib, 3),
           "passes": round(max(float(t.get("passes", 0.0)) - calib, 0.0), 3),
           "codegen": round(float(t.get("codegen", 0.0)), 3)}
    return out


def _layers(rec: dict, m, qdir: str, manifest: dict, samples: list) -> list:
    from .layers import per_layer

    try:
        return per_layer(m.path, qdir, manifest, _shapes(m), samples)
    except Exception as e:  # noqa: BLE001
        rec["layers_error"] = f"{NA}: {_err(e)}"
        return []


def _mixed(rec: dict, m, work: str, st: dict, samples: list) -> None:
    """Mixed-precision / low-bit points; per-layer error of the middle budget."""
    from .mixed import sweep

    try:
        pts = sweep(m, work, st["quick"])
    except Exception as e:  # noqa: BLE001
        rec["mixed_error"] = f"{NA}: {_err(e)}"
        return
    for p in pts:
        man = p.pop("manifest", None)
        if man and p["label"] == "mixed 60%":
            rec["layers_mixed"] = _layers(rec, m, os.path.join(work, p["dir"]), man, samples)
    rec["mixed"] = pts


def run(models: list, targets: list[str], st: dict, log=sys.stderr) -> dict:
    from . import speed

    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": speed.machine_info(), "settings": dict(st, targets=targets),
              "models": []}
    for m in models:
        print(f"[bench] {m.name} ...", file=log, flush=True)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="qcc_bench_") as work:
            try:
                rec = bench_one(m, targets, st, work)
            except Exception as e:  # noqa: BLE001 - e.g. onnxruntime cannot run the float model
                rec = {"model": m.name, "error": f"{NA}: {_err(e)}",
                       "bench_seconds": round(time.perf_counter() - t0, 1)}
        report["models"].append(rec)
        print(f"[bench] {m.name}: done in {rec['bench_seconds']} s", file=log, flush=True)
    report["studies"] = load_studies(st)
    report["mixed"] = {r["model"]: r["mixed"] for r in report["models"] if r.get("mixed")}
    return report


def load_studies(st: dict) -> dict:
    """The JSON of the other benchmark modules found in the --out folder."""
    import json

    from .report import STUDIES

    out = {}
    for name in STUDIES:
        path = st["mixed_json"] if name == "mixed_precision" else \
            os.path.join(st["out"], f"{name}.json")
        if path and os.path.isfile(path):
            with open(path) as f:
                out[name] = json.load(f)
    return out


def run_from_args(args) -> int:
    import logging

    from .report import write_all

    # onnxruntime.quantization logs advice through the root logger on every model
    logging.getLogger().setLevel(logging.ERROR)
    targets = parse_targets(getattr(args, "targets", "c,onnx"))
    st = settings(args)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise BenchError(f"--out '{args.out}' exists and is not a folder")
    given = getattr(args, "mixed_json", None)
    if given and not os.path.isfile(given):
        raise BenchError(f"--mixed-json '{given}' does not exist; write it with "
                         f"'python -m qcc.bench.mixed_precision --out DIR'")
    st["mixed_json"] = given or os.path.join(args.out, "mixed_precision.json")
    st["out"] = args.out
    models = select_models(list(getattr(args, "models", []) or []), st["quick"])
    report = run(models, targets, st)
    md = write_all(report, args.out)
    print(md)
    print(f"[bench] wrote {os.path.join(args.out, 'report.md')}, report.json, report.html",
          file=sys.stderr)
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The bench options (shared with ``qcc bench`` in cli.py)."""
    p.add_argument("models", nargs="*", help="benchmark models (default: the examples and light models)")
    p.add_argument("--targets", default="c,onnx", help="qcc targets to time: c,onnx (default both)")
    p.add_argument("--out", default="bench_out", metavar="DIR", help="report folder (default bench_out)")
    p.add_argument("--quick", action="store_true",
                   help="fewer models, runs and calibration methods (a smoke run)")
    p.add_argument("--no-mixed", action="store_true",
                   help="skip the mixed-precision / 4-bit sweep (examples only)")
    p.add_argument("--mixed-json", default=None, metavar="PATH",
                   help="include a mixed-precision study (python -m qcc.bench.mixed_precision); "
                        "default DIR/mixed_precision.json when present")
    p.add_argument("--runs", type=int, default=None, metavar="N",
                   help="timed runs per latency measurement (default 30, 10 with --quick)")
