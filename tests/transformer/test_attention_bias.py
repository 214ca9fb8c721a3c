"""Never-seen models (issue 12): T5's encoder adds to the attention scores a relative
position bias with the padding mask folded in, ``Where(mask, bias_constant, float_min)``.
That stopped every integer target ('onnx.Where node ... of dtype float32; the logic kernel
takes int8/...').  The bias is now added to the int32 scores at their own scale and the
condition becomes the integer softmax's mask; a plain constant bias (Swin, BEiT) takes the
same path.  The target is bit-exact with the reference and close to float onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model

SEQ, D, H = 6, 8, 2


def _model(path: str, masked: bool):
    rng = np.random.default_rng(3)
    inits = {"wq": rng.standard_normal((D, D)).astype(np.float32) * 0.3,
             "wk": rng.standard_normal((D, D)).astype(np.float32) * 0.3,
             "wv": rng.standard_normal((D, D)).astype(np.float32) * 0.4,
             "shape": np.array([1, SEQ, H, D // H], np.int64),
             "bias": rng.standard_normal((1, H, SEQ, SEQ)).astype(np.float32) * 2.0,
             "fmin": np.array(np.finfo(np.float32).min, np.float32),
             "zero": np.array(0, np.int64), "ax": np.array([1, 2], np.int64)}
    nodes = [helper.make_node("MatMul", ["x", w], [w[1]]) for w in ("wq", "wk", "wv")]
    for t in "qkv":
        nodes += [helper.make_node("Reshape", [t, "shape"], [t + "r"]),
                  helper.make_node("Transpose", [t + "r"], [t + "h"],
                                   perm=[0, 2, 3, 1] if t == "k" else [0, 2, 1, 3])]
    nodes.append(helper.make_node("MatMul", ["qh", "kh"], ["s"]))
    if masked:
        nodes += [helper.make_node("Unsqueeze", ["mask", "ax"], ["m4"]),
                  helper.make_node("Greater", ["m4", "zero"], ["keep"]),
                  helper.make_node("Where", ["keep", "bias", "fmin"], ["pb"]),
                  helper.make_node("Add", ["s", "pb"], ["sb"])]
    else:
        nodes.append(helper.make_node("Add", ["s", "bias"], ["sb"]))
    nodes += [helper.make_node("Softmax", ["sb"], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "vh"], ["y"])]
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, SEQ, D])]
    if masked:
        ins.append(helper.make_tensor_value_info("mask", TensorProto.INT64, [1, SEQ]))
    g = helper.make_graph(nodes, "t5att", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)

    def feeds(n):
        f = {"x": rng.standard_normal((n, SEQ, D)).astype(np.float32)}
        if masked:
            mask = np.ones((n, SEQ), np.int64)
            mask[::2, -2:] = 0
            f["mask"] = mask
        return f
    return feeds(16), feeds(4)


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("target", ["c", "accel"])
def test_relative_position_bias(tmp_path, masked, target):
    path = str(tmp_path / "att.onnx")
    calib, test = _model(path, masked)
    np.savez(tmp_path / "calib.npz", **calib)
    out = str(tmp_path / target)
    compile_model(path, CompileOptions(target=target, out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 25.0
