"""Fused conv + LUT activations (LeakyRelu, HardSwish, HardSigmoid) quantize integer-only.

fuse-activation records the pre-activation value (``pre_act``); the quantizer
requantizes the accumulator to that calibrated range and applies a qcc.lut.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.metrics import sqnr_db
from qcc.errors import LoweringError
from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir.verifier import check_integer_only, verify
from qcc.passes.pipelines import pipeline_for
from qcc.passmanager import PassContext, PassManager


def _model(act: str, attrs: dict, decomposed: bool = False):
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.4, (8, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.2, 8).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.normal(0, 0.3, (6, 8, 1, 1)).astype(np.float32), "w2"),
             numpy_helper.from_array(rng.normal(0, 0.3, (6, 5)).astype(np.float32), "fc")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 4, name="conv1")]
    if decomposed:  # x * Clip(x + 3, 0, 6) / 6 as exporters write HardSwish
        inits += [numpy_helper.from_array(np.float32(v), n) for n, v in
                  (("three", 3.0), ("zero", 0.0), ("six", 6.0))]
        nodes += [helper.make_node("Add", ["c1", "three"], ["a3"], name="add3"),
                  helper.make_node("Clip", ["a3", "zero", "six"], ["cl"], name="clip"),
                  helper.make_node("Mul", ["c1", "cl"], ["m"], name="mul"),
                  helper.make_node("Div", ["m", "six"], ["r1"], name="div6")]
    else:
        nodes.append(helper.make_node(act, ["c1"], ["r1"], name="act1", **attrs))
    nodes += [helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
              helper.make_node(act if not decomposed else "HardSwish", ["c2"], ["r2"], name="act2",
                               **attrs),
              helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="gap"),
              helper.make_node("Flatten", ["p"], ["f"], name="flat"),
              helper.make_node("MatMul", ["f", "fc"], ["y"], name="fc")]
    g = helper.make_graph(nodes, "act", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _samples(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, 1, 3, 8, 8)).astype(np.float32)


def _compile(model):
    g = import_model(model)
    ref_g = import_model(model)
    calib = _samples(24, 1)
    ctx = PassContext(options={"calib": {"x": calib[:, 0]}, "quiet": True, "calib_method": "minmax"})
    PassManager(pipeline_for("onnx", quantize=True)).run(g, ctx)
    return g, ref_g


CASES = [("LeakyRelu", {"alpha": 0.1}, "LeakyRelu", False),
         ("HardSwish", {}, "HardSwish", False),
         ("HardSigmoid", {"alpha": 0.25, "beta": 0.4}, "HardSigmoid", False),
         ("HardSwish", {}, "HardSwish", True)]


@pytest.mark.parametrize("act,attrs,fn,decomposed", CASES)
def test_fused_conv_lut_activation_is_integer_only_and_close_to_float(act, attrs, fn, decomposed):
    g, ref_g = _compile(_model(act, attrs, decomposed))
    verify(g)
    check_integer_only(g)
    convs = [n for n in g.nodes if n.op == "qcc.conv2d"]
    luts = [n for n in g.nodes if n.op == "qcc.lut"]
    assert len(convs) == 2 and len(luts) == 2
    assert {n.attrs["fn"] for n in luts} == {fn}
    # each LUT reads its conv directly: the activation stayed fused, no float in between
    assert all(n.inputs[0].producer in convs for n in luts)
    test = _samples(16, 2)
    ref = np.concatenate([run(ref_g, {"x": x})["y"] for x in test])
    out = np.concatenate([run(g, {"x": x})["y"] for x in test])
    assert sqnr_db(ref, out) > 30.0, sqnr_db(ref, out)


def test_fusion_records_pre_activation_value_name():
    from fusion_testlib import cleaned

    g = cleaned(_model("LeakyRelu", {"alpha": 0.1}))
    PassManager(["fuse-linear", "fuse-activation"]).run(g, PassContext())
    hosts = {n.name: n for n in g.nodes if n.op == "fused.conv"}
    assert hosts["conv1"].attrs["pre_act"] == "c1" and hosts["conv1"].outputs[0].name == "r1"
    assert hosts["conv2"].attrs["pre_act"] == "c2"


def test_clamp_activations_need_no_pre_activation_range():
    from fusion_testlib import cleaned

    g = cleaned(_model("Relu", {}))
    PassManager(["fuse-linear", "fuse-activation"]).run(g, PassContext())
    assert all("pre_act" not in n.attrs for n in g.nodes)


def test_missing_pre_activation_range_is_a_clear_error():
    from fusion_testlib import cleaned

    g = cleaned(_model("LeakyRelu", {"alpha": 0.1}))
    PassManager(["fuse-linear", "fuse-activation"]).run(g, PassContext())
    ranges = {name: (-4.0, 4.0) for name in ("x", "r1", "r2", "p", "f", "y", "c2")}
    g.meta["ranges"] = ranges  # the one place calibrated ranges live
    with pytest.raises(LoweringError, match=r"conv1.*pre-activation range.*leaky_relu"):
        PassManager(["quantize"]).run(g, PassContext())
