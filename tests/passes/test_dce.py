"""dce: nodes nobody reads and unused constants disappear; everything live stays."""

from __future__ import annotations

import numpy as np
import pytest

from pass_testlib import LIGHT_MODELS, apply, check_pass, check_pass_on_light, f32, ops
from qcc.ir import Graph


def _graph() -> Graph:
    g = Graph("dce", opset=17)
    x = g.add_input("x", f32(2, 4))
    r = g.make("onnx.Relu", [x], [f32(2, 4)], name="relu")
    sp = g.make("onnx.Split", [r.outputs[0]], [f32(2, 2), f32(2, 2)], {"axis": 1},
                name="split")  # only its first output is read: the node stays
    s = g.make("onnx.Sigmoid", [x], [f32(2, 4)], name="dead_sigmoid")
    g.make("onnx.Tanh", [s.outputs[0]], [f32(2, 4)], name="dead_tanh")
    c = g.add_const("unused", np.ones(3, np.float32))
    g.make("onnx.Neg", [c], [f32(3)], name="dead_neg")
    kept = g.add_const("const_out", np.arange(3, dtype=np.float32))
    g.outputs += [sp.outputs[0], kept]  # a constant graph output is live too
    return g


def test_removes_dead_chains_and_constants():
    g = _graph()
    changed, report = check_pass(g, "dce")
    assert changed
    assert [n.name for n in g.nodes] == ["relu", "split"]
    assert report == {"nodes_removed": 3, "constants_removed": 1}
    assert set(g.constants) == {"const_out"}
    assert g.inputs[0].users == [g.node_by_name("relu")]  # the dead Sigmoid's use is gone


def test_idempotent_and_keeps_live_graphs():
    g = _graph()
    apply(g, "dce")
    changed, report = apply(g, "dce")
    assert not changed and report == {"nodes_removed": 0, "constants_removed": 0}


def _add_dead_branch(g: Graph) -> None:
    x = g.inputs[0]
    a = g.make("onnx.Relu", [x], [x.type], name="dead_relu")
    g.make("onnx.Mul", [a.outputs[0], a.outputs[0]], [x.type], name="dead_mul")
    g.add_const("dead_const", np.zeros(7, np.float32))


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name):
    g, changed, report = check_pass_on_light(name, "dce", prepare=_add_dead_branch)
    assert changed and report == {"nodes_removed": 2, "constants_removed": 1}
    assert "onnx.Mul" not in ops(g) or all(n.name != "dead_mul" for n in g.nodes)
    assert "dead_const" not in g.constants
