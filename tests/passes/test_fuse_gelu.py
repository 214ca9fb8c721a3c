import math

import numpy as np
import pytest

from fusion_testlib import check_pass, f32, ops, torch_graph
from qcc.ir import Graph

T = f32((2, 16))


def _c(g, v):
    return g.add_const("c", np.float32(v))


def _erf_graph(div: bool, order: str):
    g = Graph(opset=17)
    x = g.add_input("x", T)
    arg = g.make("onnx.Div" if div else "onnx.Mul",
                 [x, _c(g, math.sqrt(2) if div else 1 / math.sqrt(2))], [T])
    e = g.make("onnx.Erf", [arg.outputs[0]], [T])
    a = g.make("onnx.Add", [_c(g, 1.0), e.outputs[0]], [T])
    if order == "half_last":
        m = g.make("onnx.Mul", [x, a.outputs[0]], [T])
        out = g.make("onnx.Mul", [m.outputs[0], _c(g, 0.5)], [T])
    elif order == "half_first":
        h = g.make("onnx.Mul", [_c(g, 0.5), x], [T])
        out = g.make("onnx.Mul", [h.outputs[0], a.outputs[0]], [T])
    else:  # half in the middle: ((1+erf) * 0.5) * x
        h = g.make("onnx.Mul", [a.outputs[0], _c(g, 0.5)], [T])
        out = g.make("onnx.Mul", [x, h.outputs[0]], [T])
    r = g.make("onnx.Relu", [out.outputs[0]], [T])  # a reader after the pattern
    g.outputs = [r.outputs[0]]
    return g, out.outputs[0]


@pytest.mark.parametrize("div", [True, False])
@pytest.mark.parametrize("order", ["half_last", "half_first", "half_middle"])
def test_erf_forms(div, order):
    g, out = _erf_graph(div, order)
    check_pass(g, ["fuse-gelu"])
    assert ops(g) == {"fused.gelu": 1, "onnx.Relu": 1}
    assert out.producer.op == "fused.gelu" and out.producer.attrs["approximate"] == "none"


@pytest.mark.parametrize("cube", ["pow", "mul_mul", "jax"])
def test_tanh_forms(cube):
    g = Graph(opset=17)
    x = g.add_input("x", T)
    if cube == "pow":
        x3 = g.make("onnx.Pow", [x, _c(g, 3.0)], [T])
    elif cube == "jax":  # jax2tf: Mul(x, Mul(x, Mul(0.044715, x))), the constant innermost
        cx = g.make("onnx.Mul", [_c(g, 0.044715), x], [T])
        x2 = g.make("onnx.Mul", [x, cx.outputs[0]], [T])
        x3 = g.make("onnx.Mul", [x, x2.outputs[0]], [T])
    else:
        sq = g.make("onnx.Mul", [x, x], [T])
        x3 = g.make("onnx.Mul", [sq.outputs[0], x], [T])
    p = x3 if cube == "jax" else g.make("onnx.Mul", [x3.outputs[0], _c(g, 0.044715)], [T])
    s = g.make("onnx.Add", [x, p.outputs[0]], [T])
    k = g.make("onnx.Mul", [s.outputs[0], _c(g, math.sqrt(2 / math.pi))], [T])
    t = g.make("onnx.Tanh", [k.outputs[0]], [T])
    a = g.make("onnx.Add", [t.outputs[0], _c(g, 1.0)], [T])
    h = g.make("onnx.Mul", [x, _c(g, 0.5)], [T])
    out = g.make("onnx.Mul", [h.outputs[0], a.outputs[0]], [T])
    g.outputs = [out.outputs[0]]
    check_pass(g, ["fuse-gelu"])
    assert ops(g) == {"fused.gelu": 1}
    assert out.outputs[0].producer.attrs["approximate"] == "tanh"


def test_wrong_constant_not_fused():
    g, _ = _erf_graph(True, "half_last")
    next(n for n in g.nodes if n.op == "onnx.Div").inputs[1].data = np.float32(1.5)
    check_pass(g, ["fuse-gelu"])
    assert "fused.gelu" not in ops(g)


@pytest.mark.parametrize("approx,opset", [("none", 14), ("tanh", 14), ("none", 17), ("tanh", 17)])
def test_torch_export(approx, opset):
    import torch.nn as nn

    g = torch_graph(nn.Sequential(nn.Linear(8, 16), nn.GELU(approximate=approx)), (2, 8), opset)
    check_pass(g, ["fuse-gelu"])
    gelus = [n for n in g.nodes if n.op == "fused.gelu"]
    assert len(gelus) == 1 and gelus[0].attrs["approximate"] == approx
    assert not {"onnx.Erf", "onnx.Tanh"} & set(ops(g))


def test_onnx_gelu_op():
    g = Graph(opset=20)
    x = g.add_input("x", T)
    n = g.make("onnx.Gelu", [x], [T], {"approximate": "tanh"})
    g.outputs = [n.outputs[0]]
    # the interpreter cannot run onnx Gelu (a function op in onnx.reference): compare
    # with the formula instead
    from qcc.interp import run
    from qcc.ir.verifier import verify
    from qcc.passmanager import PassContext, PassManager

    PassManager(["fuse-gelu"]).run(g, PassContext())
    verify(g)
    assert ops(g) == {"fused.gelu": 1}
    xv = np.linspace(-6, 6, 32, dtype=np.float32).reshape(2, 16)
    want = 0.5 * xv * (1 + np.tanh(math.sqrt(2 / math.pi) * (xv + 0.044715 * xv ** 3)))
    np.testing.assert_allclose(run(g, {"x": xv})[n.outputs[0].name], want, rtol=1e-5, atol=1e-6)
