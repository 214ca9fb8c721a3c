"""IR text printer, save/load round trip and the verifier's invariants."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.errors import VerificationError
from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir import DType, Graph, Node, QParams, TensorType, Value
from qcc.ir.printer import print_graph
from qcc.ir.serialize import load, save
from qcc.ir.verifier import verify
from qcc_testlib import conv_model, light


def f32(*shape) -> TensorType:
    return TensorType(DType.float32, shape)


def small_graph() -> Graph:
    """x[1,4] -> MatMul(w) -> Relu -> out, with a Clip reading an omitted input."""
    g = Graph("small", opset=17)
    x = g.add_input("x", f32(1, 4))
    w = g.add_const("w", np.arange(16, dtype=np.float32).reshape(4, 4) / 10)
    mm = g.make("onnx.MatMul", [x, w], [f32(1, 4)], name="mm")
    r = g.make("onnx.Relu", [mm.outputs[0]], [f32(1, 4)], name="relu")
    hi = g.add_const("hi", np.array(1.5, np.float32))
    c = g.make("onnx.Clip", [r.outputs[0], None, hi], [f32(1, 4)], name="clip")
    g.outputs.append(c.outputs[0])
    return g


FEEDS = {"x": np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)}


# ------------------------------------------------------------------------- printer
def test_printer_text_format():
    text = print_graph(small_graph())
    lines = text.splitlines()
    assert lines[0] == 'graph "small" opset=17 {'
    assert lines[1] == "  input %x : f32[1,4]"
    assert lines[2] == "  const %w : f32[4,4]  # = [0. ,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1. ,1.1,1.2,1.3,1.4,1.5]"
    assert lines[3].startswith("  const %hi : f32[]  # = ")
    assert lines[4] == "  %mm = onnx.MatMul(%x, %w) : f32[1,4]  @mm"
    assert lines[5] == "  %relu = onnx.Relu(%mm) : f32[1,4]  @relu"
    assert lines[6] == "  %clip = onnx.Clip(%relu, _, %hi) : f32[1,4]  @clip"
    assert lines[7:] == ["  output %clip", "}"]


def test_docs_ir_example_is_what_the_printer_prints():
    """docs/ir.md shows print_graph(import_model(conv_model(17))) verbatim."""
    import os

    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "ir.md")
    with open(doc) as f:
        text = f.read()
    printed = print_graph(import_model(conv_model(17))).rstrip("\n")
    assert "```\n" + printed + "\n```" in text, printed


def test_printer_attributes_qparams_and_odd_names():
    g = Graph("odd names", opset=17)
    x = g.add_input("input:0", TensorType(DType.int8, (1, 3)), QParams(0.5, 3))
    n = g.make("onnx.Transpose", [x], [TensorType(DType.int8, (3, 1))], {"perm": [1, 0]},
               name="a b", out_names=["/t/out 0"])
    n.outputs[0].qparams = QParams(0.5, 3)
    g.outputs.append(n.outputs[0])
    text = print_graph(g)
    assert 'graph "odd names"' in text
    assert "input %input:0 : i8[1,3]{s=0.5,zp=3}" in text
    assert '%"/t/out 0" = onnx.Transpose(%input:0) {"perm": [1, 0]} : i8[3,1]{s=0.5,zp=3}  @"a b"' in text


# --------------------------------------------------------------------- round trip
def _roundtrip(g: Graph, tmp_path) -> Graph:
    path = str(tmp_path / "g.qcc")
    save(g, path)
    g2 = load(path)
    assert print_graph(g2) == print_graph(g)
    return g2


def test_roundtrip_small_graph_runs_identically(tmp_path):
    g = small_graph()
    g2 = _roundtrip(g, tmp_path)
    verify(g2)
    a, b = run(g, FEEDS), run(g2, FEEDS)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_roundtrip_attributes_arrays_and_qparams(tmp_path):
    g = Graph("attrs", opset=17)
    x = g.add_input("x", f32(2, 3), QParams(0.25, -4))
    big = np.arange(40, dtype=np.float32).reshape(5, 8)  # above the inline limit: goes to .npz
    attrs = {"i": 3, "f": 0.1, "s": "nearest", "ints": [1, -2], "floats": [0.5, 1e-9],
             "strs": ["a", "b c"], "small": np.array([1, 2], np.int64), "big": big, "empty": []}
    n = g.make("qcc.whatever", [x], [TensorType(DType.int8, (2, 3))], attrs, name="n")
    n.outputs[0].qparams = QParams(np.array([0.1, 0.2, 0.3]), np.array([0, 1, -1]), bits=4, axis=1)
    wq = g.add_const("wq", np.array([[1, -8], [7, 0]], np.int8), DType.int4,
                     QParams(np.array([0.5, 0.25, 1.0, 2.0]), 0, bits=4, axis=0, group_size=1,
                             group_axis=1))
    g.outputs.extend([n.outputs[0], wq])
    g2 = _roundtrip(g, tmp_path)
    n2 = g2.node_by_name("n")
    for k, v in attrs.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(n2.attrs[k], v)
            assert n2.attrs[k].dtype == v.dtype
        else:
            assert n2.attrs[k] == v, k
    q = n2.outputs[0].qparams
    assert (q.bits, q.axis) == (4, 1) and list(q.zero_point) == [0, 1, -1]
    np.testing.assert_array_equal(q.scale, [0.1, 0.2, 0.3])
    wq2 = g2.constants["wq"]
    assert wq2.dtype is DType.int4 and wq2.qparams.group_size == 1 and wq2.qparams.group_axis == 1
    np.testing.assert_array_equal(wq2.data, wq.data)
    assert g2.inputs[0].qparams.zero_point[0] == -4


def test_roundtrip_imported_models(tmp_path):
    g = import_model(conv_model(13))
    g2 = _roundtrip(g, tmp_path)
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(run(g, {"x": x})["y"], run(g2, {"x": x})["y"])
    sq = import_model(light("squeezenet"))
    verify(_roundtrip(sq, tmp_path))


# ------------------------------------------------------------------------ verifier
def test_verifier_accepts_valid_graphs():
    verify(small_graph())
    verify(import_model(light("squeezenet")))


def _broken(kind: str) -> Graph:
    g = small_graph()
    relu = g.node_by_name("relu")
    if kind == "dangling input":
        ghost = Value("ghost", f32(1, 4))
        relu.set_input(0, ghost)
    elif kind == "removed producer":
        g.nodes.remove(g.node_by_name("mm"))
    elif kind == "double definition":
        relu.outputs[0].name = "x"
    elif kind == "constant also a node result":
        g.constants["relu"] = relu.outputs[0]
        relu.outputs[0].data = np.zeros((1, 4), np.float32)
    elif kind == "cycle":
        mm = g.node_by_name("mm")
        mm.set_input(0, g.node_by_name("clip").outputs[0])
    elif kind == "use before definition":
        g.nodes.reverse()
    elif kind == "wrong recorded shape":
        relu.outputs[0].type = f32(1, 5)
    elif kind == "wrong recorded dtype":
        relu.outputs[0].type = TensorType(DType.float16, (1, 4))
    elif kind == "unregistered op":
        relu.op = "qcc.no_such_op"
    elif kind == "dangling graph output":
        g.outputs.append(Value("orphan", f32(1)))
    elif kind == "constant data mismatch":
        g.constants["w"].data = g.constants["w"].data.astype(np.float64)
    elif kind == "duplicate node name":
        g.node_by_name("clip").name = "relu"
    elif kind == "stale use list":
        g.constants["w"].users.clear()
    return g


@pytest.mark.parametrize("kind,needles", [
    ("dangling input", ("'relu'", "%ghost", "not defined")),
    ("removed producer", ("'relu'", "%mm", "not defined")),
    ("double definition", ("%x", "defined twice")),
    ("constant also a node result", ("%relu", "defined twice")),
    ("cycle", ("cycle", "'mm'", "'clip'")),
    ("use before definition", ("used before its definition",)),
    ("wrong recorded shape", ("'relu'", "f32[1,5]", "f32[1,4]")),
    ("wrong recorded dtype", ("'relu'", "f16[1,4]")),
    ("unregistered op", ("'relu'", "qcc.no_such_op")),
    ("dangling graph output", ("%orphan", "dangling")),
    ("constant data mismatch", ("%w", "float64")),
    ("duplicate node name", ("'relu'", "twice")),
    ("stale use list", ("%w", "'mm'")),
])
def test_verifier_catches(kind, needles):
    g = _broken(kind)
    with pytest.raises(VerificationError) as e:
        verify(g)
    for n in needles:
        assert n in str(e.value), (kind, str(e.value))


def test_node_set_input_keeps_use_lists():
    g = small_graph()
    x, w = g.inputs[0], g.constants["w"]
    mm = g.node_by_name("mm")
    mm.set_input(1, x)
    assert mm not in w.users and x.users.count(mm) == 2
    assert isinstance(mm, Node)


@pytest.mark.parametrize("damage,needles", [
    ("no_npz", ["m.qcc.npz", "does not exist"]),
    ("bad_dtype", ["line 3", "unknown dtype 'q9'"]),
    ("undefined_use", ["line 6", "'nowhere'"]),
    ("garbage", ["cannot parse line"]),
    ("empty", ["bad header"]),
])
def test_load_damaged_file_names_file_and_line(tmp_path, damage, needles):
    from qcc.errors import QccError

    path = str(tmp_path / "m.qcc")
    save(small_graph(), path)
    lines = open(path).read().splitlines()
    if damage == "no_npz":
        (tmp_path / "m.qcc.npz").unlink()
    elif damage == "bad_dtype":
        lines[2] = lines[2].replace("f32[4,4]", "q9[4,4]")
    elif damage == "undefined_use":
        lines[5] = lines[5].replace("%mm)", "%nowhere)")
    elif damage == "garbage":
        lines[4] = "%y = what is this"
    else:
        lines = []
    if damage != "no_npz":
        (tmp_path / "m.qcc").write_text("\n".join(lines) + "\n")
    with pytest.raises(QccError) as e:
        load(path)
    for n in needles:
        assert n in str(e.value), (n, str(e.value))


def test_clone_is_independent_and_handles_deep_graphs():
    import numpy as np

    from qcc.interp import run
    from qcc.ir import DType, Graph, TensorType

    g = Graph("deep")
    x = g.add_input("x", TensorType(DType.float32, (4,)))
    one = g.add_const("one", np.ones(4, np.float32))
    v = x
    for i in range(3000):  # copy.deepcopy recurses along use lists and fails here
        v = g.make("onnx.Add", [v, one], [TensorType(DType.float32, (4,))], name=f"a{i}").outputs[0]
    g.outputs.append(v)
    g.meta["ranges"] = {"x": (0.0, 1.0)}
    h = g.clone()
    feeds = {"x": np.arange(4, dtype=np.float32)}
    assert np.array_equal(run(h, feeds)[v.name], run(g, feeds)[v.name])
    h.constants["one"].data[:] = 2
    h.meta["ranges"]["x"] = (5.0, 6.0)
    h.nodes[0].attrs["k"] = 1
    assert g.constants["one"].data[0] == 1 and g.meta["ranges"]["x"] == (0.0, 1.0)
    assert "k" not in g.nodes[0].attrs
    assert all(a is not b for a, b in zip(g.nodes, h.nodes))
    assert h.nodes[5].inputs[0] is h.nodes[4].outputs[0]
