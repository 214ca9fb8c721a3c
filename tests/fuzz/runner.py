"""Run one hostile case through qcc and classify what happened.

Classes (the fuzzer's totals; every one but ``ok`` and ``refused`` is a bug):

* ``ok``: exit 0, the output folder is complete, and where onnxruntime runs the same
  (float) model, qcc's compiled graph gives the same outputs;
* ``refused``: exit 2 with exactly one ``qcc: error:`` line (warnings aside);
* ``internal``: exit 3 (or any other code);  ``traceback``: a Python traceback printed;
* ``hang``: the time limit passed;  ``wrong``: exit 0 but outputs that differ from
  onnxruntime's;  ``stray``: files left behind by a refused compile (or hidden
  temporary folders after any run);  ``noisy``: exit 2 with more than one line.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .mutants import Case, sample_inputs

BUGS = ("internal", "traceback", "hang", "wrong", "stray", "noisy")


@dataclass
class Outcome:
    name: str
    kind: str
    cls: str
    rc: Optional[int]
    detail: str = ""
    checker_ok: Optional[bool] = None
    ort_ok: Optional[bool] = None
    extra: dict = field(default_factory=dict)


class _Alarm(Exception):
    pass


def _run_inproc(argv: list[str], timeout: int) -> tuple[Optional[int], str]:
    """qcc.cli.main in this process, stdout+stderr captured, SIGALRM as the time limit."""
    from qcc.cli import main

    def on_alarm(signum, frame):  # noqa: ARG001
        raise _Alarm()

    old = signal.signal(signal.SIGALRM, on_alarm)
    buf = io.StringIO()
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
            rc = main(argv)
    except _Alarm:
        rc = None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return rc, buf.getvalue()


def _run_script(argv: list[str], timeout: int, cwd: str) -> tuple[Optional[int], str]:
    exe = shutil.which("qcc")
    assert exe, "the qcc console script is not on PATH (pip install -e .)"
    try:
        p = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, ""
    return p.returncode, p.stdout + p.stderr


def run_case(case: Case, work: str, timeout: int = 120, script: bool = False,
             probe: bool = False) -> Outcome:
    folder = os.path.join(work, case.name)
    shutil.rmtree(folder, ignore_errors=True)
    paths = case.write(folder)
    before = set(os.listdir(folder))
    out = os.path.join(folder, "o", "build")
    argv = case.argv(paths, out)
    rc, text = _run_script(argv, timeout, folder) if script else _run_inproc(argv, timeout)
    oc = Outcome(case.name, case.kind, _classify(rc, text, folder, before, out), rc)
    oc.detail = _last_line(text)
    if oc.cls == "ok" and case.calib is None and case.calib_raw is None:
        wrong = _compare_with_ort(paths["model"], out, case)
        if wrong:
            oc.cls, oc.detail = "wrong", wrong
    if probe:
        oc.checker_ok, oc.ort_ok = _probe(paths["model"], case)
    shutil.rmtree(folder, ignore_errors=True)
    return oc


def _last_line(text: str) -> str:
    lines = [x for x in text.splitlines() if x.strip()]
    return lines[-1][:300] if lines else ""


def _classify(rc, text: str, folder: str, before: set, out: str) -> str:
    if rc is None:
        return "hang"
    if "Traceback (most recent call last)" in text:
        return "traceback"
    after = set(os.listdir(folder))
    hidden = [f for f in after - before if f.startswith(".")]
    if rc == 0:
        if hidden or not os.path.isfile(os.path.join(out, "manifest.json")):
            return "stray"
        return "ok"
    if rc != 2:
        return "internal"
    if after != before:
        return "stray"
    lines = [x for x in text.splitlines() if x.strip() and not x.startswith("qcc: warning:")]
    if len(lines) != 1 or not lines[0].startswith("qcc: error: "):
        return "noisy"
    return "refused"


def _compare_with_ort(model_path: str, out: str, case: Case) -> str:
    """'' when onnxruntime cannot run the model or agrees with qcc's compiled graph."""
    from qcc.interp import Interpreter
    from qcc.ir.serialize import load as load_ir

    graph = load_ir(os.path.join(out, "model.qcc"))
    feeds = {v.name: np.random.default_rng(7).standard_normal(v.shape).astype(np.float32)
             for v in graph.inputs if v.dtype.name == "float32"}
    if len(feeds) != len(graph.inputs):
        return ""
    ref = _ort_outputs(model_path, feeds)
    if ref is None:
        return ""
    got = Interpreter(graph).run(feeds)
    for k, want in ref.items():
        if k not in got:
            return f"output '{k}' missing"
        a, b = np.asarray(got[k], np.float64), np.asarray(want, np.float64)
        if a.shape != b.shape:
            return f"output '{k}' shape {a.shape} vs onnxruntime {b.shape}"
        if not np.allclose(a, b, rtol=1e-3, atol=1e-4, equal_nan=True):
            return f"output '{k}' differs from onnxruntime by {np.nanmax(np.abs(a - b)):.3g}"
    return ""


def _ort_outputs(model_path: str, feeds: dict) -> Optional[dict]:
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_ort_child, args=(model_path, feeds, q))
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        p.join()
        return None
    try:
        return q.get(timeout=5)
    except Exception:  # noqa: BLE001 - the child failed: onnxruntime refuses the model
        return None


def _ort_child(model_path: str, feeds: dict, q) -> None:
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 4
        s = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        names = [o.name for o in s.get_outputs()]
        q.put(dict(zip(names, s.run(None, {k: v for k, v in feeds.items()
                                          if k in {i.name for i in s.get_inputs()}}))))
    except Exception:  # noqa: BLE001
        q.put(None)


def _probe(model_path: str, case: Case) -> tuple[bool, bool]:
    """(onnx.checker full check accepts, onnxruntime loads and runs one sample)."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_probe_child, args=(model_path, q))
    p.start()
    p.join(60)
    if p.is_alive():
        p.kill()
        p.join()
        return False, False
    try:
        return q.get(timeout=5)
    except Exception:  # noqa: BLE001
        return False, False


def _probe_child(model_path: str, q) -> None:
    import onnx
    import onnxruntime as ort

    checker = ort_ok = False
    try:
        onnx.checker.check_model(model_path, full_check=True)
        checker = True
    except Exception:  # noqa: BLE001
        pass
    try:
        so = ort.SessionOptions()
        so.log_severity_level = 4
        s = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
        feeds = {}
        for i in s.get_inputs():
            dims = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
            feeds[i.name] = np.zeros(dims, np.float32)
        s.run(None, feeds)
        ort_ok = True
    except Exception:  # noqa: BLE001
        pass
    q.put((checker, ort_ok))


def totals(outcomes: list[Outcome]) -> dict[str, int]:
    t = {c: 0 for c in ("ok", "refused", *BUGS)}
    for o in outcomes:
        t[o.cls] = t.get(o.cls, 0) + 1
    return t


def _main() -> None:  # python -m tests.fuzz.runner SEED COUNT: a quick look
    from .mutants import generate

    seed, count = int(sys.argv[1]), int(sys.argv[2])
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        res = [run_case(c, work) for c in generate(seed, count)]
    for o in res:
        if o.cls not in ("ok", "refused"):
            print(o.name, o.cls, o.rc, o.detail)
    print(totals(res))


if __name__ == "__main__":
    _main()
