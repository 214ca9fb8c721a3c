"""``qcc bench path/to/model.onnx``: a user's own model, with its data or seeded noise."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.usermodel import UserModelError, from_path


def _mlp(path, batch="N"):
    rng = np.random.default_rng(1)
    w1 = numpy_helper.from_array(rng.normal(0, 0.3, (16, 32)).astype(np.float32), "W1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (32, 10)).astype(np.float32), "W2")
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "W2"], ["y"])]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])], [w1, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def test_noise_inputs_fill_unknown_dims(tmp_path):
    m = from_path(_mlp(str(tmp_path / "mlp.onnx")))
    assert m.name == "mlp" and m.synthetic and m.kind == "encoder" and m.labels is None
    assert m.calib["x"].shape == (8, 16) and m.test["x"].shape == (4, 16)
    assert m.input_shapes == ["x=1x16"]
    assert 0 <= m.calib["x"].min() and m.calib["x"].max() < 1
    again = from_path(str(tmp_path / "mlp.onnx"))  # seeded: the same inputs every run
    assert np.array_equal(again.test["x"], m.test["x"])


def test_own_data_and_labels_are_used(tmp_path):
    p = _mlp(str(tmp_path / "mlp.onnx"))
    np.savez(tmp_path / "calib.npz", x=np.ones((3, 16), np.float32))
    np.savez(tmp_path / "test.npz", x=np.zeros((5, 16), np.float32))
    np.save(tmp_path / "test_labels.npy", np.arange(5) % 10)
    m = from_path(p)
    assert not m.synthetic and m.kind == "classifier" and len(m.labels) == 5
    assert m.calib["x"].shape == (3, 16) and m.test["x"].shape == (5, 16)


def test_data_missing_an_input_is_a_clear_error(tmp_path):
    p = _mlp(str(tmp_path / "mlp.onnx"))
    np.savez(tmp_path / "calib.npz", other=np.ones((3, 16), np.float32))
    np.savez(tmp_path / "test.npz", x=np.zeros((5, 16), np.float32))
    with pytest.raises(UserModelError, match="calib.npz' has no array for graph input.*'x'"):
        from_path(p)


def test_not_an_onnx_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(UserModelError, match="junk.onnx' is not a readable ONNX model"):
        from_path(str(bad))


def test_missing_path_exits_2_with_one_line(tmp_path):
    p = subprocess.run([shutil.which("qcc"), "bench", str(tmp_path / "none.onnx"), "--out",
                        str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip() == f"qcc: error: model file '{tmp_path / 'none.onnx'}' does not exist"


@pytest.mark.slow
def test_user_model_end_to_end(tmp_path):
    p = subprocess.run([shutil.which("qcc"), "bench", _mlp(str(tmp_path / "mlp.onnx")), "--quick",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads((tmp_path / "o" / "report.json").read_text())["models"][0]
    assert r["model"] == "mlp" and "mixed" not in r  # noise data: no mixed-precision sweep
    assert r["accuracy"]["qcc"]["sqnr_db"] > 25  # int8 of a 2-layer MLP
    assert r["memory"]["c_bit_exact"] is True
    assert r["latency"]["qcc_c"]["median_us"] > 0
