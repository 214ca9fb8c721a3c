"""A decoder whose causal mask was folded to a constant of 0 and -inf (GPT-2 exported by
torch with a fixed sequence length; issue 12 corpus row gpt2_tiny) used to stop with
'non-finite calibrated range [-inf, 0.0]' and no tensor named: the mask now becomes the
integer softmax's mask input, C bit-exact, close to float onnxruntime; any other -inf
constant is refused naming it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model
from qcc.errors import QccError

SEQ, D = 6, 8


def _decoder(path: str, tail: bool = False):
    rng = np.random.default_rng(0)
    mask = np.triu(np.full((SEQ, SEQ), -np.inf, np.float32), 1).reshape(1, SEQ, SEQ)
    inits = {"wq": rng.standard_normal((D, D)).astype(np.float32) * 0.2,
             "wk": rng.standard_normal((D, D)).astype(np.float32) * 0.2,
             "wv": rng.standard_normal((D, D)).astype(np.float32) * 0.4,
             "scale": np.array(1 / np.sqrt(D), np.float32), "mask": mask,
             "neg": np.array([0.0] * (D - 1) + [-np.inf], np.float32).reshape(1, 1, D)}
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"]), helper.make_node("MatMul", ["x", "wk"], ["k"]),
             helper.make_node("MatMul", ["x", "wv"], ["v"]),
             helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "kt"], ["s"]), helper.make_node("Mul", ["s", "scale"], ["ss"]),
             helper.make_node("Add", ["ss", "mask"], ["sm"]), helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["y0" if tail else "y"])]
    if tail:  # the -inf constant used elsewhere than before a Softmax
        nodes.append(helper.make_node("Add", ["y0", "neg"], ["y"]))
    g = helper.make_graph(nodes, "dec", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, SEQ, D])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return ({"x": rng.standard_normal((16, SEQ, D)).astype(np.float32)},
            {"x": rng.standard_normal((4, SEQ, D)).astype(np.float32)})


def test_folded_causal_mask_with_minus_inf(tmp_path):
    path = str(tmp_path / "dec.onnx")
    calib, test = _decoder(path)
    np.savez(tmp_path / "calib.npz", **calib)
    out = str(tmp_path / "c")
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 20.0  # onnxruntime static int8: 0 dB (-inf)


def test_other_minus_inf_constant_is_named(tmp_path):
    path = str(tmp_path / "dec.onnx")
    calib, _ = _decoder(path, tail=True)
    np.savez(tmp_path / "calib.npz", **calib)
    with pytest.raises(QccError, match="constant 'neg' .*non-finite"):
        compile_model(path, CompileOptions(target="c", out_dir=str(tmp_path / "c"),
                                           options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))


def test_folded_causal_mask_accel_target(tmp_path):
    """The accelerator backend looked up a DRAM region for the constant mask and stopped
    with an internal KeyError (OPT exported without an attention mask); the softmax now
    runs on the host, and the simulator's output equals the reference interpreter."""
    path = str(tmp_path / "dec.onnx")
    calib, test = _decoder(path)
    np.savez(tmp_path / "calib.npz", **calib)
    out = str(tmp_path / "accel")
    compile_model(path, CompileOptions(target="accel", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])


def _neo_decoder(path: str):
    """GPT-Neo's attention as torch exports it at a fixed length: the scores go through
    ``Where(causal_bool_constant, scores, finfo.min)`` and then ``Add`` of a key-padding
    mask computed from the ``mask`` input, then Softmax (two mask steps)."""
    rng = np.random.default_rng(1)
    causal = np.tril(np.ones((SEQ, SEQ), bool)).reshape(1, SEQ, SEQ)
    inits = {"wq": rng.standard_normal((D, D)).astype(np.float32) * 0.3,
             "wk": rng.standard_normal((D, D)).astype(np.float32) * 0.3,
             "wv": rng.standard_normal((D, D)).astype(np.float32) * 0.4,
             "causal": causal, "fmin": np.array(np.finfo(np.float32).min, np.float32),
             "one": np.array(1.0, np.float32), "big": np.array(-1e9, np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"]), helper.make_node("MatMul", ["x", "wk"], ["k"]),
             helper.make_node("MatMul", ["x", "wv"], ["v"]),
             helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["q", "kt"], ["s"]),
             helper.make_node("Where", ["causal", "s", "fmin"], ["sc"]),
             helper.make_node("Cast", ["mask"], ["mf"], to=TensorProto.FLOAT),
             helper.make_node("Sub", ["one", "mf"], ["inv"]), helper.make_node("Mul", ["inv", "big"], ["add"]),
             helper.make_node("Unsqueeze", ["add", "ax"], ["add3"]),
             helper.make_node("Add", ["sc", "add3"], ["sm"]), helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    inits["ax"] = np.array([1], np.int64)
    g = helper.make_graph(nodes, "neo", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, SEQ, D]),
                                         helper.make_tensor_value_info("mask", TensorProto.INT64, [1, SEQ])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)

    def feeds(n):
        mask = np.ones((n, SEQ), np.int64)
        mask[::2, 1] = 0  # a padded key never first: every row keeps its first key
        return {"x": rng.standard_normal((n, SEQ, D)).astype(np.float32), "mask": mask}
    return feeds(16), feeds(4)


@pytest.mark.parametrize("target", ["c", "accel"])
def test_constant_bool_mask_then_padding_mask(tmp_path, target):
    """GPT-Neo (issue 12, never-seen models): 'Where node ... cannot be lowered to integer
    arithmetic' because a constant boolean condition was not taken as a mask and only one
    mask step was accepted before the Softmax.  Both now fold into the integer softmax's
    mask; the target is bit-exact with the reference and close to float onnxruntime."""
    path = str(tmp_path / "neo.onnx")
    calib, test = _neo_decoder(path)
    np.savez(tmp_path / "calib.npz", **calib)
    out = str(tmp_path / target)
    compile_model(path, CompileOptions(target=target, out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 20.0
