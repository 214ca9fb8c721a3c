import numpy as np

from fusion_testlib import check_pass, f32, ops, torch_graph
from qcc.ir import Graph


def test_small_ir_both_orders():
    g = Graph(opset=17)
    x = g.add_input("x", f32((2, 8)))
    s = g.make("onnx.Sigmoid", [x], [f32((2, 8))])
    m = g.make("onnx.Mul", [s.outputs[0], x], [f32((2, 8))], name="m")
    s2 = g.make("onnx.Sigmoid", [m.outputs[0]], [f32((2, 8))])
    m2 = g.make("onnx.Mul", [m.outputs[0], s2.outputs[0]], [f32((2, 8))], name="m2")
    g.outputs = [m2.outputs[0]]
    check_pass(g, ["fuse-silu"])
    assert ops(g) == {"fused.silu": 2}


def test_sigmoid_gate_of_other_tensor_not_fused():
    g = Graph(opset=17)
    x = g.add_input("x", f32((2, 8)))
    y = g.add_input("y", f32((2, 8)))
    s = g.make("onnx.Sigmoid", [y], [f32((2, 8))])
    m = g.make("onnx.Mul", [x, s.outputs[0]], [f32((2, 8))])
    g.outputs = [m.outputs[0]]
    check_pass(g, ["fuse-silu"])
    assert "fused.silu" not in ops(g)


def test_torch_silu():
    import torch.nn as nn

    g = torch_graph(nn.Sequential(nn.Linear(8, 8), nn.SiLU()), (2, 8))
    check_pass(g, ["fuse-silu"])
    assert ops(g)["fused.silu"] == 1 and "onnx.Sigmoid" not in ops(g)
