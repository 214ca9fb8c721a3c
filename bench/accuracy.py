"""Accuracy benchmark: qcc int8 vs onnxruntime ``quantize_static`` on the same data.

For each model: float outputs (onnxruntime), qcc's integer outputs (its
reference interpreter, which the C code matches bit for bit) with its default
calibration and, optionally, with each calibration method, and onnxruntime's
QDQ static quantization (per-channel weights, int8 activations, the same
calibration samples) with its default MinMax calibration and the best of
MinMax / Percentile / Entropy.  onnxruntime runs the QDQ models at the basic
optimization level: on x86 without VNNI its fused u8s8 kernels saturate and
would make it look worse than its quantization really is.

Every row is a JSON-serialisable dict: ``qcc``, ``qcc_<method>``, ``ort_<method>``
hold :func:`qcc.bench.metrics.compare` results (or ``{"error": ...}``);
``qcc_best``/``ort_best`` repeat the best of them by SQNR with its ``method``.

    python -m qcc.bench.accuracy [MODELS...] [--out DIR] [--quick] [--qcc-methods M,...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

from .metrics import compare
from .models import BenchModel, by_name, default_models

QCC_METHODS = ("minmax", "percentile", "entropy", "mse")
ORT_METHODS = ("minmax", "percentile", "entropy")


def _session(path: str, basic: bool = False) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    if basic:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _samples(data: dict, session=None) -> list[dict]:
    """Samples stacked along axis 0 (the .npz convention).  With the model's ``session``:
    an input whose first dimension is fixed to b > 1 takes b rows per sample, and an array
    of one more dimension than its input holds one entry per sample (stacked scalars)."""
    decl = {i.name: i.shape for i in session.get_inputs()} if session is not None else {}

    def step(k, v):
        shp = decl.get(k)
        if shp is not None and v.ndim == len(shp) + 1:
            return 0  # v[i] is sample i
        return shp[0] if shp and isinstance(shp[0], int) and shp[0] > 1 else 1

    steps = {k: step(k, v) for k, v in data.items()}
    n = min(v.shape[0] // (steps[k] or 1) for k, v in data.items())
    return [{k: (np.asarray(v[i]) if steps[k] == 0 else v[i * steps[k]:(i + 1) * steps[k]]) for k, v in data.items()}
            for i in range(n)]


def ort_outputs(path: str, data: dict, basic: bool = False, output=None) -> np.ndarray:
    s = _session(path, basic)
    names = [output] if output else [s.get_outputs()[0].name]
    return np.concatenate([s.run(names, x)[0] for x in _samples(data, s)])


def ort_quantize(m: BenchModel, method: str, out_path: str) -> float:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(_samples(m.calib, _session(m.path)))

        def get_next(self):
            return next(self.it, None)

    cm = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
          "entropy": CalibrationMethod.Entropy}[method]
    t0 = time.perf_counter()
    src = _ort_opset(m.path, out_path)
    quantize_static(src, out_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=cm)
    return time.perf_counter() - t0


ORT_MIN_OPSET = 13  # per-channel DequantizeLinear (axis) needs opset 13


def _ort_opset(path: str, out_path: str) -> str:
    """The model quantize_static gets: below opset 13 its per-channel QDQ output is
    invalid (DequantizeLinear has no axis before 13), so such a model is converted to
    opset 13 first (onnx.version_converter) and written beside ``out_path``."""
    import onnx
    from onnx import version_converter

    m = onnx.load(path)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), ORT_MIN_OPSET)
    if opset >= ORT_MIN_OPSET:
        return path
    up = out_path[:-len(".onnx")] + f".opset{ORT_MIN_OPSET}.onnx"
    onnx.save(version_converter.convert_version(m, ORT_MIN_OPSET), up)
    return up


def qcc_outputs(m: BenchModel, out_dir: str, sub: str = "qcc", **options) -> tuple[np.ndarray, dict]:
    """Compile ``m`` with qcc into ``out_dir/sub`` and run the test set through the
    integer reference interpreter: (outputs, manifest)."""
    import qcc
    from qcc.api import OPTION_DEFAULTS
    from qcc.driver import load_timings
    from qcc.frontend.onnx_import import parse_input_shapes
    from qcc.interp import Interpreter
    from qcc.ir.serialize import load

    calib_path = os.path.join(out_dir, "calib.npz")
    if not os.path.isfile(calib_path):
        np.savez(calib_path, **m.calib)
    from qcc.frontend.bind import drop_bound
    from qcc.npzio import iter_samples

    known = dict({"quiet": True, "allow_float": m.allow_float},
                 **{k: v for k, v in options.items() if k in OPTION_DEFAULTS})
    t0 = time.perf_counter()
    manifest = qcc.compile(m.path, calib=calib_path, target="onnx", out_dir=os.path.join(out_dir, sub),
                           input_shapes=parse_input_shapes(m.input_shapes), bind=m.bind,
                           extra_options={k: v for k, v in options.items()
                                          if k not in OPTION_DEFAULTS}, **known).manifest
    total = time.perf_counter() - t0  # timings.json: the manifest holds no wall-clock time
    manifest["timings_s"] = dict(load_timings(os.path.join(out_dir, sub)), total=total)
    g = load(os.path.join(out_dir, sub, "model.qcc"))
    it = Interpreter(g)
    name = m.output if m.output else g.outputs[0].name
    test = drop_bound(m.test, manifest.get("bound_inputs"))
    return np.concatenate([it.run(x)[name] for x in iter_samples(g, test)]), manifest


def _err(e: BaseException) -> dict:
    return {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}


def _qcc_entry(m: BenchModel, work: str, ref, sub: str, **options) -> tuple[dict, dict]:
    cls = m.kind == "classifier"
    try:
        out, manifest = qcc_outputs(m, work, sub, **options)
    except Exception as e:  # noqa: BLE001 - a benchmark row records the failure and goes on
        return _err(e), {}
    r = compare(ref, out, m.labels, cls)
    cal = manifest.get("passes", {}).get("calibrate", {})
    r["calib_method"] = cal.get("method")
    if cal.get("samples"):
        secs = manifest.get("timings_s", {}).get("calibration", 0.0)  # from timings.json
        r["calib_s_per_sample"] = round(float(secs) / cal["samples"], 4)
        r["calib_engine"] = cal.get("engine")
    r["kept_float"] = manifest.get("passes", {}).get("quantize", {}).get("kept_float", [])
    return r, manifest


def _best(row: dict, prefix: str) -> None:
    """``row[prefix + "best"]``: the entry with the highest SQNR among ``prefix*`` (and the
    default entry ``prefix`` without its underscore, e.g. ``qcc``)."""
    ok = {k: v for k, v in row.items() if (k.startswith(prefix) or k == prefix.rstrip("_"))
          and k != prefix + "best" and isinstance(v, dict) and "sqnr_db" in v}
    if ok:
        key = max(ok, key=lambda k: ok[k]["sqnr_db"])
        method = ok[key].get("calib_method") or key[len(prefix):]
        row[prefix + "best"] = dict(ok[key], method=method)


def _for_ort(m: BenchModel, work: str, row: dict) -> BenchModel:
    """The model onnxruntime quantizes when qcc compiles it with ``--bind``: qcc's float
    ONNX export of the same bound graph (folded, If inlined; quantize_static leaves If
    branches in float), fed without the bound inputs."""
    import dataclasses

    import qcc
    from qcc.frontend.bind import drop_bound
    from qcc.frontend.onnx_import import parse_input_shapes

    art = qcc.compile(m.path, target="onnx", out_dir=os.path.join(work, "float_bound"), quiet=True,
                      input_shapes=parse_input_shapes(m.input_shapes), bind=m.bind)
    bound = art.manifest.get("bound_inputs")
    row["ort_source"] = "qcc's float export with --bind " + " ".join(f"{k}={v}" for k, v in m.bind.items())
    return dataclasses.replace(m, path=os.path.join(art.path, "model.onnx"), bind={},
                               calib=drop_bound(m.calib, bound), test=drop_bound(m.test, bound))


def bench_model(m: BenchModel, work: str, methods=ORT_METHODS, qcc_methods=()) -> dict:
    """One benchmark row.  ``methods``: onnxruntime calibration methods; ``qcc_methods``:
    extra qcc compiles, one per calibration method (``work/qcc`` always holds the
    default compile, ``work/ort_<method>.onnx`` the onnxruntime models)."""
    row: dict = {"model": m.name, "synthetic": m.synthetic}
    ref = ort_outputs(m.path, m.test, output=m.output)
    cls = m.kind == "classifier"
    if m.labels is not None:
        row["float"] = compare(ref, ref, m.labels, cls)
    row["qcc"], manifest = _qcc_entry(m, work, ref, "qcc")
    if manifest:
        row["qcc_timings_s"] = {k: round(v, 3) for k, v in manifest["timings_s"].items()
                                if isinstance(v, float)}
    for meth in qcc_methods:
        if meth == row["qcc"].get("calib_method"):  # the default compile already is this one
            row[f"qcc_{meth}"] = dict(row["qcc"])
            continue
        row[f"qcc_{meth}"], _ = _qcc_entry(m, work, ref, f"qcc_{meth}", calib_method=meth)
    _best(row, "qcc_")
    mo = _for_ort(m, work, row) if m.bind else m
    for meth in methods:
        p = os.path.join(work, f"ort_{meth}.onnx")
        try:
            secs = ort_quantize(mo, meth, p)
            row[f"ort_{meth}"] = compare(ref, ort_outputs(p, mo.test, basic=True, output=m.output),
                                         m.labels, cls)
            row[f"ort_{meth}"]["quantize_s"] = round(secs, 2)
        except Exception as e:  # noqa: BLE001
            row[f"ort_{meth}"] = _err(e)
    _best(row, "ort_")
    return row


def _cell(entry: dict, top: str) -> str:
    if not entry:
        return "-"
    if "error" in entry:
        return "error"
    rel = entry.get("max_rel")
    parts = [f"{entry['sqnr_db']:.1f}",
             f"{100 * rel:.2g} %" if isinstance(rel, (int, float)) else f"{entry['max_abs']:.3g} abs"]
    if entry.get(top) is not None:
        parts.append(f"{entry[top]:.2f}")
    return " / ".join(parts)


def table(rows: list[dict]) -> str:
    """Markdown table: per engine 'SQNR dB / max abs error / top-1 %' (top-1 against the
    labels where a model has them, else agreement with the float top-1)."""
    lines = ["| model | qcc default (method) | qcc best (method) | ORT minmax | ORT best (method) "
             "| float top-1 |", "|" + "---|" * 6]
    for r in rows:
        top = "top1_pct" if r.get("float") else "top1_agree_pct"
        q, qb, ob = r.get("qcc", {}), r.get("qcc_best", {}), r.get("ort_best", {})
        fl = r.get("float", {}).get("top1_pct")
        lines.append(
            f"| {r['model']} | {_cell(q, top)} ({q.get('calib_method', '-')}) | "
            f"{_cell(qb, top)} ({qb.get('method', '-')}) | {_cell(r.get('ort_minmax', {}), top)} | "
            f"{_cell(ob, top)} ({ob.get('method', '-')}) | {'-' if fl is None else f'{fl:.2f}'} |")
    lines.append("\ncells: SQNR dB vs float / largest error / top-1 % (labels; light models: "
                 "agreement with float top-1). SQNR is the ratio of the float output's power to "
                 "the error's (20 dB: 10 % rms error, 40 dB: 1 %). The largest error is the worst "
                 "absolute difference over all outputs as a percentage of the float output's "
                 "largest magnitude, so models whose outputs reach 1e9 (synthetic weights) read "
                 "like the others (report.json keeps the absolute max_abs). qcc = integer "
                 "reference interpreter; ORT = quantize_static QDQ per-channel int8, same "
                 "calibration samples.")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qcc.bench.accuracy")
    ap.add_argument("models", nargs="*")
    ap.add_argument("--out", default="bench_out")
    ap.add_argument("--quick", action="store_true", help="3 light models, no method sweeps")
    ap.add_argument("--qcc-methods", default=",".join(QCC_METHODS),
                    help="qcc calibration methods to compile with besides the default ('' = none)")
    args = ap.parse_args(argv)
    models = [by_name(n) for n in args.models] if args.models else default_models(args.quick)
    qm = () if args.quick else tuple(x for x in args.qcc_methods.split(",") if x)
    om = ("minmax",) if args.quick else ORT_METHODS
    rows = []
    os.makedirs(args.out, exist_ok=True)
    for m in models:
        with tempfile.TemporaryDirectory() as work:
            t0 = time.perf_counter()
            rows.append(bench_model(m, work, om, qm))
            rows[-1]["bench_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"[accuracy] {m.name}: {json.dumps(rows[-1])}", file=sys.stderr)
        with open(os.path.join(args.out, "accuracy.json"), "w") as f:  # after each model:
            json.dump(rows, f, indent=1)  # a long run that is stopped keeps its rows
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
