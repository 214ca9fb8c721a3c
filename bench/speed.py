"""Latency measurement: onnxruntime (one thread) and qcc's generated C code.

Every measurement warms up first, then times single-sample inferences until it
has ``runs`` timings or its time budget is spent (at least ``MIN_RUNS``), and
reports the median with the spread (quartiles, min, max) in microseconds.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from typing import Callable, Optional

import numpy as np

MIN_RUNS = 3


def summarize(times_us: list[float]) -> dict:
    """Median and spread of a list of timings (microseconds)."""
    a = np.asarray(times_us, np.float64)
    if a.size == 0:
        raise ValueError("no timings to summarize")
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median_us": round(float(med), 2), "q1_us": round(float(q1), 2),
            "q3_us": round(float(q3), 2), "min_us": round(float(a.min()), 2),
            "max_us": round(float(a.max()), 2), "runs": int(a.size)}


def time_callable(fn: Callable[[], object], runs: int, warmup: int, budget_s: float) -> dict:
    """Time ``fn`` ``runs`` times after ``warmup`` calls, stopping early past ``budget_s``."""
    for _ in range(max(warmup, 0)):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
        if len(times) >= MIN_RUNS and time.perf_counter() - start > budget_s:
            break
    return summarize(times)


def ort_session(path: str, optimized: bool = True):
    """A one-thread CPU onnxruntime session (sequential execution)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    if not optimized:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_latency(path: str, sample: dict, runs: int, warmup: int, budget_s: float,
                optimized: bool = True) -> dict:
    """Median one-thread latency of one inference of ``path`` on ``sample``."""
    sess = ort_session(path, optimized)
    names = {i.name for i in sess.get_inputs()}
    feeds = {k: v for k, v in sample.items() if k in names}
    return time_callable(lambda: sess.run(None, feeds), runs, warmup, budget_s)


def ort_call_overhead(runs: int = 200, warmup: int = 20, budget_s: float = 1.0) -> dict:
    """Latency of onnxruntime's Python ``run`` on a one-element Identity model.

    The onnxruntime columns are timed around ``InferenceSession.run`` from Python,
    the C runner inside its native loop: this is the fixed cost the former carry
    (it matters only for models that run in tens of microseconds).
    """
    import tempfile

    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "overhead",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with tempfile.TemporaryDirectory(prefix="qcc_bench_") as d:
        path = os.path.join(d, "identity.onnx")
        onnx.save(m, path)
        return ort_latency(path, {"x": np.zeros(1, np.float32)}, runs, warmup, budget_s)


def c_latency(out_dir: str, sample: dict, runs: int, repeats: int = 5) -> dict:
    """Latency of qcc's C runner: ``repeats`` calls of the backend's benchmark helper.

    ``qcc.backends.c.build.bench_latency`` returns the median of ``runs`` timed
    inferences (after its own warm-up) inside the native runner; the spread
    reported here is across the ``repeats`` medians (a process-to-process spread).
    """
    from qcc.backends.c import build as cbuild

    meds = [float(cbuild.bench_latency(out_dir, sample, runs)) for _ in range(max(repeats, 1))]
    r = summarize(meds)
    r["runs"] = runs * len(meds)
    r["spread_of"] = f"{len(meds)} medians of {runs} runs"
    return r


def _first_line(cmd: list[str]) -> Optional[str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout or p.stderr).splitlines()[0].strip() if p.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """CPU model, core count, OS and tool versions recorded with every report."""
    import onnx
    import onnxruntime

    try:
        avail = len(os.sched_getaffinity(0))
    except AttributeError:
        avail = os.cpu_count()
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "cores_available": avail,
        "platform": platform.platform(), "machine": platform.machine(),
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                     "gcc": _first_line(["gcc", "--version"]),
                     "arm-none-eabi-gcc": _first_line(["arm-none-eabi-gcc", "--version"])},
    }


def ratios(lat: dict, ort_overhead_us: float = 0.0) -> dict:
    """Speed-ups (how many times faster) of qcc's engines over onnxruntime's.

    With ``ort_overhead_us``, onnxruntime's Python call overhead is first taken
    off its medians (never below zero) for the ratios against the native C runner.
    """
    out = {}
    for mine in ("qcc_c", "qcc_onnx"):
        for base in ("ort_fp32", "ort_int8"):
            a, b = lat.get(mine, {}), lat.get(base, {})
            if "median_us" in a and "median_us" in b and a["median_us"] > 0:
                ref = b["median_us"] - (ort_overhead_us if mine == "qcc_c" else 0.0)
                out[f"{base}/{mine}"] = round(max(ref, 0.0) / a["median_us"], 3)
    return out
