"""Measure the corpus built by fetch.py and write ``docs/zoo.md``.

    python tests/models/zoo/report.py [--zoo ~/.cache/qcc-zoo] [--timeout 900] [NAME ...]
    python tests/models/zoo/report.py --write-only      # docs/zoo.md from the saved rows

Runs in the project's environment.  Each model is measured in its own process (one
``measure`` call; a model that hangs or crashes gets a row saying so) and its row is
saved as ``<zoo>/NAME/row.json``; ``docs/zoo.md`` is generated from all rows.
What a row measures is ``measure.py``; the document (tables, the findings of ``notes.md``)
is ``render.py``.

Per model: import (qcc's float interpreter vs onnxruntime, max relative error of the
first output on the test samples), ``qcc compile --target c`` and ``--target onnx``
with only ``--calib`` (and ``--input-shape`` for dynamic dims), the C output vs the
reference interpreter (bit-exact on every test sample), qcc int8 SQNR of the first
output vs float next to onnxruntime ``quantize_static`` (QDQ, per-channel, the best of
MinMax / Percentile / Entropy on the same calibration samples), top-1 agreement with
float for classifiers, weight and arena bytes of the C build.  A failure is recorded
as its one-line error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
if ROOT not in sys.path:  # run as a script: python tests/models/zoo/report.py
    sys.path.insert(0, ROOT)

from tests.models.zoo.measure import _stamp, measure  # noqa: E402
from tests.models.zoo.render import write_m4, write_md  # noqa: E402

DEFAULT_ZOO = os.path.expanduser(os.environ.get("QCC_ZOO", "~/.cache/qcc-zoo"))
DOC = os.path.join(ROOT, "docs", "zoo.md")


def _timeout_stage(stderr) -> str:
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    marks = [ln[len("zoo-stage "):].rsplit(" ", 1) for ln in (stderr or "").splitlines()
             if ln.startswith("zoo-stage ")]
    if not marks:
        return ""
    done = ", ".join(f"{a} at {b} s" for a, b in marks)
    return f" in stage '{marks[-1][0]}' (started: {done})"


def _measure_in_process(d: str, timeout: int) -> None:
    """``measure(d)`` in a process of its own (``--one``), saved as ``d/row.json``; a crash or
    a timeout saves a row that says so (and, on a timeout, what the stages before reached)."""
    part = os.path.join(d, "row.partial.json")
    if os.path.isfile(part):
        os.remove(part)  # a stale one from an earlier run
    try:
        p = subprocess.run([sys.executable, __file__, "--one", d], capture_output=True, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            err = (p.stderr.strip().splitlines() or ["crashed"])[-1]
            json.dump(dict(json.load(open(os.path.join(d, "meta.json"))), import_=None, error=err,
                           measured=_stamp(),
                           compile_c=f"crashed: {err}"), open(os.path.join(d, "row.json"), "w"))
    except subprocess.TimeoutExpired as e:
        base = json.load(open(part if os.path.isfile(part) else os.path.join(d, "meta.json")))
        json.dump(dict(base, measured=_stamp(),
                       error=f"timed out after {timeout} s{_timeout_stage(e.stderr)}"),
                  open(os.path.join(d, "row.json"), "w"))


def _saved_rows(zoo: str, corpus: set) -> tuple[list[dict], list[dict]]:
    """The corpus table's rows and the Cortex-M4 table's, as saved in ``zoo``; a model built
    but not measured gets a row saying so."""
    rows, m4 = [], []
    for n in sorted(x for x in os.listdir(zoo) if x in corpus):
        p4 = os.path.join(zoo, n, "m4.json")
        if os.path.isfile(p4):
            m4.append(json.load(open(p4)))
        elif os.path.isfile(os.path.join(zoo, n, "meta.json")):
            m4.append({"name": n, "error": "not measured in this run"})
        p, mp = os.path.join(zoo, n, "row.json"), os.path.join(zoo, n, "meta.json")
        if os.path.isfile(p):
            rows.append(json.load(open(p)))
        elif os.path.isfile(mp):  # built, not measured: the row says so
            rows.append(dict(json.load(open(mp)), error="not measured in this run"))
    return rows, m4


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--zoo", default=DEFAULT_ZOO)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--write-only", action="store_true")
    a = ap.parse_args(argv)
    if a.one:
        row = measure(a.one)
        with open(os.path.join(a.one, "row.json"), "w") as f:
            json.dump(row, f, indent=1, default=str)
        return 0
    sys.path.insert(0, HERE)
    import fetch  # the corpus is fetch.py's list: other folders in the cache are not rows

    corpus = {e.name for e in fetch.CORPUS}
    names = a.names or sorted(n for n in os.listdir(a.zoo) if n in corpus
                              and os.path.isfile(os.path.join(a.zoo, n, "meta.json")))
    if not a.write_only:
        for n in names:
            t0 = time.time()
            _measure_in_process(os.path.join(a.zoo, n), a.timeout)
            print(f"{n}: {time.time() - t0:.0f} s", flush=True)
    rows, m4 = _saved_rows(a.zoo, corpus)
    with open(DOC, "w") as f:
        f.write(write_md(rows) + write_m4(m4))
    print(f"wrote {DOC} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
