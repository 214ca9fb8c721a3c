"""Never-seen models (issue 12): DeBERTa-v2's disentangled attention multiplies the queries by
a constant per-head relative position key tensor ([B*H, d, 2k], not a [K, N] weight) and
masks the sum of the score terms, ``Softmax(Where(mask, float_min, c2c + c2p))``.  Both
stopped every target ('MatMul ... / Where ... cannot be lowered to integer arithmetic').
A constant MatMul operand of any rank is now int8 per tensor, and mask steps before a
Softmax whose input is not a scores MatMul become the integer softmax's mask."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model

SEQ, D = 6, 8


def _model(path: str):
    rng = np.random.default_rng(5)
    inits = {"wq": rng.standard_normal((D, D)).astype(np.float32) * 0.3,
             "wk": rng.standard_normal((D, D)).astype(np.float32) * 0.3,
             "wv": rng.standard_normal((D, D)).astype(np.float32) * 0.4,
             "pos": rng.standard_normal((1, D, SEQ)).astype(np.float32) * 0.5,  # rank-3 constant
             "fmin": np.array(np.finfo(np.float32).min, np.float32),
             "zero": np.array(0, np.int64), "ax": np.array([1], np.int64)}
    nodes = [helper.make_node("MatMul", ["x", w], [w[1]]) for w in ("wq", "wk", "wv")]
    nodes += [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
              helper.make_node("MatMul", ["q", "kt"], ["c2c"]),
              helper.make_node("MatMul", ["q", "pos"], ["c2p"]),
              helper.make_node("Add", ["c2c", "c2p"], ["s"]),
              helper.make_node("Unsqueeze", ["mask", "ax"], ["m3"]),
              helper.make_node("Equal", ["m3", "zero"], ["pad"]),
              helper.make_node("Where", ["pad", "fmin", "s"], ["sm"]),
              helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "v"], ["y"])]
    g = helper.make_graph(nodes, "deb", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, SEQ, D]),
                                         helper.make_tensor_value_info("mask", TensorProto.INT64, [1, SEQ])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)

    def feeds(n):
        mask = np.ones((n, SEQ), np.int64)
        mask[1::2, -2:] = 0
        return {"x": rng.standard_normal((n, SEQ, D)).astype(np.float32), "mask": mask}
    return feeds(16), feeds(4)


@pytest.mark.parametrize("target", ["c", "accel"])
def test_disentangled_attention(tmp_path, target):
    path = str(tmp_path / "deb.onnx")
    calib, test = _model(path)
    np.savez(tmp_path / "calib.npz", **calib)
    out = str(tmp_path / target)
    compile_model(path, CompileOptions(target=target, out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 20.0
