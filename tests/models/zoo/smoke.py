"""The corpus smoke check shared by the target tests (tests/backends/*/test_*_corpus.py): one
corpus model built in the test (fetch.py; small torch modules, no download), compiled for a
target with its calibration set, and its outputs on the first test samples bit-exact with
``--engine reference``."""

from __future__ import annotations

import json
import os

import numpy as np

from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model
from qcc.frontend.onnx_import import parse_input_shapes

from . import fetch


def check_bit_exact(name: str, tmp_path, target: str, rows: int, device=None) -> dict:
    """Build corpus model ``name`` under ``tmp_path``, compile it for ``target``, run its first
    ``rows`` test samples on the target (``device``: where the target takes one) and on the
    reference interpreter, assert equal outputs bit for bit; returns the manifest."""
    e = next(e for e in fetch.CORPUS if e.name == name)
    d = fetch.build_one(e, str(tmp_path))
    meta = json.load(open(os.path.join(d, "meta.json")))
    out = str(tmp_path / target)
    man = compile_model(os.path.join(d, "model.onnx"), CompileOptions(
        target=target, out_dir=out, input_shapes=parse_input_shapes(meta["input_shapes"]),
        options={"calib": os.path.join(d, "calib.npz"), "quiet": True}))
    with np.load(os.path.join(d, "test.npz")) as z:
        test = {k: z[k][:rows] for k in z.files}
    got, want = run_artifact(out, test, "target", device), run_artifact(out, test, "reference")
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), (name, k)
    return man
