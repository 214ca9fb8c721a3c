"""bench/corpus_triton.py: the Triton target over a corpus folder, under the interpreter.
A fast smoke run on a tiny corpus-like folder made here (bit-exact row, kernel count, the
table and JSON), a broken model as one clear row, a timeout as one row, and the comparison."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.bench.test_bench_corpus_speed import corpus_folder

pytest.importorskip("triton")


def _bench(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "qcc.bench.corpus_triton", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_smoke_on_a_tiny_corpus_folder(tmp_path):
    zoo = tmp_path / "zoo"
    corpus_folder(zoo)
    broken = zoo / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not an onnx model")
    for f in ("calib.npz", "test.npz"):
        (broken / f).write_bytes((zoo / "tiny_cnn" / f).read_bytes())
    (broken / "meta.json").write_text(json.dumps({"name": "broken", "input_shapes": []}))
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    p = _bench("--zoo", str(zoo), "--timeout", "240", "--json", str(js), "--md", str(md))
    assert p.returncode == 0, p.stderr
    res = json.loads(js.read_text())
    rows = {r["model"]: r for r in res["rows"]}
    ok = rows["tiny_cnn"]
    # conv, depthwise, 1x1 conv, global pool, gemm at least one launch each; both samples
    assert ok["status"] == "bit-exact" and ok["samples"] == 2 and ok["kernels"] >= 5, ok
    assert ok["host_fallbacks"] == 0 and len(ok["run_s"]) == 2 and ok["compile_s"] >= 0
    bad = rows["broken"]
    assert bad["status"] in ("error", "unsupported") and bad["error"].startswith("compile: ")
    assert "\n" not in bad["error"] and "Traceback" not in bad["error"]
    assert res["summary"]["bit-exact"] == 1 and sum(res["summary"].values()) == 2
    text = md.read_text()
    assert text.startswith("1 of 2 corpus models bit-exact") and "| tiny_cnn | bit-exact |" in text
    assert "| broken |" in text and text == p.stdout


def test_timeout_is_one_row(tmp_path):
    corpus_folder(tmp_path)
    p = _bench("--zoo", str(tmp_path), "--timeout", "0.01")
    assert p.returncode == 0, p.stderr
    assert "| tiny_cnn | timeout |" in p.stdout and "timed out after 0 s" in p.stdout


def test_compare_names_the_difference():
    from qcc.bench.corpus_triton import _compare

    a = {"y": np.array([[1, 2, 3]], np.int8)}
    assert _compare(a, {"y": a["y"].copy()}) == ""
    assert "1 of 3 elements differ (largest difference 4)" in _compare(a, {"y": np.array([[1, 6, 3]], np.int8)})
    assert "int16" in _compare(a, {"y": a["y"].astype(np.int16)})
    assert "reference" in _compare(a, {"z": a["y"]})


def test_a_sample_is_the_leading_dimension_of_the_input(tmp_path):
    """An input declared [2, 3] (a state with its own leading dimension, as in Silero VAD)
    takes two rows per sample; a key that is no input of the compiled graph (an input bound
    at compile time, e.g. a sample rate) is not fed."""
    import onnx
    from onnx import TensorProto, helper

    from qcc.bench.corpus_triton import _samples
    from qcc.driver import CompileOptions, compile_model

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "m",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "m.onnx"))
    compile_model(str(tmp_path / "m.onnx"), CompileOptions(target="onnx", out_dir=str(tmp_path / "o"),
                                                           options={"quiet": True}))
    x = np.arange(18, dtype=np.float32).reshape(6, 3)
    np.savez(tmp_path / "t.npz", x=x, sr=np.array([16000]))
    got = _samples(str(tmp_path / "o"), str(tmp_path / "t.npz"), 2)
    assert len(got) == 2 and list(got[0]) == ["x"]
    assert np.array_equal(got[0]["x"], x[:2]) and np.array_equal(got[1]["x"], x[2:4])


def test_compile_options_from_the_command_line():
    from qcc.bench.corpus_triton import _options
    from qcc.errors import QccError

    assert _options(["weight_bits=4", "group_size=32", "calib_method=mse"]) == \
        {"weight_bits": 4, "group_size": 32, "calib_method": "mse"}
    assert _options(None) == {}
    for bad in (["no_such_option=1"], ["weight_bits"], ["calib_method=median"]):
        with pytest.raises(QccError):
            _options(bad)
