import numpy as np
import onnxruntime as ort
import pytest

from fusion_testlib import check_pass, f32, ops, torch_graph
from qcc.interp import run
from qcc.ir import Graph
from qcc.ir.verifier import verify
from qcc.passmanager import PassContext, PassManager

T = f32((2, 16))


def _relu6_x3(g, x):
    a = g.make("onnx.Add", [x, g.add_const("three", np.float32(3))], [T])
    return g.make("onnx.Clip", [a.outputs[0], g.add_const("lo", np.float32(0)),
                                g.add_const("hi", np.float32(6))], [T])


@pytest.mark.parametrize("order", ["mul_div", "div_mul", "sixth_first"])
def test_clip_forms(order):
    g = Graph(opset=17)
    x = g.add_input("x", T)
    c = _relu6_x3(g, x).outputs[0]
    if order == "mul_div":
        m = g.make("onnx.Mul", [x, c], [T])
        out = g.make("onnx.Div", [m.outputs[0], g.add_const("six", np.float32(6))], [T])
    elif order == "div_mul":
        d = g.make("onnx.Div", [c, g.add_const("six", np.float32(6))], [T])
        out = g.make("onnx.Mul", [d.outputs[0], x], [T])
    else:
        m = g.make("onnx.Mul", [g.add_const("k", np.float32(1 / 6)), c], [T])
        out = g.make("onnx.Mul", [x, m.outputs[0]], [T])
    g.outputs = [out.outputs[0]]
    check_pass(g, ["fuse-hardswish"])
    assert ops(g) == {"fused.hardswish": 1}
    assert out.outputs[0].producer.op == "fused.hardswish"


def test_hardsigmoid_forms():
    g = Graph(opset=17)
    x = g.add_input("x", T)
    c = _relu6_x3(g, x).outputs[0]
    hs = g.make("onnx.Mul", [c, g.add_const("k", np.float32(1 / 6))], [T])
    hs2 = g.make("onnx.HardSigmoid", [hs.outputs[0]], [T], {"alpha": 0.25, "beta": 0.4})
    g.outputs = [hs2.outputs[0]]
    check_pass(g, ["fuse-hardswish"])
    assert ops(g) == {"fused.hardsigmoid": 2}


def test_x_times_hardsigmoid():
    g = Graph(opset=17)
    x = g.add_input("x", T)
    hs = g.make("onnx.HardSigmoid", [x], [T], {"alpha": 1 / 6, "beta": 0.5})
    m = g.make("onnx.Mul", [hs.outputs[0], x], [T])
    g.outputs = [m.outputs[0]]
    check_pass(g, ["fuse-hardswish"])
    assert ops(g) == {"fused.hardswish": 1}


def test_torch_hardswish_matches_onnxruntime():
    """torch exports nn.Hardswish as the HardSwish op; compare with onnxruntime."""
    import torch.nn as nn

    from qcc.frontend.onnx_export import to_onnx

    g = torch_graph(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish(), nn.Hardsigmoid()),
                    (1, 3, 6, 6))
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 6)).astype(np.float32) * 3
    sess = ort.InferenceSession(to_onnx(g).SerializeToString(), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {g.inputs[0].name: x})[0]
    # the interpreter cannot run onnx HardSwish (a function op in onnx.reference), so the
    # unfused reference is onnxruntime here
    PassManager(["fuse-hardswish", "fuse-linear", "fuse-activation"]).run(g, PassContext())
    verify(g)
    assert ops(g) == {"fused.conv": 1, "fused.hardsigmoid": 1}
    out = run(g, {g.inputs[0].name: x})[g.outputs[0].name]
    assert np.max(np.abs(out - ref)) <= 1e-5 * np.max(np.abs(ref))
