"""Bad inputs: one line ``qcc: error: ...`` naming the culprit, exit code 2, no
traceback, and no output left behind by a failed compile.

The bad inputs of the foundation issue (missing file, not ONNX, truncated protobuf,
unsupported ops, missing --input-shape, npz keys/shapes, calibration data) run the
real console script through subprocess; the further cases call ``qcc.cli.main``
in-process (same code path, same streams, no interpreter start-up) to keep the suite
fast.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

from qcc_testlib import (assert_error, assert_ok, conv_model, dynamic_hw_model, qcc, qcc_inproc,
                         two_unsupported_model)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("errs")
    onnx.save(conv_model(17), str(d / "conv.onnx"))
    onnx.save(dynamic_hw_model(), str(d / "dyn.onnx"))
    onnx.save(two_unsupported_model(), str(d / "unsup.onnx"))
    (d / "text.onnx").write_text("this is not a protobuf\n")
    (d / "empty.onnx").write_bytes(b"")
    blob = (d / "conv.onnx").read_bytes()
    (d / "trunc.onnx").write_bytes(blob[: len(blob) // 2])
    x = np.zeros((2, 3, 6, 6), np.float32)
    np.savez(d / "good.npz", x=x)
    np.savez(d / "wrongkey.npz", image=x)
    np.savez(d / "extrakey.npz", x=x, y=x)
    np.savez(d / "wrongshape.npz", x=np.zeros((2, 3, 6, 5), np.float32))
    np.savez(d / "pickled.npz", x=np.array([{"evil": 1}], dtype=object))
    (d / "notzip.npz").write_text("nope")
    return d


def _compile_fails(work, tmp_path, model, *extra, needles=(), capsys=None):
    """``capsys`` given: run in-process; otherwise the real script."""
    out = tmp_path / "out" / "build"  # even the missing parent must not be left behind
    args = ("compile", work / model, "-o", out, *extra)
    p = qcc_inproc(capsys, *args) if capsys is not None else qcc(*args)
    line = assert_error(p, *needles)
    assert not (tmp_path / "out").exists(), os.listdir(tmp_path / "out")
    assert os.listdir(tmp_path) == []  # no temporary folder either
    return line


# ------------------------------------------------------------------------ model files
def test_missing_model_file(work, tmp_path):
    _compile_fails(work, tmp_path, "nope.onnx", needles=("nope.onnx", "does not exist"))


def test_not_an_onnx_file(work):
    assert_error(qcc("inspect", work / "text.onnx"), "text.onnx", "not a valid ONNX model")


def test_empty_file(work, tmp_path, capsys):
    _compile_fails(work, tmp_path, "empty.onnx", needles=("empty.onnx",), capsys=capsys)


def test_truncated_protobuf(work, tmp_path):
    _compile_fails(work, tmp_path, "trunc.onnx", needles=("trunc.onnx",))


def test_truncated_protobuf_run(work, tmp_path, capsys):
    assert_error(qcc_inproc(capsys, "run", work / "trunc.onnx", "--inputs", work / "good.npz",
                     "-o", tmp_path / "o.npz"), "trunc.onnx")
    assert not (tmp_path / "o.npz").exists()


def test_unsupported_ops_reported_together(work, tmp_path):
    line = _compile_fails(work, tmp_path, "unsup.onnx")
    assert "2 unsupported ops" in line
    assert "NonMaxSuppression (node 'nms_1', opset 17)" in line
    assert "com.example::FancyOp (node 'fancy_2', opset 3)" in line


def test_inspect_lists_unsupported_ops_without_failing(work):
    p = qcc("inspect", work / "unsup.onnx")
    assert_ok(p)
    assert "unsupported ops (2):" in p.stdout
    assert "NonMaxSuppression  node 'nms_1'  opset 17" in p.stdout


# ------------------------------------------------------------------------ input shapes
def test_missing_input_shape(work, tmp_path):
    line = _compile_fails(work, tmp_path, "dyn.onnx", needles=("'x'", "--input-shape"))
    assert "'H'" in line  # the dimension at fault


def test_missing_input_shape_run(work, tmp_path, capsys):
    """``qcc run`` binds open dimensions from the data; with no array for the input
    (here the npz names 'image') it asks for --input-shape."""
    assert_error(qcc_inproc(capsys, "run", work / "dyn.onnx", "--inputs", work / "wrongkey.npz",
                     "-o", tmp_path / "o.npz"), "'x'", "--input-shape", "no array 'x'", "['image']")


def test_input_shape_wrong_rank(work, tmp_path, capsys):
    _compile_fails(work, tmp_path, "dyn.onnx", "--input-shape", "x=1x3x8",
                   needles=("--input-shape x", "rank 3"), capsys=capsys)


def test_input_shape_unknown_name(work, tmp_path, capsys):
    _compile_fails(work, tmp_path, "dyn.onnx", "--input-shape", "image=1x3x8x8",
                   needles=("image", "'x'"), capsys=capsys)


def test_input_shape_bad_syntax(work, tmp_path, capsys):
    _compile_fails(work, tmp_path, "dyn.onnx", "--input-shape", "x=1x3xHx8",
                   needles=("x=1x3xHx8",), capsys=capsys)


def test_input_shape_contradicts_fixed_dim(work, tmp_path, capsys):
    _compile_fails(work, tmp_path, "dyn.onnx", "--input-shape", "x=1x4x8x8",
                   needles=("--input-shape x", "dimension 1"), capsys=capsys)


# ------------------------------------------------------------------------------ .npz
@pytest.mark.parametrize("npz,needles,script", [
    ("wrongkey.npz", ("missing", "'x'", "image"), True),
    ("wrongshape.npz", ("'x'", "[2, 3, 6, 5]", "[1, 3, 6, 6]"), True),
    ("extrakey.npz", ("'y'", "match no model input"), False),
    ("pickled.npz", ("pickled.npz",), False),
    ("notzip.npz", ("notzip.npz",), False),
    ("absent.npz", ("absent.npz", "does not exist"), False),
])
def test_bad_npz_for_model(work, tmp_path, capsys, npz, needles, script):
    out = tmp_path / "o.npz"
    args = ("run", work / "conv.onnx", "--inputs", work / npz, "-o", out)
    assert_error(qcc(*args) if script else qcc_inproc(capsys, *args), *needles)
    assert os.listdir(tmp_path) == []


def test_bad_npz_for_compiled_folder(work, tmp_path, capsys):
    d = tmp_path / "build"
    assert_ok(qcc_inproc(capsys, "compile", work / "conv.onnx", "-o", d))
    assert_error(qcc_inproc(capsys, "run", d, "--inputs", work / "wrongshape.npz", "-o", tmp_path / "o.npz"),
                 "'x'", "[2, 3, 6, 5]")
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("npz,needles", [
    ("wrongkey.npz", ("calibration", "missing", "'x'", "image")),
    ("wrongshape.npz", ("calibration", "'x'", "[2, 3, 6, 5]")),
    ("absent.npz", ("--calib", "absent.npz", "does not exist")),
])
def test_bad_calibration_data(work, tmp_path, npz, needles):
    """Calibration inputs that do not match the model inputs: the real script, no output."""
    _compile_fails(work, tmp_path, "conv.onnx", "--calib", work / npz, "--quiet",
                   needles=needles)


# --------------------------------------------------------------------- output folders
def test_run_folder_that_is_not_qcc_output(tmp_path, work, capsys):
    (tmp_path / "empty").mkdir()
    assert_error(qcc_inproc(capsys, "run", tmp_path / "empty", "--inputs", work / "good.npz",
                     "-o", tmp_path / "o.npz"), "manifest.json")


def test_compile_refuses_foreign_nonempty_folder(work, tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    assert_error(qcc_inproc(capsys, "compile", work / "conv.onnx", "-o", d), "mine", "not empty")
    assert os.listdir(d) == ["notes.txt"] and os.listdir(tmp_path) == ["mine"]


def test_unknown_target(work, tmp_path, capsys):
    _compile_fails(work, tmp_path, "conv.onnx", "--target", "fpga", needles=("fpga",),
                   capsys=capsys)


def test_debug_shows_traceback(work, capsys):
    p = qcc_inproc(capsys, "--debug", "inspect", work / "text.onnx")
    assert p.returncode == 2
    assert "Traceback" in p.stderr and "qcc: error:" in p.stderr


# ----------------------------------------------------------------------- external data
def _external_model(folder, location):
    """A MatMul whose weight lives in external data at ``location``."""
    from qcc_testlib import f32_input, make_model
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, 8), np.float32), "weight")
    m = make_model([helper.make_node("MatMul", ["x", "weight"], ["y"], name="mm")],
                   [f32_input("x", [1, 8])], [f32_input("y", [1, 8])], [w])
    os.makedirs(folder, exist_ok=True)
    onnx.save(m, str(folder / "m.onnx"), save_as_external_data=True, location="m.bin",
              size_threshold=0)
    m = onnx.load(str(folder / "m.onnx"), load_external_data=False)
    for e in m.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = location
    onnx.save(m, str(folder / "m.onnx"))
    return folder / "m.onnx"


@pytest.mark.parametrize("kind", ["parent", "absolute"])
def test_external_data_outside_model_folder(tmp_path, capsys, kind):
    inner = tmp_path / "models"
    loc = "../m.bin" if kind == "parent" else str(inner / "m.bin")
    path = _external_model(inner, loc)
    (tmp_path / "m.bin").write_bytes((inner / "m.bin").read_bytes())
    out = tmp_path / "build"
    args = ("compile", path, "-o", out)
    p = qcc(*args) if kind == "parent" else qcc_inproc(capsys, *args)
    assert_error(p, "'weight'", loc, "outside the model's folder")
    assert not out.exists()
