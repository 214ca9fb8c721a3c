"""Hostile data files and flags (issue 18): declared array sizes checked before loading,
only the rows ``--max-calib-samples`` needs are read, ``.npy`` accepted for one-input
models, flag values that match nothing refused with one line."""

from __future__ import annotations

import io
import os
import time
import zipfile

import numpy as np
import onnx
import pytest
from onnx import helper

from qcc_testlib import (assert_error, assert_ok, conv_model, f32_input, make_model, qcc,
                         qcc_inproc)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    onnx.save(conv_model(17), str(d / "conv.onnx"))
    x = np.random.default_rng(0).standard_normal((6, 3, 6, 6)).astype(np.float32)
    np.savez(d / "calib.npz", x=x)
    np.save(d / "calib.npy", x)
    two = make_model([helper.make_node("Add", ["a", "b"], ["y"], name="add")],
                     [f32_input("a", [1, 4]), f32_input("b", [1, 4])], [f32_input("y", [1, 4])])
    onnx.save(two, str(d / "two.onnx"))
    return d


def _declaring(path, shape, dtype="<f4", payload=b""):
    """An .npz whose one member declares ``shape`` but holds only ``payload``."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": dtype, "fortran_order": False,
                                                "shape": tuple(shape)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", head.getvalue() + payload)  # the header carries the magic
    return path


def test_npz_declaring_gigabytes_is_refused_at_once(work, tmp_path):
    bomb = _declaring(tmp_path / "bomb.npz", (1 << 29, 3, 6, 6))
    t0 = time.perf_counter()
    p = qcc("compile", work / "conv.onnx", "--calib", bomb, "-o", tmp_path / "out")
    assert_error(p, "bomb.npz", "declares", "QCC_MAX_INPUT_BYTES")
    assert time.perf_counter() - t0 < 60
    assert not (tmp_path / "out").exists()


def test_max_calib_samples_reads_only_its_rows(work, tmp_path, capsys, monkeypatch):
    """20000 samples over the (lowered) limit: refused whole, fine with 4 samples."""
    big = np.zeros((20000, 3, 6, 6), np.float32)
    big[:4] = np.load(work / "calib.npy")[:4]
    np.savez_compressed(tmp_path / "big.npz", x=big)
    monkeypatch.setenv("QCC_MAX_INPUT_BYTES", str(1 << 20))
    args = ("compile", work / "conv.onnx", "--calib", tmp_path / "big.npz", "--target", "c")
    assert_error(qcc_inproc(capsys, *args, "-o", tmp_path / "a"), "big.npz", "declares")
    assert qcc_inproc(capsys, *args, "-o", tmp_path / "b", "--max-calib-samples", "4").returncode == 0
    np.savez(tmp_path / "four.npz", x=big[:4])
    monkeypatch.delenv("QCC_MAX_INPUT_BYTES")
    args = ("compile", work / "conv.onnx", "--calib", tmp_path / "four.npz", "--target", "c")
    assert qcc_inproc(capsys, *args, "-o", tmp_path / "c").returncode == 0
    for f in ("model_weights.c", "manifest.json"):  # the same 4 samples, the same output
        assert (tmp_path / "b" / f).read_bytes() == (tmp_path / "c" / f).read_bytes()


def test_truncated_member_is_named(work, tmp_path, capsys):
    short = _declaring(tmp_path / "short.npz", (6, 3, 6, 6), payload=b"\0" * 100)
    assert_error(qcc_inproc(capsys, "compile", work / "conv.onnx", "--calib", short, "-o",
                            tmp_path / "o"), "short.npz", "truncated")


def test_npy_for_calib_and_inputs(work, tmp_path):
    """A one-input model takes an .npy wherever it takes an .npz, with the same result."""
    for ext in ("npz", "npy"):
        assert_ok(qcc("compile", work / "conv.onnx", "--calib", work / f"calib.{ext}",
                      "-o", tmp_path / ext))
        assert_ok(qcc("run", tmp_path / ext, "--inputs", work / f"calib.{ext}",
                      "-o", tmp_path / f"{ext}_out.npz"))
    assert (tmp_path / "npz" / "model.onnx").read_bytes() == \
        (tmp_path / "npy" / "model.onnx").read_bytes()
    a, b = np.load(tmp_path / "npz_out.npz"), np.load(tmp_path / "npy_out.npz")
    assert np.array_equal(a["y"], b["y"])


def test_npy_for_a_two_input_model(work, tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.zeros((2, 4), np.float32))
    assert_error(qcc_inproc(capsys, "run", work / "two.onnx", "--inputs", tmp_path / "one.npy",
                            "-o", tmp_path / "o.npz"), ".npy", "2 inputs", "['a', 'b']")
    assert_error(qcc_inproc(capsys, "compile", work / "two.onnx", "--calib", tmp_path / "one.npy",
                            "-o", tmp_path / "o"), ".npy", "2 inputs")
    assert sorted(os.listdir(tmp_path)) == ["one.npy"]


def test_run_output_is_a_folder(work, tmp_path, capsys):
    (tmp_path / "dir.npz").mkdir()
    assert_error(qcc_inproc(capsys, "run", work / "conv.onnx", "--inputs", work / "calib.npz",
                            "-o", tmp_path / "dir.npz"), "dir.npz")


@pytest.mark.parametrize("flags,needles", [
    (["--percentile", "0"], ["--percentile", "(0, 100]"]),
    (["--percentile", "100.5"], ["--percentile"]),
    (["--max-calib-samples", "0"], ["--max-calib-samples"]),
    (["--allow-float", "NotAnOp"], ["--allow-float 'NotAnOp'"]),
    (["--keep-8bit", "no_such_layer*"], ["--keep-8bit 'no_such_layer*'"]),
])
def test_flags_that_match_nothing(work, tmp_path, capsys, flags, needles):
    p = qcc_inproc(capsys, "compile", work / "conv.onnx", "--calib", work / "calib.npz",
                   "-o", tmp_path / "o", *flags)
    assert_error(p, *needles)
    assert os.listdir(tmp_path) == []


def test_flags_that_match_something_are_kept(work, tmp_path, capsys):
    p = qcc_inproc(capsys, "compile", work / "conv.onnx", "--calib", work / "calib.npz",
                   "-o", tmp_path / "o", "--allow-float", "Softmax,relu", "--weight-bits", "4",
                   "--keep-8bit", "con*")
    assert p.returncode == 0, p.stderr


def _conv_bn(var: float):
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")]
    for name, v in (("sc", 1.0), ("bb", 0.0), ("mu", 0.0), ("var", var)):
        inits.append(numpy_helper.from_array(np.full(4, v, np.float32), name))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="myconv"),
             helper.make_node("BatchNormalization", ["c", "sc", "bb", "mu", "var"], ["y"],
                              name="mybn", epsilon=0.0)]
    return make_model(nodes, [f32_input("x", [1, 3, 6, 6])], [f32_input("y", [1, 4, 4, 4])], inits)


def test_fused_conv_keeps_the_conv_name(work, tmp_path, capsys):
    """Conv + BatchNormalization fold into one layer reported under the Conv's name; a
    fold that makes the weights infinite names the folded weight of that Conv."""
    onnx.save(_conv_bn(1.0), str(tmp_path / "ok.onnx"))
    np.savez(tmp_path / "c.npz", x=np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32))
    assert qcc_inproc(capsys, "compile", tmp_path / "ok.onnx", "--calib", tmp_path / "c.npz",
                      "-o", tmp_path / "o").returncode == 0
    import json

    layers = json.loads((tmp_path / "o" / "manifest.json").read_text())["passes"]["quantize"]["layers"]
    assert [r["node"] for r in layers] == ["myconv"]
    onnx.save(_conv_bn(0.0), str(tmp_path / "inf.onnx"))
    assert_error(qcc_inproc(capsys, "compile", tmp_path / "inf.onnx", "--calib", tmp_path / "c.npz",
                            "-o", tmp_path / "o2"), "'w.bnfold'", "Inf")


def test_nan_weight_and_zero_calibration(work, tmp_path, capsys):
    from onnx import numpy_helper

    m = conv_model(17)
    w = numpy_helper.to_array(m.graph.initializer[0]).copy()
    w[0, 0, 0, 0] = np.nan
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "w"))
    onnx.save(m, str(tmp_path / "nan.onnx"))
    p = qcc("compile", tmp_path / "nan.onnx", "--calib", work / "calib.npz", "-o", tmp_path / "o")
    assert_error(p, "weight 'w'", "NaN")
    assert "RuntimeWarning" not in p.stderr
    np.savez(tmp_path / "zero.npz", x=np.zeros((2, 3, 6, 6), np.float32))
    p = qcc("compile", work / "conv.onnx", "--calib", tmp_path / "zero.npz", "-o", tmp_path / "z")
    assert_ok(p)
    assert "calibration range of tensor 'x' is zero" in p.stderr
    assert_ok(qcc("run", tmp_path / "z", "--inputs", tmp_path / "zero.npz", "-o", tmp_path / "y.npz",
                  "--engine", "reference"))
    from qcc_testlib import ort_run

    want = ort_run(str(work / "conv.onnx"), {"x": np.zeros((1, 3, 6, 6), np.float32)})["y"]
    got = np.load(tmp_path / "y.npz")["y"][:1]
    assert np.abs(got - want).max() < 0.01  # like onnxruntime's quantize_static: it copes


def test_extreme_calibration_value_names_the_tensor(work, tmp_path, capsys):
    """3e38 in the calibration data: the rescale error names the tensor whose calibrated
    range is extreme, not only the node (warnings may precede the one error line)."""
    np.savez(tmp_path / "big.npz", x=np.full((2, 3, 6, 6), 3e38, np.float32))
    p = qcc_inproc(capsys, "compile", work / "conv.onnx", "--calib", tmp_path / "big.npz",
                   "-o", tmp_path / "o")
    assert p.returncode == 2
    lines = [x for x in p.stderr.splitlines() if not x.startswith("qcc: warning:")]
    assert len(lines) == 1 and lines[0].startswith("qcc: error: "), p.stderr
    assert "node 'conv'" in lines[0] and "tensor 'x' calibrated to [" in lines[0]
    assert "3e+38" in lines[0]
    assert not (tmp_path / "o").exists()
