"""Measure one corpus model for docs/zoo.md (``report.py`` runs :func:`measure` in a process
of its own per model and saves the row as ``<zoo>/NAME/row.json``).

Import (qcc's float interpreter vs onnxruntime, max relative error of the first output on
the first two test samples), ``qcc compile --target c`` with only the calibration set, the C
output vs the reference interpreter (bit-exact on every test sample), qcc int8 SQNR next to
onnxruntime's ``quantize_static`` (``qcc.bench.accuracy.bench_model``), weight and arena
bytes.  Each stage writes the row so far to ``row.partial.json`` and a ``zoo-stage`` line on
stderr, so a model that times out keeps what it reached.  A failure is its one-line error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def _load(p: str) -> dict:
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _err(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return f"{type(e).__name__}: {s[0][:300] if s else ''}"


def _float_check(path, shapes, test, bind=None) -> float:
    from qcc.bench.accuracy import _samples, _session, ort_outputs
    from qcc.frontend.bind import drop_bound
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import Interpreter
    from qcc.npzio import iter_samples

    g = import_model(path, shapes, bind=bind)
    it = Interpreter(g)
    sub = _samples(test, _session(path))[:2]  # the first two samples
    sub = {k: np.concatenate([np.asarray(s[k])[None] if np.ndim(s[k]) < np.ndim(test[k]) else s[k]
                              for s in sub]) for k in test}
    ref = ort_outputs(path, sub)
    feeds = iter_samples(g, drop_bound(sub, g.meta.get("bound_inputs")))
    out = np.concatenate([it.run(x)[g.outputs[0].name] for x in feeds])
    return float(np.max(np.abs(out.astype(np.float64) - ref)) / max(float(np.max(np.abs(ref))), 1e-30))


def _stage(name: str, t0: float, row: dict, d: str) -> None:
    """Progress marker on stderr, and the row so far in ``d/row.partial.json``: a model
    that times out keeps what it reached and says which stage it was in."""
    print(f"zoo-stage {name} {time.time() - t0:.1f}", file=sys.stderr, flush=True)
    with open(os.path.join(d, "row.partial.json"), "w") as f:
        json.dump(row, f, indent=1, default=str)


def _stamp() -> str:
    """Date and qcc commit of a measurement (``+``: uncommitted changes)."""
    try:
        h = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                           text=True, timeout=30).stdout.strip()
        dirty = [ln for ln in subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                             cwd=ROOT, capture_output=True, text=True,
                                             timeout=30).stdout.splitlines()
                 if not ln.endswith("docs/zoo.md")]  # the table this script writes
    except (OSError, subprocess.SubprocessError):
        h, dirty = "", ""
    return f"{time.strftime('%Y-%m-%d', time.gmtime())} {h}{'+' if dirty else ''}".strip()


def _measure_c(d: str, path: str, meta: dict, shapes, test: dict, work: str, row: dict,
               t0: float) -> None:
    """``qcc compile --target c`` with only the calibration set (sizes, notes), then the C
    output vs the reference interpreter on every test sample."""
    from qcc.commands import run_artifact
    from qcc.driver import CompileOptions, compile_model

    opts = {"calib": os.path.join(d, "calib.npz"), "quantize": True, "quiet": True}
    _stage("compile_c", t0, row, d)
    try:
        man = compile_model(path, CompileOptions(target="c", out_dir=os.path.join(work, "c"),
                                                 input_shapes=shapes, bind=meta.get("bind") or {},
                                                 options=opts))
        row["compile_c"] = "ok"
        row["weight_bytes"] = man.get("memory", {}).get("weight_bytes")
        row["arena_bytes"] = man.get("memory", {}).get("arena_bytes")
        row["notes"] = {k: man[k] for k in ("unfolded", "unsigned_inputs_shifted") if man.get(k)}
        _stage("c_bit_exact", t0, row, d)
        try:
            got = run_artifact(os.path.join(work, "c"), test, "target")
            want = run_artifact(os.path.join(work, "c"), test, "reference")
            bad = [k for k in want if not np.array_equal(got[k], want[k])]
            row["c_bit_exact"] = "yes" if not bad else f"differs on {bad}"
        except Exception as e:  # noqa: BLE001
            row["c_bit_exact"] = _err(e)
    except Exception as e:  # noqa: BLE001
        row["compile_c"] = _err(e)


def _measure_accuracy(path: str, meta: dict, calib: dict, test: dict, work: str, row: dict) -> None:
    """qcc --target onnx and onnxruntime quantize_static (three calibration methods) on the
    same samples: SQNR of the first output vs float, top-1 agreement for classifiers."""
    from qcc.bench.accuracy import bench_model
    from qcc.bench.models import BenchModel

    m = BenchModel(meta["name"], path, calib, test, input_shapes=list(meta.get("input_shapes") or []),
                   bind=meta.get("bind") or {},
                   kind="classifier" if meta["kind"] == "classifier" else "encoder")
    try:
        acc = bench_model(m, work)
        q, o = acc.get("qcc", {}), acc.get("ort_best", {})
        row["compile_onnx"] = "ok" if "sqnr_db" in q else q.get("error", "failed")
        row["qcc_sqnr"] = q.get("sqnr_db")
        row["ort_sqnr"] = o.get("sqnr_db")
        row["ort_method"] = o.get("method")
        if "sqnr_db" not in o:
            row["ort_error"] = acc.get("ort_minmax", {}).get("error")
        if meta["kind"] == "classifier":
            row["qcc_top1"], row["ort_top1"] = q.get("top1_agree_pct"), o.get("top1_agree_pct")
    except Exception as e:  # noqa: BLE001
        row["compile_onnx"] = _err(e)


def measure(d: str) -> dict:
    """The corpus row of the model folder ``d`` (meta.json, model.onnx, calib.npz, test.npz)."""
    from qcc.frontend.onnx_import import parse_input_shapes

    meta = json.load(open(os.path.join(d, "meta.json")))
    path = os.path.join(d, "model.onnx")
    calib, test = _load(os.path.join(d, "calib.npz")), _load(os.path.join(d, "test.npz"))
    shapes = parse_input_shapes(meta.get("input_shapes"))
    row = dict(meta, measured=_stamp())
    t0 = time.time()
    _stage("import", t0, row, d)
    try:
        row["float_max_rel"] = _float_check(path, shapes, test, meta.get("bind"))
        row["import"] = "ok"
    except Exception as e:  # noqa: BLE001
        row["import"] = _err(e)
        return row
    work = tempfile.mkdtemp(prefix=f"zoo_{meta['name']}_")
    _measure_c(d, path, meta, shapes, test, work, row, t0)
    _stage("accuracy", t0, row, d)  # qcc --target onnx, onnxruntime quantize_static x3
    _measure_accuracy(path, meta, calib, test, work, row)
    row["seconds"] = round(time.time() - t0, 1)
    shutil.rmtree(work, ignore_errors=True)  # compiled folders and onnxruntime models: tens of MB
    return row
