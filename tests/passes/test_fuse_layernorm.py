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


def _moments(axis: int, affine: bool = True, n_scale: float = 1.0):
    """jax2tf's LayerNorm: E[x^2] - E[x]^2 over ``axis`` of (2, 6, 8), ReduceSum * 1/n
    with keepdims 0, Max(0, var), Reshapes back to the kept-dims shape, gamma folded into
    the reciprocal square root (as magika's ONNX model writes it)."""
    rng = np.random.default_rng(1)
    shape = (2, 6, 8)
    kshape = tuple(1 if a == axis else d for a, d in enumerate(shape))
    red = tuple(d for a, d in enumerate(shape) if a != axis)
    g = Graph(opset=15)
    x = g.add_input("x", f32(shape))
    c = lambda name, v: g.add_const(name, np.asarray(v, np.float32))  # noqa: E731
    ax = g.add_const("ax", np.array([axis]))
    inv_n = c("inv_n", n_scale / shape[axis])
    s1 = g.make("onnx.ReduceSum", [x, ax], [f32(red)], {"keepdims": 0}).outputs[0]
    sq = g.make("onnx.Mul", [x, x], [f32(shape)]).outputs[0]
    s2 = g.make("onnx.ReduceSum", [sq, ax], [f32(red)], {"keepdims": 0}).outputs[0]
    m2 = g.make("onnx.Mul", [s2, inv_n], [f32(red)]).outputs[0]
    m = g.make("onnx.Mul", [s1, inv_n], [f32(red)]).outputs[0]
    mm = g.make("onnx.Mul", [m, m], [f32(red)]).outputs[0]
    var = g.make("onnx.Sub", [m2, mm], [f32(red)]).outputs[0]
    var = g.make("onnx.Max", [c("zero", 0.0), var], [f32(red)]).outputs[0]
    ks = g.add_const("ks", np.array(kshape))
    var = g.make("onnx.Reshape", [var, ks], [f32(kshape)]).outputs[0]
    ve = g.make("onnx.Add", [var, c("eps", 1e-6)], [f32(kshape)]).outputs[0]
    r = g.make("onnx.Reciprocal", [g.make("onnx.Sqrt", [ve], [f32(kshape)]).outputs[0]], [f32(kshape)]).outputs[0]
    pshape = tuple(d if a == axis else 1 for a, d in enumerate(shape))
    if affine:
        r = g.make("onnx.Mul", [r, c("gamma", rng.uniform(0.5, 2, pshape))], [f32(shape)]).outputs[0]
    mr = g.make("onnx.Reshape", [m, ks], [f32(kshape)]).outputs[0]
    d = g.make("onnx.Sub", [x, mr], [f32(shape)]).outputs[0]
    out = g.make("onnx.Mul", [d, r], [f32(shape)]).outputs[0]
    if affine:
        out = g.make("onnx.Add", [out, c("beta", rng.uniform(-1, 1, pshape))], [f32(shape)]).outputs[0]
    g.outputs = [out]
    return g, out


@pytest.mark.parametrize("axis", [1, 2])
@pytest.mark.parametrize("affine", [True, False])
def test_moments_form_on_any_axis(axis, affine):
    """Over a trailing axis one fused.layernorm; over another a Transpose on each side
    (the normalised axis last inside); the interpreter's outputs are unchanged."""
    g, out = _moments(axis, affine)
    check_pass(g, ["fuse-layernorm", "dce"])
    ln = next(n for n in g.nodes if n.op == "fused.layernorm")
    assert ln.attrs["axis"] == 2 and ln.inputs[1].shape == (6 if axis == 1 else 8,)
    assert ops(g) == ({"fused.layernorm": 1} if axis == 2 else {"fused.layernorm": 1, "onnx.Transpose": 2})
    assert out.producer.op == ("fused.layernorm" if axis == 2 else "onnx.Transpose")


def test_moments_form_with_a_wrong_count_not_fused():
    g, _ = _moments(1, n_scale=0.5)  # 1/(2n): not a mean
    check_pass(g, ["fuse-layernorm"])
    assert "fused.layernorm" not in ops(g)
