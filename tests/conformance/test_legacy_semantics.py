"""Ops whose meaning changed across opsets import with the meaning of the model's opset.

Softmax, LogSoftmax and Hardmax before opset 13 coerce the input to 2-D at
``axis``; from 13 on they act along ``axis`` only.  onnxruntime runs each model at
its own opset and is the reference here.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir.verifier import verify


def _model(op: str, opset: int, axis: int, shape: list[int]):
    n = helper.make_node(op, ["x"], ["y"], axis=axis)
    g = helper.make_graph([n], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7 if opset > 9 else 4
    return m


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset", [9, 11, 12, 13, 17])
@pytest.mark.parametrize("axis,shape", [(1, [2, 3, 4, 5]), (-2, [2, 3, 4, 5]),
                                        (1, [2, 7, 1, 1]), (0, [3, 4])])
def test_softmax_family_matches_onnxruntime_at_every_opset(op, opset, axis, shape):
    m = _model(op, opset, axis, shape)
    x = np.random.default_rng(opset).standard_normal(shape).astype(np.float32)
    ref = ort.InferenceSession(m.SerializeToString(),
                               providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    g = import_model(m)
    verify(g)
    np.testing.assert_allclose(run(g, {"x": x})["y"], ref, rtol=1e-5, atol=1e-6)


def test_legacy_hardmax_becomes_flatten_hardmax_reshape_only_when_it_matters():
    """Models below opset 13 are converted to 13 by onnx's converter (Softmax and
    LogSoftmax become Flatten -> op -> Reshape there); its Hardmax has no adapter, so
    such a model stays at 12 and the importer applies the coerced 2-D rule itself."""
    g = import_model(_model("Hardmax", 11, 1, [2, 3, 4, 5]))
    assert [n.op for n in g.nodes] == ["onnx.Flatten", "onnx.Hardmax", "onnx.Reshape"]
    assert g.nodes[1].attrs["axis"] == 1 and g.outputs[0].shape == (2, 3, 4, 5)
    g = import_model(_model("Hardmax", 11, 1, [2, 7, 1, 1]))  # same under both rules
    assert [n.op for n in g.nodes] == ["onnx.Hardmax"]
