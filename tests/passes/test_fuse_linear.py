import numpy as np

from fusion_testlib import LIGHT, check_pass, cleaned, f32, ops, torch_graph
from qcc.ir import Graph


def test_small_ir_matmul_conv_bias():
    rng = np.random.default_rng(0)
    g = Graph(opset=17)
    x = g.add_input("x", f32((1, 2, 6, 6)))
    w = g.add_const("w", rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    conv = g.make("onnx.Conv", [x, w], [f32((1, 4, 4, 4))], name="conv")
    b = g.add_const("b", rng.standard_normal((1, 4, 1, 1)).astype(np.float32))
    add = g.make("onnx.Add", [b, conv.outputs[0]], [f32((1, 4, 4, 4))], name="add")
    r = g.make("onnx.Reshape", [add.outputs[0], g.add_const("s", np.array([1, 4, 16]))],
               [f32((1, 4, 16))], name="r")
    wl = g.add_const("wl", rng.standard_normal((16, 5)).astype(np.float32))
    mm = g.make("onnx.MatMul", [r.outputs[0], wl], [f32((1, 4, 5))], name="mm")
    bl = g.add_const("bl", rng.standard_normal((5,)).astype(np.float32))
    add2 = g.make("onnx.Add", [mm.outputs[0], bl], [f32((1, 4, 5))], name="add2")
    bad = g.add_const("bad", rng.standard_normal((4, 1)).astype(np.float32))  # not over last axis
    mm2 = g.make("onnx.MatMul", [add2.outputs[0], g.add_const("w2", np.eye(5, dtype=np.float32))],
                 [f32((1, 4, 5))], name="mm2")
    add3 = g.make("onnx.Add", [mm2.outputs[0], bad], [f32((1, 4, 5))], name="add3")
    g.outputs = [add3.outputs[0]]
    out_add = add.outputs[0]
    check_pass(g, ["fuse-linear"])
    c = ops(g)
    assert c == {"fused.conv": 1, "onnx.Reshape": 1, "fused.linear": 2, "onnx.Add": 1}
    assert out_add.producer.op == "fused.conv" and out_add.producer.name == "conv"


def test_torch_mlp():
    import torch.nn as nn

    g = torch_graph(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), (3, 8))
    check_pass(g, ["fuse-linear"])
    assert ops(g) == {"fused.linear": 2, "onnx.Relu": 1}


def test_light_squeezenet():
    g = cleaned(f"{LIGHT}/light_squeezenet.onnx")
    check_pass(g, ["fuse-linear"])
    c = ops(g)
    assert "onnx.Conv" not in c and c["fused.conv"] == 26
