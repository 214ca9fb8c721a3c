import numpy as np
import pytest

from fusion_testlib import check_pass, f32, ops, torch_graph
from qcc.ir import Graph

X = f32((2, 3, 8))


def _paddle_like(square: str, divide: str, axes_input: bool, affine: bool):
    rng = np.random.default_rng(0)
    g = Graph(opset=18 if axes_input else 13)
    x = g.add_input("x", X)

    def mean(v, name):
        if axes_input:
            return g.make("onnx.ReduceMean", [v, g.add_const("ax", np.array([-1]))], [f32((2, 3, 1))],
                          name=name)
        return g.make("onnx.ReduceMean", [v], [f32((2, 3, 1))], {"axes": [2]}, name=name)

    m = mean(x, "mean")
    d = g.make("onnx.Sub", [x, m.outputs[0]], [X])
    if square == "pow":
        sq = g.make("onnx.Pow", [d.outputs[0], g.add_const("two", np.float32(2))], [X])
    else:
        sq = g.make("onnx.Mul", [d.outputs[0], d.outputs[0]], [X])
    var = mean(sq.outputs[0], "var")
    ve = g.make("onnx.Add", [g.add_const("eps", np.float32(1e-5)), var.outputs[0]], [f32((2, 3, 1))])
    sd = g.make("onnx.Sqrt", [ve.outputs[0]], [f32((2, 3, 1))])
    if divide == "div":
        n = g.make("onnx.Div", [d.outputs[0], sd.outputs[0]], [X])
    else:
        r = g.make("onnx.Reciprocal", [sd.outputs[0]], [f32((2, 3, 1))])
        n = g.make("onnx.Mul", [r.outputs[0], d.outputs[0]], [X])
    out = n
    if affine:
        out = g.make("onnx.Mul", [out.outputs[0], g.add_const("w", rng.uniform(0.5, 2, 8).astype(np.float32))], [X])
        out = g.make("onnx.Add", [out.outputs[0], g.add_const("b", rng.uniform(-1, 1, (1, 8)).astype(np.float32))], [X])
    g.outputs = [out.outputs[0]]
    return g, out.outputs[0]


@pytest.mark.parametrize("square", ["pow", "mul"])
@pytest.mark.parametrize("divide", ["div", "reciprocal"])
@pytest.mark.parametrize("axes_input", [False, True])
def test_decomposed(square, divide, axes_input):
    g, out = _paddle_like(square, divide, axes_input, affine=True)
    check_pass(g, ["fuse-layernorm"])
    assert ops(g) == {"fused.layernorm": 1}
    assert out.producer.attrs == {"axis": 2, "epsilon": pytest.approx(1e-5)}


def test_without_affine():
    g, out = _paddle_like("pow", "div", False, affine=False)
    check_pass(g, ["fuse-layernorm"])
    assert ops(g) == {"fused.layernorm": 1} and out.producer.op == "fused.layernorm"


def test_mean_over_non_trailing_axis_not_fused():
    g, _ = _paddle_like("pow", "div", False, affine=False)
    for n in g.nodes:
        if n.op == "onnx.ReduceMean":
            n.attrs["axes"] = [1]
    # shapes now wrong for axis 1 but the matcher must refuse before anything runs
    from qcc.passmanager import PassContext, PassManager

    PassManager(["fuse-layernorm"]).run(g, PassContext())
    assert "fused.layernorm" not in ops(g)


@pytest.mark.parametrize("opset", [14, 17])
def test_torch_layernorm(opset):
    import torch
    import torch.nn as nn

    ln = nn.LayerNorm(8)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 2), ln.bias.uniform_(-1, 1)
    g = torch_graph(nn.Sequential(nn.Linear(8, 8), ln), (2, 5, 8), opset)
    check_pass(g, ["fuse-layernorm"])
    assert ops(g)["fused.layernorm"] == 1
    assert not {"onnx.ReduceMean", "onnx.LayerNormalization", "onnx.Sqrt"} & set(ops(g))


def test_torch_layernorm_2d_normalized_shape():
    import torch.nn as nn

    g = torch_graph(nn.LayerNorm([4, 8]), (2, 4, 8), 14)
    check_pass(g, ["fuse-layernorm"])
    ln = next(n for n in g.nodes if n.op == "fused.layernorm")
    assert ln.attrs["axis"] == 1 and ln.inputs[1].shape == (4, 8)
