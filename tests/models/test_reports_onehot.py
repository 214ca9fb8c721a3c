"""A failure class found on a model outside the corpus (a byte-classifier exported by
jax2tf): an embedding written as a one-hot, ``Equal(ids, arange) -> Cast(float) -> MatMul``.
The quantize of the Cast of a bool must become a ``qcc.threshold`` over {0, 1}
(passes/lower_thresholds.py), and the C it gives must build under the Makefile's
``-Werror`` even when a scalar int8 constant (``Mul`` by 1.702, as in the model's GELU)
meets the kernels' run-time dtype switch."""

from __future__ import annotations

import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_ok, make_model, qcc  # noqa: E402

VOCAB, SEQ, D = 12, 10, 6


def onehot_model(path: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    inits = {"ar": np.arange(VOCAB, dtype=np.int32).reshape(1, 1, VOCAB),
             "emb": rng.standard_normal((VOCAB, D)).astype(np.float32),
             "k": np.array(1.702, np.float32),
             "w": rng.standard_normal((D, 3)).astype(np.float32),
             "ax": np.array([2], np.int64)}
    nodes = [helper.make_node("Unsqueeze", ["ids", "ax"], ["u"]),
             helper.make_node("Equal", ["u", "ar"], ["eq"]),
             helper.make_node("Cast", ["eq"], ["oh"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["oh", "emb"], ["e"]),
             helper.make_node("Mul", ["k", "e"], ["ek"]),
             helper.make_node("Sigmoid", ["ek"], ["s"]),
             helper.make_node("Mul", ["e", "s"], ["g"]),
             helper.make_node("MatMul", ["g", "w"], ["y"])]
    m = make_model(nodes, [helper.make_tensor_value_info("ids", TensorProto.INT32, [1, SEQ])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                   [numpy_helper.from_array(v, k) for k, v in inits.items()])
    import onnx
    onnx.save(m, path)


def test_onehot_embedding_compiles_to_c_bit_exact(tmp_path):
    path = str(tmp_path / "onehot.onnx")
    onehot_model(path)
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "calib.npz", ids=rng.integers(0, VOCAB, (16, SEQ)).astype(np.int32))
    test = {"ids": rng.integers(0, VOCAB, (4, SEQ)).astype(np.int32)}
    out = str(tmp_path / "c")
    p = qcc("compile", path, "--calib", str(tmp_path / "calib.npz"), "--target", "c",
            "-o", out, "--input-shape", f"ids=1x{SEQ}")
    assert_ok(p)
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    np.testing.assert_array_equal(got["y"], want["y"])
    db = sqnr_db(ort_outputs(path, test), want["y"])
    assert db >= 30.0, db
    with open(os.path.join(out, "model.qcc")) as f:
        assert "qcc.threshold" in f.read()   # the one-hot is a step function of the bool
