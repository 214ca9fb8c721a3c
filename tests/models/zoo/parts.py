"""Per-part SQNR of a detector whose output concatenates box coordinates and scores
(issue 12, report 6): the first ``--boxes`` entries along ``--axis`` are box
coordinates, the rest scores/probabilities.

    python tests/models/zoo/parts.py yolov8n_320 --axis 1 [--zoo ~/.cache/qcc-zoo] [--test 4]
    python tests/models/zoo/parts.py --yolo-head levels     # the regression test's head

Scores each part of the first output against float onnxruntime for qcc (default, i.e.
with the int16 wide concat; and ``--wide-concat 0``, one int8 scale) and onnxruntime's
``quantize_static`` (QDQ, per-channel, MinMax / Percentile / Entropy) on the corpus
model's own calibration samples.  Prints one JSON line per configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from measure import _load  # noqa: E402
from report import DEFAULT_ZOO  # noqa: E402


def main(argv=None) -> int:
    from qcc.bench.accuracy import ort_outputs, ort_quantize, qcc_outputs
    from qcc.bench.metrics import sqnr_db
    from qcc.bench.models import BenchModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", nargs="?")
    ap.add_argument("--yolo-head", choices=("direct", "transpose", "levels"),
                    help="score the small head of tests/models/test_reports_concat.py instead")
    ap.add_argument("--zoo", default=DEFAULT_ZOO)
    ap.add_argument("--axis", type=int)
    ap.add_argument("--boxes", type=int, default=4)
    ap.add_argument("--test", type=int, default=4, help="test samples scored")
    ap.add_argument("--ort", default="minmax,percentile,entropy")
    a = ap.parse_args(argv)
    if a.yolo_head:
        sys.path.insert(0, os.path.dirname(HERE))
        from test_reports_concat import yolo_head

        a.name, a.axis = f"yolo_head_{a.yolo_head}", 1 if a.yolo_head == "direct" else -1
        path = os.path.join(tempfile.mkdtemp(prefix="head_"), "head.onnx")
        calib, test = yolo_head(path, a.yolo_head)
        meta = {}
    else:
        d = os.path.join(a.zoo, a.name)
        meta = json.load(open(os.path.join(d, "meta.json")))
        calib, test = _load(os.path.join(d, "calib.npz")), _load(os.path.join(d, "test.npz"))
        path = os.path.join(d, "model.onnx")
    test = {k: v[:a.test] for k, v in test.items()}
    m = BenchModel(a.name, path, calib, test, input_shapes=list(meta.get("input_shapes") or []),
                   kind="encoder")
    ref = ort_outputs(path, test)

    def parts(y):
        n = y.shape[a.axis]
        return (np.take(y, np.arange(a.boxes), axis=a.axis),
                np.take(y, np.arange(a.boxes, n), axis=a.axis))

    def row(label, y, **extra):
        (rb, rs), (yb, ys) = parts(ref), parts(y)
        print(json.dumps(dict(model=a.name, config=label, all_db=round(sqnr_db(ref, y), 2),
                              box_db=round(sqnr_db(rb, yb), 2), score_db=round(sqnr_db(rs, ys), 2),
                              **extra)), flush=True)

    work = tempfile.mkdtemp(prefix=f"parts_{a.name}_")
    for label, wc in (("qcc", None), ("qcc --wide-concat 0", 0.0)):
        t0 = time.time()
        opts = {} if wc is None else {"wide_concat": wc}
        y, man = qcc_outputs(m, work, "qcc" if wc is None else "qcc_narrow", **opts)
        row(label, y, wide_concats=[w["node"] for w in man["passes"]["quantize"].get("wide_concats", [])],
            seconds=round(time.time() - t0, 1))
    for meth in [s for s in a.ort.split(",") if s]:
        p = os.path.join(work, f"ort_{meth}.onnx")
        try:
            ort_quantize(m, meth, p)
            row(f"onnxruntime {meth}", ort_outputs(p, test, basic=True))
        except Exception as e:  # noqa: BLE001
            print(json.dumps(dict(model=a.name, config=f"onnxruntime {meth}", error=str(e)[:200])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
