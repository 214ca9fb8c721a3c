"""Accuracy benchmark: qcc int8 vs onnxruntime ``quantize_static`` on the same data.

For each model: float outputs (onnxruntime), qcc's integer outputs (its
reference interpreter, which the C code matches bit for bit), and onnxruntime's
QDQ static quantization (per-channel weights, int8 activations, the same
calibration samples) with its default MinMax calibration and the best of
MinMax / Percentile / Entropy.  onnxruntime runs the QDQ models at the basic
optimization level: on x86 without VNNI its fused u8s8 kernels saturate and
would make it look worse than its quantization really is.

    python -m qcc.bench.accuracy [MODELS...] [--out DIR] [--quick]
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


def _session(path: str, basic: bool = False) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    if basic:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _samples(data: dict) -> list[dict]:
    n = next(iter(data.values())).shape[0]
    return [{k: v[i:i + 1] for k, v in data.items()} for i in range(n)]


def ort_outputs(path: str, data: dict, basic: bool = False) -> np.ndarray:
    s = _session(path, basic)
    return np.concatenate([s.run(None, x)[0] for x in _samples(data)])


def ort_quantize(m: BenchModel, method: str, out_path: str) -> float:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(_samples(m.calib))

        def get_next(self):
            return next(self.it, None)

    cm = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
          "entropy": CalibrationMethod.Entropy}[method]
    t0 = time.perf_counter()
    quantize_static(m.path, out_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=cm)
    return time.perf_counter() - t0


def qcc_outputs(m: BenchModel, out_dir: str, **options) -> tuple[np.ndarray, dict]:
    from qcc.driver import CompileOptions, compile_model
    from qcc.frontend.onnx_import import parse_input_shapes
    from qcc.interp import Interpreter
    from qcc.ir.serialize import load

    calib_path = os.path.join(out_dir, "calib.npz")
    np.savez(calib_path, **m.calib)
    opts = CompileOptions(target="onnx", out_dir=os.path.join(out_dir, "qcc"),
                          input_shapes=parse_input_shapes(m.input_shapes),
                          options=dict({"calib": calib_path, "quantize": True, "quiet": True,
                                        "allow_float": m.allow_float}, **options))
    t0 = time.perf_counter()
    manifest = compile_model(m.path, opts)
    manifest["timings_s"]["total"] = time.perf_counter() - t0
    g = load(os.path.join(out_dir, "qcc", "model.qcc"))
    it = Interpreter(g)
    name = g.outputs[0].name
    return np.concatenate([it.run(x)[name] for x in _samples(m.test)]), manifest


def bench_model(m: BenchModel, work: str, methods=("minmax", "percentile", "entropy")) -> dict:
    row: dict = {"model": m.name}
    ref = ort_outputs(m.path, m.test)
    cls = m.kind == "classifier"
    if m.labels is not None:
        row["float"] = compare(ref, ref, m.labels, cls)
    try:
        out, manifest = qcc_outputs(m, work)
        row["qcc"] = compare(ref, out, m.labels, cls)
        row["qcc"]["calib_method"] = manifest.get("passes", {}).get("calibrate", {}).get("method")
        row["qcc"]["kept_float"] = manifest.get("passes", {}).get("quantize", {}).get("kept_float", [])
        row["qcc_timings_s"] = {k: round(v, 3) for k, v in manifest["timings_s"].items()
                                if isinstance(v, float)}
    except Exception as e:  # noqa: BLE001 - a benchmark row records the failure and goes on
        row["qcc"] = {"error": f"{type(e).__name__}: {e}"}
    for meth in methods:
        p = os.path.join(work, f"ort_{meth}.onnx")
        try:
            ort_quantize(m, meth, p)
            row[f"ort_{meth}"] = compare(ref, ort_outputs(p, m.test, basic=True), m.labels, cls)
        except Exception as e:  # noqa: BLE001
            row[f"ort_{meth}"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
    ok = {k: v for k, v in row.items() if k.startswith("ort_") and "sqnr_db" in v}
    if ok:
        best = max(ok, key=lambda k: ok[k]["sqnr_db"])
        row["ort_best"] = dict(ok[best], method=best[4:])
    return row


def table(rows: list[dict]) -> str:
    head = ("| model | qcc SQNR dB | ORT minmax SQNR | ORT best SQNR (method) | qcc top-1 | "
            "ORT minmax top-1 | ORT best top-1 | float top-1 |")
    lines = [head, "|" + "---|" * 8]

    def g(r, key, field):
        v = r.get(key, {})
        if "error" in v:
            return "error"
        x = v.get(field)
        return "-" if x is None else f"{x}"

    for r in rows:
        top = "top1_pct" if r.get("float") else "top1_agree_pct"
        best = r.get("ort_best", {})
        lines.append(f"| {r['model']} | {g(r, 'qcc', 'sqnr_db')} | {g(r, 'ort_minmax', 'sqnr_db')} | "
                     f"{best.get('sqnr_db', '-')} ({best.get('method', '-')}) | {g(r, 'qcc', top)} | "
                     f"{g(r, 'ort_minmax', top)} | {best.get(top, '-')} | {g(r, 'float', 'top1_pct')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qcc.bench.accuracy")
    ap.add_argument("models", nargs="*")
    ap.add_argument("--out", default="bench_out")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    models = [by_name(n) for n in args.models] if args.models else default_models(args.quick)
    rows = []
    for m in models:
        with tempfile.TemporaryDirectory() as work:
            t0 = time.perf_counter()
            rows.append(bench_model(m, work))
            rows[-1]["bench_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"[accuracy] {m.name}: {json.dumps(rows[-1].get('qcc'))}", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "accuracy.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
