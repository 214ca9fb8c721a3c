"""Report 6 of issue 12: a detection head that concatenates box coordinates (hundreds of
pixels) and class probabilities ([0, 1]) into one output tensor.  With one int8 scale
the probabilities round to 0 or one 1.25-pixel step (onnxruntime's static int8 does
exactly that); qcc gives such a Concat an int16 output (passes/quantize/rules_concat.py).
Scored per part of the output against float onnxruntime, next to onnxruntime's
``quantize_static`` and qcc with the remedy turned off (``--wide-concat 0``)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs, ort_quantize
from qcc.bench.metrics import sqnr_db
from qcc.bench.models import BenchModel
from qcc.commands import run_artifact

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import qcc, qcc_inproc  # noqa: E402

NCLS = 6


def _level(pfx: str, x: str, rng, nodes: list, inits: dict) -> str:
    """One head level: boxes sigmoid * 320 px (4 rows), class probabilities (NCLS rows),
    concatenated on channels and flattened to [1, 4 + NCLS, H*W]."""
    inits[pfx + "wb"] = (rng.standard_normal((4, 8, 1, 1)) * 0.5).astype(np.float32)
    inits[pfx + "wc"] = (rng.standard_normal((NCLS, 8, 1, 1)) * 0.5).astype(np.float32)
    inits[pfx + "bc"] = np.linspace(-3, 1, NCLS).astype(np.float32)
    nodes += [helper.make_node("Conv", [x, pfx + "wb"], [pfx + "b"]),
              helper.make_node("Sigmoid", [pfx + "b"], [pfx + "bs"]),
              helper.make_node("Mul", [pfx + "bs", "pix"], [pfx + "box"]),
              helper.make_node("Conv", [x, pfx + "wc", pfx + "bc"], [pfx + "c"]),
              helper.make_node("Sigmoid", [pfx + "c"], [pfx + "cls"]),
              helper.make_node("Concat", [pfx + "box", pfx + "cls"], [pfx + "cat"], axis=1),
              helper.make_node("Reshape", [pfx + "cat", "flat"], [pfx + "flat"])]
    return pfx + "flat"


def yolo_head(path: str, style: str, seed: int = 0):
    """``direct``: the Concat is the graph output (YOLOv8); ``transpose``: Transpose to
    [1, anchors, 4 + NCLS] after it; ``levels``: two levels concatenated along the
    anchors, then transposed (YOLOX); ``feeds_conv``: the Concat feeds a 1x1 conv (it
    must stay int8)."""
    rng = np.random.default_rng(seed)
    inits = {"w0": (rng.standard_normal((8, 3, 3, 3)) * 0.4).astype(np.float32),
             "pix": np.array(320.0, np.float32), "flat": np.array([1, 4 + NCLS, -1], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "w0"], ["f"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["f"], ["r"])]
    a = _level("a_", "r", rng, nodes, inits)
    if style == "levels":
        inits["w1"] = (rng.standard_normal((8, 8, 3, 3)) * 0.3).astype(np.float32)
        nodes += [helper.make_node("Conv", ["r", "w1"], ["f1"], pads=[1, 1, 1, 1], strides=[2, 2]),
                  helper.make_node("Relu", ["f1"], ["r1"])]
        b = _level("b_", "r1", rng, nodes, inits)
        nodes += [helper.make_node("Concat", [a, b], ["all"], axis=2),
                  helper.make_node("Transpose", ["all"], ["y"], perm=[0, 2, 1])]
    elif style == "transpose":
        nodes.append(helper.make_node("Transpose", [a], ["y"], perm=[0, 2, 1]))
    elif style == "feeds_conv":
        inits["w2"] = (rng.standard_normal((3, 4 + NCLS, 1, 1)) * 0.3).astype(np.float32)
        nodes.append(helper.make_node("Conv", ["a_cat", "w2"], ["y"]))
        nodes = [n for n in nodes if n.op_type != "Reshape"]
    else:
        nodes[-1] = helper.make_node("Concat", ["a_box", "a_cls"], ["y"], axis=1)
        nodes = [n for n in nodes if n.output[0] != "a_cat"]
    g = helper.make_graph(nodes, "yolo_head",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return ({"x": rng.standard_normal((24, 3, 12, 12)).astype(np.float32)},
            {"x": rng.standard_normal((4, 3, 12, 12)).astype(np.float32)})


def _parts(y: np.ndarray, style: str):
    """(box part, probability part) of the output."""
    ax = 1 if style == "direct" else -1
    idx = np.arange(y.shape[ax]) % (4 + NCLS) if style == "direct" else np.arange(y.shape[ax])
    return np.take(y, np.flatnonzero(idx < 4), axis=ax), np.take(y, np.flatnonzero(idx >= 4), axis=ax)


def _compile(tmp_path, path, target, *extra, capsys=None):
    """``qcc compile`` through the console script, or in this process with ``capsys`` (where
    the test reads no log of it): (folder, stderr, manifest)."""
    out = tmp_path / f"{target}{'_'.join(extra).replace('-', '')}"
    args = ("compile", path, "--calib", tmp_path / "calib.npz", "--target", target, "-o", out, *extra)
    p = qcc_inproc(capsys, *args) if capsys is not None else qcc(*args)
    assert p.returncode == 0, p.stderr
    return str(out), p.stderr, json.load(open(out / "manifest.json"))


# "direct" (the concat of the two heads as they come) is the plainest form: its path is
# part of "transpose" and "levels", which stay in the fast suite
@pytest.mark.parametrize("style", [pytest.param("direct", marks=pytest.mark.slow), "transpose", "levels"])
def test_box_and_probability_concat_keeps_the_probabilities(style, tmp_path, capsys):
    path = str(tmp_path / "head.onnx")
    calib, test = yolo_head(path, style)
    np.savez(tmp_path / "calib.npz", **calib)
    ref = ort_outputs(path, test)
    out, log, man = _compile(tmp_path, path, "c")
    wide = man["passes"]["quantize"]["wide_concats"]
    assert wide and all(w["bits"] == 16 for w in wide), wide
    assert "int16 output" in log and wide[0]["node"] in log
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])  # C bit-exact with the interpreter
    off, _, man0 = _compile(tmp_path, path, "c", "--wide-concat", "0", capsys=capsys)
    assert man0["passes"]["quantize"]["wide_concats"] == []
    narrow = run_artifact(off, test, "reference")["y"]
    ort_q = str(tmp_path / "ort.onnx")
    ort_quantize(BenchModel("head", path, calib, test), "minmax", ort_q)
    ort_y = ort_outputs(ort_q, test, basic=True)
    (rb, rc), (wb, wc), (nb, nc), (ob, oc) = (_parts(y, style) for y in (ref, want["y"], narrow, ort_y))
    assert sqnr_db(rc, wc) >= 30.0 and sqnr_db(rc, wc) >= sqnr_db(rc, oc) + 20.0
    assert sqnr_db(rc, nc) < 15.0  # the failure it fixes: one int8 scale for both parts
    assert sqnr_db(rb, wb) >= sqnr_db(rb, nb) - 0.1  # the boxes lose nothing


def test_concat_feeding_arithmetic_stays_int8(tmp_path):
    path = str(tmp_path / "head.onnx")
    calib, _ = yolo_head(path, "feeds_conv")
    np.savez(tmp_path / "calib.npz", **calib)
    _, log, man = _compile(tmp_path, path, "c")
    assert man["passes"]["quantize"]["wide_concats"] == [] and "int16 output" not in log


@pytest.mark.parametrize("target", ["onnx", "triton", "accel"])
def test_wide_concat_on_every_backend(target, tmp_path, capsys):
    """The QDQ export (int16 Q/DQ: com.microsoft below opset 21), the Triton backend
    (interpreter on the CPU) and the accelerator (int16 concat calls) give
    the reference interpreter's output exactly."""
    if target == "triton":
        pytest.importorskip("triton")
    path = str(tmp_path / "head.onnx")
    calib, test = yolo_head(path, "levels")
    np.savez(tmp_path / "calib.npz", **calib)
    out, _, man = _compile(tmp_path, path, target, capsys=capsys)
    assert man["passes"]["quantize"]["wide_concats"]
    sub = {k: v[:1] for k, v in test.items()}
    got, want = run_artifact(out, sub, "target"), run_artifact(out, sub, "reference")
    assert np.array_equal(got["y"], want["y"])
