"""``--bind NAME=VALUE``: a run-time scalar input (an audio model's sample rate) fixed at
compile time, so that the ``If`` switching on it folds and is inlined (issue 12, silero_vad).

The model: ``x`` [1, 3, 8, 8] float and ``sr`` (int64 scalar); ``If(sr == 16000)`` takes
Conv -> Cast(float) -> Relu, else Conv -> Sigmoid, as sample-rate switches do."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import qcc as qcc_api
from qcc.frontend.onnx_import import import_model

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_error, assert_ok, ort_run, qcc, qcc_inproc  # noqa: E402

F = TensorProto.FLOAT


def _branch(name, acts, w):
    nodes = [helper.make_node("Conv", ["x", f"{name}_w"], [f"{name}_0"], pads=[1, 1, 1, 1])]
    for i, (op, kw) in enumerate(acts):
        nodes.append(helper.make_node(op, [f"{name}_{i}"], [f"{name}_{i + 1}"], **kw))
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(f"{name}_{len(acts)}", F, None)],
                             [numpy_helper.from_array(w, f"{name}_w")])


def rate_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1, w2 = (rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3 for _ in range(2))
    nodes = [helper.make_node("Equal", ["sr", "rate"], ["cond"]),
             helper.make_node("If", ["cond"], ["y"], name="rate_switch",
                              then_branch=_branch("then", [("Cast", {"to": F}), ("Relu", {})], w1),
                              else_branch=_branch("else", [("Sigmoid", {})], w2))]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [1, 3, 8, 8]),
                                       helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                          [helper.make_tensor_value_info("y", F, None)],
                          [numpy_helper.from_array(np.array(16000, np.int64), "rate")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _x(n, seed):
    return np.random.default_rng(seed).standard_normal((n, 3, 8, 8)).astype(np.float32)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "rate.onnx"
    onnx.save(rate_model(), path)
    np.savez(tmp_path / "calib.npz", x=_x(16, 1), sr=np.full(16, 16000, np.int64))
    np.savez(tmp_path / "test.npz", x=_x(3, 2), sr=np.full(3, 16000, np.int64))
    return path


@pytest.mark.parametrize("rate,taken", [(16000, "onnx.Relu"), (8000, "onnx.Sigmoid")])
def test_bound_input_folds_the_if_and_matches_onnxruntime(rate, taken):
    m = rate_model()
    g = import_model(m, {}, bind={"sr": str(rate)})
    assert [v.name for v in g.inputs] == ["x"]
    ops = [n.op for n in g.nodes]
    assert "onnx.If" not in ops and taken in ops and ops.count("onnx.Conv") == 1
    assert g.meta["bound_inputs"] == {"sr": {"dtype": "int64", "shape": [], "value": rate}}
    from qcc.interp import run

    x = _x(1, 3)
    want = ort_run(m, {"x": x, "sr": np.array(rate, np.int64)})["y"]
    np.testing.assert_allclose(run(g, {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


def test_unbound_if_suggests_bind(model, tmp_path, capsys):
    p = qcc_inproc(capsys, "compile", model, "--target", "onnx", "-o", tmp_path / "o")
    assert_error(p, "If node 'rate_switch'", "['sr']", "--bind sr=VALUE")
    assert "--bind x=" not in p.stderr  # x is data (192 values), not a setting
    assert not (tmp_path / "o").exists()


def test_bind_through_the_console_script_c_bit_exact(model, tmp_path, capsys):
    out = tmp_path / "c"
    p = qcc("compile", model, "--bind", "sr=16000", "--calib", tmp_path / "calib.npz", "--target", "c",
            "-o", out, "--quiet")
    assert_ok(p)
    assert "bound to constants" in p.stderr and "sr=16000" in p.stderr
    man = json.loads((out / "manifest.json").read_text())
    assert man["bound_inputs"] == {"sr": {"dtype": "int64", "shape": [], "value": 16000}}
    assert [v["name"] for v in man["inputs"]] == ["x"]
    for eng in ("target", "reference"):  # test.npz still holds sr: checked and dropped
        assert_ok(qcc_inproc(capsys, "run", out, "--inputs", tmp_path / "test.npz", "-o",
                             tmp_path / f"{eng}.npz", "--engine", eng))
    got, ref = np.load(tmp_path / "target.npz")["y"], np.load(tmp_path / "reference.npz")["y"]
    assert np.array_equal(got, ref)
    t = np.load(tmp_path / "test.npz")
    want = np.concatenate([ort_run(str(model), {"x": t["x"][i:i + 1], "sr": np.array(16000)})["y"]
                           for i in range(3)])
    err = ((got - want) ** 2).sum()
    assert 10 * np.log10((want ** 2).sum() / err) > 25


def test_data_with_another_value_is_refused(model, tmp_path, capsys):
    out = tmp_path / "o"
    assert_ok(qcc_inproc(capsys, "compile", model, "--bind", "sr=16000", "--calib", tmp_path / "calib.npz",
                         "--target", "onnx", "-o", out))
    np.savez(tmp_path / "bad.npz", x=_x(2, 5), sr=np.array([16000, 8000], np.int64))
    assert_error(qcc_inproc(capsys, "run", out, "--inputs", tmp_path / "bad.npz", "-o", tmp_path / "y.npz"),
                 "'sr' holds 8000", "--bind sr=16000")
    np.savez(tmp_path / "bad_calib.npz", x=_x(2, 5), sr=np.array([8000, 8000], np.int64))
    assert_error(qcc_inproc(capsys, "compile", model, "--bind", "sr=16000", "--calib", tmp_path / "bad_calib.npz",
                            "--target", "onnx", "-o", tmp_path / "o2"), "--calib", "'sr' holds 8000")
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("spec,needles", [
    ("rate=16000", ["--bind names ['rate']", "['sr', 'x']"]),
    ("sr=1.5", ["--bind sr", "int64", "not an integer"]),
    ("sr=abc", ["--bind sr=abc", "not a number"]),
    ("sr=[16000,8000]", ["--bind sr", "shape [2]", "shape []"]),
    ("sr", ["bad --bind 'sr'", "NAME=VALUE"]),
    ("sr=1e30", ["--bind sr", "out of the range of int64"]),
    ("sr=[1,", ["--bind sr=[1,", "JSON"]),
])
def test_bad_bind_is_one_clear_line(model, tmp_path, capsys, spec, needles):
    p = qcc_inproc(capsys, "compile", model, "--bind", spec, "--target", "onnx", "-o", tmp_path / "o")
    assert_error(p, *needles)
    assert not (tmp_path / "o").exists()


def test_bind_in_the_python_api(model, tmp_path):
    calib = dict(np.load(tmp_path / "calib.npz"))
    art = qcc_api.compile(str(model), calib={"x": calib["x"]}, target="onnx", out_dir=tmp_path / "o",
                          bind={"sr": 8000})
    assert art.manifest["bound_inputs"]["sr"]["value"] == 8000
    g = qcc_api.quantize(str(model), {"x": calib["x"]}, bind={"sr": np.int64(8000)})
    assert [v.name for v in g.inputs] == ["x"] and "onnx.If" not in {n.op for n in g.nodes}
    from qcc.driver import CompileOptions

    assert CompileOptions().bind == {}
    with pytest.raises(qcc_api.QccError, match="not an integer"):
        qcc_api.compile(str(model), target="onnx", out_dir=tmp_path / "o2", bind={"sr": 0.5})


def test_small_tensor_bind_fills_a_fixed_shape():
    """A list binds a tensor input; a value of the right size fills a fully fixed shape."""
    x = helper.make_tensor_value_info("x", F, [1, 4])
    gain = helper.make_tensor_value_info("gain", F, [1, 4])
    g = helper.make_graph([helper.make_node("Mul", ["x", "gain"], ["y"])], "g", [x, gain],
                          [helper.make_tensor_value_info("y", F, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    for value in ("[0.5,1,2,4]", "[[0.5,1,2,4]]", [0.5, 1, 2, 4]):
        gr = import_model(m, {}, bind={"gain": value})
        assert [v.name for v in gr.inputs] == ["x"]
        assert gr.meta["bound_inputs"]["gain"]["shape"] == [1, 4]


ZOO = os.path.expanduser(os.environ.get("QCC_ZOO", "~/.cache/qcc-zoo"))
SILERO = os.path.join(ZOO, "silero_vad")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isfile(os.path.join(SILERO, "model.onnx")),
                    reason=f"silero_vad not in {ZOO}: run tests/models/zoo/fetch.py in its builder venv")
def test_silero_vad_compiles_with_bind_c_bit_exact_and_tracks_onnxruntime(tmp_path):
    """The zoo's silero_vad (an If on the sample rate, an LSTM): with its meta.json's --bind,
    C equals the reference bit for bit, and the next-state output's SQNR is within 1 dB of
    onnxruntime's static int8 (MinMax) on the same calibration data."""
    from qcc.bench.accuracy import bench_model
    from qcc.bench.models import BenchModel

    meta = json.load(open(os.path.join(SILERO, "meta.json")))
    assert meta.get("bind"), "fetch.py gives silero_vad a bind"
    args = [a for s in meta["input_shapes"] for a in ("--input-shape", s)]
    args += [a for k, v in meta["bind"].items() for a in ("--bind", f"{k}={v}")]
    out = tmp_path / "c"
    assert_ok(qcc("compile", os.path.join(SILERO, "model.onnx"), *args, "--calib", os.path.join(SILERO, "calib.npz"),
                  "--target", "c", "-o", out, "--quiet", timeout=600))
    test = os.path.join(SILERO, "test.npz")
    for eng in ("target", "reference"):
        assert_ok(qcc("run", out, "--inputs", test, "-o", tmp_path / f"{eng}.npz", "--engine", eng))
    got, ref = np.load(tmp_path / "target.npz"), np.load(tmp_path / "reference.npz")
    assert all(np.array_equal(got[k], ref[k]) for k in ref)
    load = lambda p: dict(np.load(p))  # noqa: E731
    m = BenchModel("silero_vad", os.path.join(SILERO, "model.onnx"), load(os.path.join(SILERO, "calib.npz")),
                   load(test), input_shapes=meta["input_shapes"], kind="encoder", bind=meta["bind"], output="stateN")
    (tmp_path / "bench").mkdir()
    row = bench_model(m, str(tmp_path / "bench"), methods=("minmax",))
    assert row["qcc"]["sqnr_db"] >= row["ort_minmax"]["sqnr_db"] - 1.0, row
