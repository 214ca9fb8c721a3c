import numpy as np
import pytest

from fusion_testlib import LIGHT, check_pass, cleaned, f32, ops, torch_graph
from qcc.ir import Graph

CASES = [
    ("onnx.Relu", {}, None, "relu"),
    ("onnx.Clip", {}, (0.0, 6.0), "relu6"),
    ("onnx.Clip", {}, (-1.0, 2.5), "clip"),
    ("onnx.Clip", {}, (0.0, None), "relu"),
    ("onnx.LeakyRelu", {"alpha": 0.2}, None, "leaky_relu"),
    ("onnx.HardSigmoid", {"alpha": 0.3, "beta": 0.4}, None, "hardsigmoid"),
    ("fused.hardswish", {}, None, "hardswish"),
]


@pytest.mark.parametrize("op,attrs,bounds,act", CASES)
def test_small_ir(op, attrs, bounds, act):
    rng = np.random.default_rng(0)
    g = Graph(opset=17)
    x = g.add_input("x", f32((1, 2, 5, 5)))
    w = g.add_const("w", rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    conv = g.make("fused.conv", [x, w], [f32((1, 3, 5, 5))], {"pads": [1] * 4}, name="conv")
    ins = [conv.outputs[0]]
    if bounds is not None:
        ins += [g.add_const("lo", np.float32(bounds[0])),
                None if bounds[1] is None else g.add_const("hi", np.float32(bounds[1]))]
    a = g.make(op, ins, [f32((1, 3, 5, 5))], attrs, name="act")
    g.outputs = [a.outputs[0]]
    out = a.outputs[0]
    check_pass(g, ["fuse-activation"])
    assert ops(g) == {"fused.conv": 1}
    assert out.producer.attrs["activation"] == act and out.producer.name == "conv"


def test_not_fused_with_two_users():
    g = Graph(opset=17)
    x = g.add_input("x", f32((2, 4)))
    lin = g.make("fused.linear", [x, g.add_const("w", np.ones((4, 3), np.float32))], [f32((2, 3))])
    r = g.make("onnx.Relu", [lin.outputs[0]], [f32((2, 3))])
    g.outputs = [r.outputs[0], lin.outputs[0]]
    check_pass(g, ["fuse-activation"])
    assert ops(g)["onnx.Relu"] == 1


def test_torch_relu6_leaky():
    import torch.nn as nn

    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Conv2d(4, 4, 1), nn.LeakyReLU(0.1),
                      nn.Flatten(), nn.Linear(64, 5), nn.ReLU())
    g = torch_graph(m, (1, 3, 6, 6))
    check_pass(g, ["fuse-linear", "fuse-activation"])
    acts = sorted(n.attrs.get("activation") for n in g.nodes if n.op.startswith("fused."))
    assert acts == ["leaky_relu", "relu", "relu6"]


def test_light_squeezenet():
    g = cleaned(f"{LIGHT}/light_squeezenet.onnx")
    check_pass(g, ["fuse-linear", "fuse-activation"])
    c = ops(g)
    assert "onnx.Relu" not in c and c["fused.conv"] == 26
