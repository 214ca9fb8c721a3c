"""The torch-exported examples (examples/*): qcc import + interpreter against onnxruntime.

Every ``examples/*/*.onnx`` whose inputs the folder's test.npz provides is checked.
tiny_bert has dynamic batch and sequence dimensions (bound here from the test
data, as ``--input-shape`` does) and keeps its weights in an external data file;
its attention mask goes through the Shape/Expand/Where arithmetic that torch
exports.  Per sample, every output must agree within 1e-5 relative error.
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE = [("digits_cnn", "digits_cnn.onnx"), ("mobilenet_small", "mobilenet_small.onnx"),
        ("tiny_bert", "tiny_bert_opset14.onnx"), ("tiny_bert", "tiny_bert_opset17.onnx")]
SAMPLES = 8


def _discover() -> list[tuple[str, str]]:
    """Every examples/*/*.onnx whose graph inputs all have an array in the folder's
    test.npz (models added by later examples join without editing this file)."""
    import glob

    import onnx

    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "*", "*.onnx"))):
        folder = os.path.dirname(path)
        if not os.path.isfile(os.path.join(folder, "test.npz")):
            continue
        with np.load(os.path.join(folder, "test.npz"), allow_pickle=False) as z:
            keys = set(z.files)
        g = onnx.load(path, load_external_data=False).graph
        inits = {t.name for t in g.initializer}
        if {i.name for i in g.input} - inits <= keys:
            found.append((os.path.basename(folder), os.path.basename(path)))
    return found


EXAMPLES = _discover()


def compare_example(folder: str, model: str, samples: int = SAMPLES) -> dict:
    """Worst max-abs and relative error of qcc vs onnxruntime over ``samples`` test samples."""
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import Interpreter

    path = os.path.join(ROOT, "examples", folder, model)
    with np.load(os.path.join(ROOT, "examples", folder, "test.npz"), allow_pickle=False) as z:
        data = {k: z[k][:samples] for k in z.files}
    shapes = {k: (1,) + v.shape[1:] for k, v in data.items()}
    it = Interpreter(import_model(path, shapes))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    worst = {"max_abs": 0.0, "max_rel": 0.0}
    for i in range(samples):
        feeds = {k: v[i:i + 1] for k, v in data.items()}
        ref = dict(zip(names, sess.run(None, feeds)))
        got = it.run(feeds)
        for k, r in ref.items():
            g = np.asarray(got[k], np.float64)
            assert g.shape == r.shape, (k, g.shape, r.shape)
            d = float(np.max(np.abs(g - r)))
            worst["max_abs"] = max(worst["max_abs"], d)
            worst["max_rel"] = max(worst["max_rel"], d / max(float(np.max(np.abs(r))), 1e-30))
    return worst


def test_the_examples_are_found():
    assert set(BASE) <= set(EXAMPLES), EXAMPLES


@pytest.mark.parametrize("folder,model", EXAMPLES)
def test_example_matches_onnxruntime(folder, model):
    r = compare_example(folder, model)
    assert r["max_rel"] <= 1e-5, r
