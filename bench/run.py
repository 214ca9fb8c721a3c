"""``qcc bench`` orchestration: per model accuracy, speed, compile time, memory.

``run_from_args`` is shared by ``qcc bench`` and ``python -m qcc.bench``.  A
piece that fails or is missing from this build (the C backend, the Cortex-M4
tooling, mixed precision) makes its columns say "not available" with the
reason in report.json; it never stops the run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import sys
import tempfile
import time

from qcc.errors import QccError

# heavy imports (numpy, onnx, onnxruntime) stay inside the functions: `qcc --help`
# builds this command's parser and must stay fast

TARGETS = ("c", "onnx")
ORT_METHODS = ("minmax", "percentile", "entropy")
NA = "not available"
# weights are C string literals now: light_bvlc_alexnet (58 MiB) builds in 8 s; the largest
# default model, light_vgg19, has 137 MiB
C_MAX_WEIGHT_MIB = 256.0


class BenchError(QccError):
    """A bad ``qcc bench`` argument (unknown model or target)."""


def known_models() -> list[str]:
    from .models import EXAMPLES, LIGHT_MODELS

    # the examples ship with the source checkout, not with an installed wheel
    ex = sorted(d for d in (os.listdir(EXAMPLES) if os.path.isdir(EXAMPLES) else [])
                if os.path.isfile(os.path.join(EXAMPLES, d, "meta.json")))
    return ex + [f"light_{n}" for n in LIGHT_MODELS]


def select_models(names: list[str], quick: bool) -> list:
    from .models import by_name, default_models

    from .materialize import materialized_path
    from .usermodel import from_path, is_path

    if not names:
        models = default_models(quick)
        ex = [m for m in models if not m.name.startswith("light_")]
        models = ex + _other_examples({m.name for m in ex}) + models[len(ex):]
    else:
        known = known_models()
        bad = [n for n in names if n not in known and not is_path(n)]
        if bad:
            raise BenchError(f"unknown benchmark model(s) {', '.join(repr(b) for b in bad)}; "
                             f"choose from: {', '.join(known)}, or give a path to an .onnx file")
        models = [from_path(n) if n not in known else by_name(n) for n in names]
    for m in models:  # weights built at run time (light models) become initializers
        if m.synthetic:
            m.path = materialized_path(m.path, m.name)
    return models


def _other_examples(have: set) -> list:
    """Examples added to examples/ that the model zoo's default list does not name yet
    (the default set is every example and every light model), before the light models."""
    from .models import by_name

    return [by_name(n) for n in known_models() if not n.startswith("light_") and n not in have]


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
            # onnxruntime's calibrations; --quick runs only MinMax on synthetic-data models,
            # where the three agree (constant weights) and the big light models make them slow
            "methods": list(ORT_METHODS),
            "synthetic_methods": ["minmax"] if quick else list(ORT_METHODS),
            "layer_samples": 2 if quick else 4, "threads": 1,
            "mixed": not getattr(args, "no_mixed", False),
            "c_max_weight_mib": _c_limit(args)}


def _c_limit(args) -> float:
    mib = getattr(args, "c_max_weight_mib", None)
    mib = C_MAX_WEIGHT_MIB if mib is None else float(mib)
    if mib <= 0:
        raise BenchError(f"--c-max-weight-mib {mib:g}: needs a positive size in MiB")
    return mib


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"


def _timed(rec: dict, key: str, fn, *a, **kw):
    """Run one measurement; on failure record "not available: reason" under ``key``."""
    try:
        rec[key] = fn(*a, **kw)
    except Exception as e:  # noqa: BLE001 - one missing piece must not stop the suite
        rec[key] = {"error": f"{NA}: {_err(e)}"}
    return rec[key]


class _Phases:
    """Wall time of each phase of one model's benchmark, with a progress line per phase."""

    def __init__(self, model: str, log):
        self.model, self.log, self.seconds = model, log, {}

    def __call__(self, name: str):
        self.name = name
        return self

    def __enter__(self):
        from qcc.progress import step

        self.t0 = time.perf_counter()
        self._step = step(f"bench {self.model}: {self.name}", self.log)  # terminal only
        self._step.__enter__()

    def __exit__(self, *exc):
        self._step.__exit__(*exc)
        self.seconds[self.name] = round(time.perf_counter() - self.t0, 1)
        return False


def bench_one(m, targets: list[str], st: dict, work: str, log=sys.stderr) -> dict:
    from . import accuracy, memory, speed
    from .accuracy import _samples

    rec: dict = {"model": m.name, "path": os.path.relpath(m.path, os.getcwd())
                 if m.path.startswith(os.getcwd()) else m.path}
    t0 = time.perf_counter()
    phase = _Phases(m.name, log)
    with phase("accuracy"):
        methods = st["synthetic_methods"] if getattr(m, "synthetic", False) else st["methods"]
        # onnxruntime's histogram calibrators print progress on stdout: keep it the report's
        with contextlib.redirect_stdout(io.StringIO()):
            rec["accuracy"] = accuracy.bench_model(m, work, tuple(methods), **_qcc_methods(m, st))
        _timed(rec, "float_output", output_spread, m)
    sample = _samples(m.test)[0]
    lat: dict = {}
    kw = dict(runs=st["runs"], warmup=st["warmup"], budget_s=st["budget_s"])
    qdir = os.path.join(work, "qcc")
    with phase("onnxruntime latency"):
        _timed(lat, "ort_fp32", speed.ort_latency, m.path, sample, **kw)
        _timed(lat, "ort_int8", speed.ort_latency, os.path.join(work, "ort_minmax.onnx"), sample, **kw)
        if "onnx" in targets:
            _timed(lat, "qcc_onnx", speed.ort_latency, os.path.join(qdir, "model.onnx"), sample, **kw)
    onnx_manifest = _load_manifest(qdir)
    compile_s = _onnx_compile_times(rec["accuracy"])
    mem: dict = {}
    _timed(mem, "float_weight_bytes", memory.float_weight_bytes, m.path, _shapes(m))
    if onnx_manifest:
        mem.update(memory.from_manifest(onnx_manifest))
    if "c" in targets:
        from .ctarget import bench_c, too_big_for_c

        why = too_big_for_c(mem, st)
        if why:
            lat["qcc_c"], mem["c"] = {"error": why}, why
        else:
            with phase("C target"):
                bench_c(m, work, st, sample, lat, compile_s, mem)
    ort8 = os.path.join(work, "ort_minmax.onnx")
    if os.path.isfile(ort8):
        mem["ort_int8_weight_bytes"] = memory.initializer_bytes(ort8)
    if "error" not in compile_s:
        compile_s["total"] = round(sum(v for k, v in compile_s.items() if isinstance(v, float)), 3)
    rec.update(latency=lat, speedup=speed.ratios(lat), compile_s=compile_s, memory=mem, layers=[])
    if st.get("ort_overhead_us"):
        rec["speedup_minus_call_overhead"] = speed.ratios(lat, st["ort_overhead_us"])
    layer_samples = _samples(m.test)[:st["layer_samples"]]
    if onnx_manifest:
        with phase("per-layer error"):
            rec["layers"] = _layers(rec, m, qdir, onnx_manifest, layer_samples)
    if st["mixed"] and not getattr(m, "synthetic", False):
        with phase("mixed precision"):
            _mixed(rec, m, work, st, layer_samples)
    rec["phases_s"] = phase.seconds
    rec["bench_seconds"] = round(time.perf_counter() - t0, 1)
    return rec


def output_spread(m) -> dict:
    """Whether the float model's scored output changes with the input: the light models'
    constant weights make some of them (densenet121, inception_v2) output a constant,
    and then an SQNR compares constants."""
    import numpy as np

    from .accuracy import ort_outputs

    ref = np.asarray(ort_outputs(m.path, m.test, output=m.output), np.float64)
    spread = float(np.ptp(ref, axis=0).max()) if ref.shape[0] > 1 else None
    scale = float(np.abs(ref).max()) or 1.0
    return {"samples": int(ref.shape[0]), "max_spread": spread,
            "input_dependent": None if spread is None else spread > 1e-6 * scale}


def _shapes(m) -> dict:
    from qcc.frontend.onnx_import import parse_input_shapes

    return parse_input_shapes(m.input_shapes)


def _qcc_methods(m, st: dict) -> dict:
    """qcc's own calibration sweep (its "best" column): models with real data, not with
    --quick (the summary compares qcc's default calibration with onnxruntime's best)."""
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
    from .size_accuracy import sweep

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


def run(models: list, targets: list[str], st: dict, log=sys.stderr, on_model=None) -> dict:
    """Benchmark ``models``; ``on_model(report)`` after each one (a partial report:
    ``report["pending"]`` names the models still to run).  Ctrl-C stops after the
    finished models, with ``report["interrupted"]`` set."""
    from . import speed

    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": speed.machine_info(), "settings": dict(st, targets=targets),
              "models": [], "pending": [m.name for m in models]}
    try:
        report["ort_call_overhead"] = speed.ort_call_overhead()
        st["ort_overhead_us"] = report["ort_call_overhead"]["median_us"]
    except Exception as e:  # noqa: BLE001
        report["ort_call_overhead"] = {"error": f"{NA}: {_err(e)}"}
    for m in models:
        print(f"[bench] {m.name} ...", file=log, flush=True)
        t0 = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="qcc_bench_") as work:
                try:
                    rec = bench_one(m, targets, st, work, log)
                except Exception as e:  # noqa: BLE001 - e.g. onnxruntime cannot run the float model
                    rec = {"model": m.name, "error": f"{NA}: {_err(e)}",
                           "bench_seconds": round(time.perf_counter() - t0, 1)}
        except KeyboardInterrupt:
            report["interrupted"] = (f"interrupted during {m.name}: {len(report['models'])} of "
                                     f"{len(models)} models done")
            print(f"[bench] {report['interrupted']}", file=log, flush=True)
            break
        report["models"].append(rec)
        report["pending"].remove(m.name)
        print(f"[bench] {m.name}: done in {rec['bench_seconds']} s", file=log, flush=True)
        _finish(report, st)
        if on_model is not None and report["pending"]:
            on_model(report)
    return _finish(report, st)


def _finish(report: dict, st: dict) -> dict:
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

    # onnxruntime.quantization logs advice through the root logger on every model, and
    # onnxruntime's own sessions warn about every unused initializer of the light models
    logging.getLogger().setLevel(logging.ERROR)
    try:
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
    except (ImportError, AttributeError):
        pass
    if getattr(args, "targets", "") == "triton":  # the GPU benchmark (bench/triton_gpu.py)
        from .triton_gpu import main as triton_main

        os.makedirs(args.out, exist_ok=True)
        rc = triton_main(["--out", os.path.join(args.out, "triton_gpu.json")]
                         + (["--quick"] if getattr(args, "quick", False) else []))
        if rc:
            raise BenchError("--targets triton needs a CUDA GPU (torch sees none); the "
                             "Triton target is checked on the CPU by its tests instead")
        return 0
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
    # a partial report after every model: a long run that is stopped still leaves evidence
    report = run(models, targets, st, on_model=lambda rep: write_all(rep, args.out))
    md = write_all(report, args.out)
    print(md)
    print(f"[bench] wrote {os.path.join(args.out, 'report.md')}, report.json, report.html",
          file=sys.stderr)
    return 130 if report.get("interrupted") else 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The bench options (shared with ``qcc bench`` in cli.py)."""
    p.add_argument("models", nargs="*", help="benchmark models: names (default: the examples and "
                   "light models) or paths to .onnx files")
    p.add_argument("--targets", default="c,onnx", help="qcc targets to time: c,onnx (default both)")
    p.add_argument("--out", default="bench_out", metavar="DIR", help="report folder (default bench_out)")
    p.add_argument("--quick", action="store_true",
                   help="fewer models, runs and calibration methods (a smoke run)")
    p.add_argument("--no-mixed", action="store_true",
                   help="skip the mixed-precision / 4-bit sweep (examples only)")
    p.add_argument("--mixed-json", default=None, metavar="PATH",
                   help="include a mixed-precision study (python -m qcc.bench.mixed_precision); "
                        "default DIR/mixed_precision.json when present")
    p.add_argument("--c-max-weight-mib", type=float, default=None, metavar="MIB",
                   help="skip the C target for models with more integer weight MiB than this "
                        "(default 256; larger C weight arrays take long and GBs of memory to compile)")
    p.add_argument("--runs", type=int, default=None, metavar="N",
                   help="timed runs per latency measurement (default 30, 10 with --quick)")
