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
