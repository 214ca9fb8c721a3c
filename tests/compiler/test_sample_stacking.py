"""Samples stacked along axis 0 for every kind of graph input: a scalar input (a sample
rate, a step count) given once for all samples or once per sample ([N]), and an input
whose leading dimension is not a batch (a recurrent state [2, 1, H]: N samples are 2N
rows).  ``qcc inspect`` builds its synthetic calibration data by the same rule."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from qcc.errors import InputDataError
from qcc.frontend.onnx_import import import_model
from qcc.npzio import iter_samples, num_samples

from qcc_testlib import assert_ok, make_model, qcc


def _model(path):
    # y = x * (k as float) + sum(state), with k a scalar int64 input
    nodes = [helper.make_node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["x", "kf"], ["xk"]),
             helper.make_node("ReduceSum", ["state"], ["s"], keepdims=0),
             helper.make_node("Add", ["xk", "s"], ["y"])]
    m = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
                           helper.make_tensor_value_info("k", TensorProto.INT64, []),
                           helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, 3])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    import onnx
    onnx.save(m, path)
    return path


def test_scalar_and_non_batch_inputs_are_split_into_samples(tmp_path):
    g = import_model(_model(str(tmp_path / "m.onnx")))
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    st = np.arange(18, dtype=np.float32).reshape(6, 1, 3)
    per = {"x": x, "k": np.array([1, 2, 3], np.int64), "state": st}
    assert num_samples(g, per) == 3
    rows = list(iter_samples(g, per))
    assert [int(r["k"]) for r in rows] == [1, 2, 3] and rows[2]["k"].shape == ()
    np.testing.assert_array_equal(rows[1]["state"], st[2:4])
    once = dict(per, k=np.array(7, np.int64))
    assert [int(r["k"]) for r in iter_samples(g, once)] == [7, 7, 7]
    try:
        num_samples(g, dict(per, k=np.array([1, 2], np.int64)))
    except InputDataError as e:
        assert "different sample counts" in str(e)
    else:
        raise AssertionError("2 values of k for 3 samples were accepted")


def test_run_and_inspect_with_scalar_and_state_inputs(tmp_path):
    path = _model(str(tmp_path / "m.onnx"))
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    st = np.random.default_rng(1).standard_normal((6, 1, 3)).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x, k=np.array([1, 2, 3], np.int64), state=st)
    p = qcc("run", path, "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz"))
    assert_ok(p)
    y = np.load(tmp_path / "out.npz")["y"]
    want = np.stack([x[i:i + 1] * (i + 1) + st[2 * i:2 * i + 2].sum() for i in range(3)])
    np.testing.assert_allclose(y.reshape(want.shape), want, rtol=1e-5)
    p = qcc("inspect", path)
    assert_ok(p)
    assert "sample counts" not in p.stdout and "expected samples" not in p.stdout, p.stdout
