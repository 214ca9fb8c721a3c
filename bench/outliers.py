"""Outlier-channel benchmark: quantization error of sub-8-bit weights with and without
the channel passes (docs/lowbit.md).

For each model and each configuration it compiles with qcc (target onnx, the
model's calibration set), runs the test inputs through the integer reference
interpreter and compares the scored output with onnxruntime's float output:
SQNR, relative RMS error (as a ratio to the plain ``w4 g32`` row), max error,
top-1 agreement (classifiers) and the packed weight bytes.  It also checks that
each pass alone keeps the float function (max relative output change on the
test inputs, before quantization).

Models: ``planted`` (built here: LayerNorm -> Linear -> ReLU -> Linear with
planted outlier channels: large LayerNorm gammas = activation outliers, large
rows of the second weight = weight outliers scattered over the groups), the
examples (``tiny_bert``, ``digits_cnn``, ``mobilenet_small``) and optionally
``light_<name>``.

    python -m qcc.bench.outliers --out DIR [--quick] [MODELS...]

writes ``DIR/outliers.json`` and ``DIR/outliers.md`` and prints the table.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import script
from .accuracy import ort_outputs, qcc_outputs
from .metrics import compare
from .models import BenchModel, by_name

DEFAULT_MODELS = ["planted", "tiny_bert", "digits_cnn", "mobilenet_small"]
BASE = {"weight_bits": "4", "group_size": 32}
CONFIGS = [
    ("int8", {}),
    ("w4 per-channel", {"weight_bits": "4"}),
    ("w4 g32", dict(BASE)),
    ("w4 g32 +equalize", dict(BASE, equalize=True)),
    ("w4 g32 +smoothquant 0.5", dict(BASE, smoothquant=0.5)),
    ("w4 g32 +reorder sort", dict(BASE, reorder_channels="sort")),
    ("w4 g32 +reorder cluster", dict(BASE, reorder_channels="cluster")),
    ("w4 g32 +reorder sort +outlier-8bit 8", dict(BASE, reorder_channels="sort", outlier_8bit=8)),
    ("w4 g32 +smoothquant +reorder sort", dict(BASE, smoothquant=0.5, reorder_channels="sort")),
]
PASS_CHECKS = [("equalize", {"equalize": True}), ("smoothquant", {"smoothquant": 0.5}),
               ("reorder sort", {"reorder_channels": "sort"}),
               ("reorder cluster", {"reorder_channels": "cluster"})]


# -- the planted-outlier model ------------------------------------------------------------
def planted_model(folder: str, seed: int = 0, c: int = 64, hidden: int = 256, t: int = 16) -> BenchModel:
    """LayerNorm(x) -> MatMul W1 + b1 -> Relu -> MatMul W2 + b2, x [1, t, c].  Planted:
    4 LayerNorm gammas x25 (activation outlier channels read by W1), 6 hidden channels
    with x8 W1 columns (activation outliers read by W2) and 8 rows of W2 x10 (weight
    outliers, one per group of 32)."""
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(0.8, 1.2, c)
    gamma[[5, 21, 38, 60]] *= 25.0
    w1 = rng.normal(0, 1 / math.sqrt(c), (c, hidden))
    w1[:, [7, 70, 133, 200, 230, 251]] *= 8.0
    w2 = rng.normal(0, 1 / math.sqrt(hidden), (hidden, c))
    w2[[3, 40, 67, 100, 131, 170, 199, 240]] *= 10.0
    inits = {"g": gamma, "b": rng.normal(0, 0.1, c), "w1": w1, "b1": rng.normal(0, 0.1, hidden),
             "w2": w2, "b2": rng.normal(0, 0.1, c)}
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["ln"], axis=-1),
             helper.make_node("MatMul", ["ln", "w1"], ["h0"]), helper.make_node("Add", ["h0", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["h"]), helper.make_node("MatMul", ["h", "w2"], ["y0"]),
             helper.make_node("Add", ["y0", "b2"], ["y"])]
    g = helper.make_graph(nodes, "planted", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, t, c])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, t, c])],
                          [numpy_helper.from_array(np.asarray(a, np.float32), k) for k, a in inits.items()])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "planted_outliers.onnx")
    onnx.save(model, path)
    data = rng.normal(0, 1, (64, t, c)).astype(np.float32)
    return BenchModel(name="planted", path=path, calib={"x": data[:48]}, test={"x": data[48:]},
                      kind="encoder", synthetic=True)


def load_model(name: str, work: str) -> BenchModel:
    return planted_model(os.path.join(work, "planted")) if name == "planted" else by_name(name)


def _subset(m: BenchModel, n_calib: int, n_test: int) -> BenchModel:
    def cut(d: dict, n: int) -> dict:
        return {k: v[:n] for k, v in d.items()}

    labels = None if m.labels is None else m.labels[:n_test]
    return BenchModel(m.name, m.path, cut(m.calib, n_calib), cut(m.test, n_test), labels, m.input_shapes,
                      m.kind, m.allow_float, m.output, m.synthetic)


# -- float preservation ---------------------------------------------------------------------
def float_change(m: BenchModel, options: dict, n: int = 4) -> float:
    """Max relative change of the float outputs on ``n`` test inputs when the channel
    pass(es) in ``options`` run on the calibrated, fused float graph."""
    from qcc.frontend.onnx_import import import_model, parse_input_shapes
    from qcc.interp import Interpreter
    from qcc.passes.pipelines import FLOAT_CLEANUP, FLOAT_FUSION
    from qcc.passmanager import PassContext, PassManager

    g = import_model(m.path, parse_input_shapes(m.input_shapes))
    ctx = PassContext(options=dict(calib={k: v[:8] for k, v in m.calib.items()}, calib_method="minmax",
                                   quiet=True, allow_float=m.allow_float, **options))
    PassManager(FLOAT_CLEANUP + ["constant-fold", "canonicalize", "calibrate"] + FLOAT_FUSION).run(g, ctx)
    feeds = [{k: v[i:i + 1] for k, v in m.test.items()} for i in range(n)]
    ref = [Interpreter(g).run(f) for f in feeds]
    PassManager(["equalize", "smoothquant", "reorder-channels", "dce"]).run(g, ctx)
    it = Interpreter(g)
    worst = 0.0
    for f, r in zip(feeds, ref):
        o = it.run(f)
        for k, a in r.items():
            d = np.abs(np.asarray(o[k], np.float64) - a).max()
            worst = max(worst, float(d / max(float(np.abs(a).max()), 1e-30)))
    return worst


# -- the benchmark ----------------------------------------------------------------------------
def _row(m: BenchModel, work: str, ref: np.ndarray, label: str, options: dict) -> dict:
    sub = "q_" + "".join(ch if ch.isalnum() else "_" for ch in label)
    t0 = time.perf_counter()
    try:
        out, manifest = qcc_outputs(m, work, sub, **options)
    except Exception as e:  # noqa: BLE001 - a benchmark row records the failure and goes on
        return {"config": label, "options": options, "error": f"{type(e).__name__}: {e}"[:300]}
    r = compare(ref, out, m.labels, m.kind == "classifier")
    r.update(config=label, options=options, seconds=round(time.perf_counter() - t0, 1),
             weight_bytes=manifest.get("sizes", {}).get("weight_bytes"))
    return r


def bench_model(m: BenchModel, work: str, configs=CONFIGS) -> dict:
    os.makedirs(work, exist_ok=True)
    ref = ort_outputs(m.path, m.test, output=m.output)
    rows = [_row(m, work, ref, label, opts) for label, opts in configs]
    base = next((r for r in rows if r["config"] == "w4 g32" and "sqnr_db" in r), None)
    for r in rows:
        if base and "sqnr_db" in r and math.isfinite(r["sqnr_db"]):
            r["err_vs_w4g32"] = round(10 ** ((base["sqnr_db"] - r["sqnr_db"]) / 20), 3)
    checks = {}
    for label, opts in PASS_CHECKS:
        try:
            checks[label] = float(f"{float_change(m, opts):.3g}")
        except Exception as e:  # noqa: BLE001
            checks[label] = f"{type(e).__name__}: {e}"[:200]
    return {"model": m.name, "n_calib": len(next(iter(m.calib.values()))),
            "n_test": len(next(iter(m.test.values()))), "rows": rows, "float_rel_change": checks}


def _fmt(r: dict, key: str, nd: int = 2) -> str:
    v = r.get(key)
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def table(results: list[dict]) -> str:
    lines = []
    for res in results:
        lines += [f"### {res['model']} (calib {res['n_calib']}, test {res['n_test']})", "",
                  "| config | SQNR dB | err / w4g32 | max rel | top-1 agree % | top-1 % | weight bytes |",
                  "|---|---|---|---|---|---|---|"]
        for r in res["rows"]:
            if "error" in r:
                lines.append(f"| {r['config']} | error: {r['error'][:80]} | | | | | |")
                continue
            lines.append(f"| {r['config']} | {_fmt(r, 'sqnr_db')} | {_fmt(r, 'err_vs_w4g32', 3)} | "
                         f"{_fmt(r, 'max_rel', 4)} | {_fmt(r, 'top1_agree_pct')} | {_fmt(r, 'top1_pct')} | "
                         f"{_fmt(r, 'weight_bytes')} |")
        fc = ", ".join(f"{k} {v}" for k, v in res["float_rel_change"].items())
        lines += ["", f"Float outputs after each pass alone (max relative change): {fc}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = script.parser("outliers", __doc__)
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(DEFAULT_MODELS)}")
    ap.add_argument("--out", required=True, help="output folder (outliers.json, outliers.md)")
    ap.add_argument("--quick", action="store_true", help="fewer calibration/test samples")
    ap.add_argument("--n-calib", type=int, default=None, help="calibration samples (default all; quick 16)")
    ap.add_argument("--n-test", type=int, default=None, help="test samples (default all; quick 32)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    work = os.path.join(args.out, "work")
    n_calib = args.n_calib or (16 if args.quick else None)
    n_test = args.n_test or (32 if args.quick else None)
    results = []
    for name in args.models or DEFAULT_MODELS:
        m = load_model(name, work)
        m = _subset(m, n_calib or 1 << 30, n_test or 1 << 30)
        t0 = time.perf_counter()
        mdir = os.path.join(work, m.name)
        os.makedirs(mdir, exist_ok=True)
        res = bench_model(m, mdir)
        res["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(res)
        print(table([res]), flush=True)
    with open(os.path.join(args.out, "outliers.json"), "w") as f:
        json.dump({"models": results, "configs": [c for c, _ in CONFIGS]}, f, indent=1)
    with open(os.path.join(args.out, "outliers.md"), "w") as f:
        f.write("# Outlier-channel benchmark (python -m qcc.bench.outliers)\n\n" + table(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
