"""lower-index-maps: data movement with constant index operands becomes ``qcc.index_map``,
which the reference interpreter runs exactly like the op it replaces, and which lowers to
the very calls the replaced op lowered to (so the C program does not change)."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qcc.passes  # noqa: F401  (registers the passes)
from qcc.errors import QccError
from qcc.interp import Interpreter
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
from qcc.lower import lower
from qcc.ops import infer_types
from qcc.ops.integer_move import MOVE_OPS
from qcc.passes.pipelines import pipeline_for
from qcc.passmanager import PassContext, get_pass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _i64(*v):
    return np.array(v, np.int64)


class G:
    def __init__(self, seed: int, dt: DType = DType.int8):
        self.g = Graph("moves")
        self.rng = np.random.default_rng(seed)
        self.feeds, self.dt = {}, dt

    def input(self, shape, dt=None):
        dt = dt or self.dt
        v = self.g.add_input(f"x{len(self.g.inputs)}", TensorType(dt, tuple(shape)))
        info = np.iinfo(dt.np) if not dt.is_float else None
        self.feeds[v.name] = (self.rng.integers(info.min, int(info.max) + 1, shape) if info
                              else self.rng.standard_normal(shape)).astype(dt.np)
        return v

    def const(self, arr):
        arr = np.asarray(arr)
        return self.g.add_const(f"c{len(self.g.constants)}", arr, DType.from_numpy(arr.dtype))

    def op(self, op, inputs, attrs=None, n_out=1, output=True):
        outs = [self.g.new_value("y", TensorType(self.dt, ())) for _ in range(n_out)]
        node = self.g.add_node(op, inputs, outs, attrs or {})
        for v, t in zip(outs, infer_types(node)):
            v.type = t
        if output:
            self.g.outputs.extend(outs)
        return outs[0]


def _every_move(gb: G):
    x = gb.input((2, 3, 4, 4))
    gb.op("onnx.Transpose", [x], {"perm": [0, 2, 3, 1]})
    gb.op("onnx.Slice", [x, gb.const(_i64(1, 3)), gb.const(_i64(3, 0)), gb.const(_i64(2, 3)),
                         gb.const(_i64(-1, -2))])
    gb.op("onnx.Pad", [x, gb.const(_i64(0, 0, 1, 2, 0, 1, 2, 0)),
                       gb.const(np.array(-7 if gb.dt.min < 0 else 7, gb.dt.np))])
    gb.op("onnx.Pad", [x, gb.const(_i64(0, 0, 1, 1, 0, 0, 2, 0))], {"mode": "reflect"})
    gb.op("onnx.Split", [x, gb.const(_i64(1, 2))], {"axis": 1}, n_out=2)
    gb.op("onnx.Split", [x, gb.const(_i64(2, 2))], {"axis": 2}, n_out=2, output=False)
    gb.g.outputs.append(gb.g.nodes[-1].outputs[1])   # only the second half is used
    gb.op("onnx.Tile", [x, gb.const(_i64(1, 2, 1, 3))])
    gb.op("onnx.Expand", [gb.input((3, 1, 4)), gb.const(_i64(2, 3, 5, 4))])
    gb.op("onnx.DepthToSpace", [gb.input((1, 8, 2, 3))], {"blocksize": 2, "mode": "CRD"})
    gb.op("onnx.SpaceToDepth", [x], {"blocksize": 2})
    gb.op("onnx.Gather", [x, gb.const(_i64(2, 0, -1))], {"axis": 3})
    gb.op("onnx.GatherElements", [x, gb.const(gb.rng.integers(0, 4, (2, 3, 4, 2)))],
          {"axis": 3})
    gb.op("onnx.GatherND", [x, gb.const(_i64(1, 2, 3).reshape(1, 3))])
    r = gb.op("onnx.Reshape", [x, gb.const(_i64(6, 16))], output=False)
    gb.op("onnx.Transpose", [r], {"perm": [1, 0]})
    ids = gb.input((5,), DType.int64)
    gb.feeds[ids.name] = gb.rng.integers(0, 3, 5)
    gb.op("onnx.Gather", [x, ids], {"axis": 1})     # run-time ids: left alone


def _lower_maps(g: Graph) -> dict:
    ctx = PassContext()
    for name in ("lower-index-maps", "dce"):
        get_pass(name).fn(g, ctx)
    verify(g)
    return ctx.report["lower-index-maps"]


def _calls(g: Graph) -> list:
    """The kernel program's calls as plain data (node-independent)."""
    kp = lower(g, "m")
    out = []
    for c in kp.calls:
        row = [c.family, c.out.name]
        for f in ("dims", "xs", "offset", "esize", "fill", "count"):
            row.append(getattr(c, f, None))
        idx = getattr(c, "index", None)
        row.append(None if idx is None else (idx.key, idx.kind, idx.dtype, idx.data.tolist()))
        out.append(row)
    return out


@pytest.mark.parametrize("dt", [DType.int8, DType.uint8, DType.int16, DType.int32])
def test_every_move_becomes_an_index_map_with_the_same_values_and_calls(dt):
    gb = G(3, dt)
    _every_move(gb)
    verify(gb.g)
    want = Interpreter(gb.g).run(gb.feeds)
    before = _calls(gb.g)
    report = _lower_maps(gb.g)
    assert report["rewritten"] == 14 and report["ops"]["Split"] == 2
    ops = [n.op for n in gb.g.nodes]
    assert not set(ops) & set(MOVE_OPS)
    assert ops.count("onnx.Gather") == 1 and ops.count("onnx.Reshape") == 1
    maps = [n for n in gb.g.nodes if n.op == "qcc.index_map"]
    tables = [n for n in maps if len(n.inputs) == 2]
    assert len(maps) == 15 and 0 < len(tables) < len(maps)   # both forms occur
    assert any(n.attr("fill") == (-7 if dt.min < 0 else 7) for n in tables)
    got = Interpreter(gb.g).run(gb.feeds)
    for k, w in want.items():
        assert got[k].dtype == w.dtype
        np.testing.assert_array_equal(got[k], w, err_msg=k)
    assert _calls(gb.g) == before


def test_transposes_and_slices_become_the_strided_form():
    gb = G(1)
    x = gb.input((2, 3, 5))
    gb.op("onnx.Transpose", [x], {"perm": [2, 0, 1]})
    gb.op("onnx.Slice", [x, gb.const(_i64(4)), gb.const(_i64(0)), gb.const(_i64(2)),
                         gb.const(_i64(-2))])
    _lower_maps(gb.g)
    t, s = gb.g.nodes
    assert (t.attrs, len(t.inputs)) == ({"shape": [5, 2, 3], "offset": 0, "strides": [1, 15, 5]},
                                        1)
    assert s.attrs == {"shape": [2, 3, 2], "offset": 4, "strides": [15, 5, -2]}


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=5), seed=st.integers(0, 999),
       data=st.data())
def test_random_moves_keep_every_value(shape, seed, data):
    gb = G(seed, data.draw(st.sampled_from([DType.int8, DType.int16, DType.int64])))
    x = gb.input(shape)
    gb.op("onnx.Transpose", [x], {"perm": list(data.draw(st.permutations(range(len(shape)))))})
    ax = data.draw(st.integers(0, len(shape) - 1))
    start = data.draw(st.integers(-shape[ax], shape[ax] - 1))
    step = data.draw(st.sampled_from([1, 2, -1, -2]))
    end = data.draw(st.integers(-shape[ax] - 1, shape[ax]))
    gb.op("onnx.Slice", [x, gb.const(_i64(start)), gb.const(_i64(end)), gb.const(_i64(ax)),
                         gb.const(_i64(step))])
    pads = data.draw(st.lists(st.integers(0, 2), min_size=2 * len(shape),
                              max_size=2 * len(shape)))
    gb.op("onnx.Pad", [x, gb.const(_i64(*pads)), gb.const(np.array(-1, gb.dt.np))])
    verify(gb.g)
    want = Interpreter(gb.g).run(gb.feeds)
    _lower_maps(gb.g)
    assert all(n.op == "qcc.index_map" for n in gb.g.nodes)
    got = Interpreter(gb.g).run(gb.feeds)
    for k, w in want.items():
        np.testing.assert_array_equal(got[k], w, err_msg=k)


def test_float_moves_and_constant_data_are_left_alone():
    gb = G(0, DType.float32)
    x = gb.input((2, 3))
    gb.op("onnx.Transpose", [x], {"perm": [1, 0]})
    assert _lower_maps(gb.g)["rewritten"] == 0
    assert gb.g.nodes[0].op == "onnx.Transpose"


def test_index_map_checks_its_descriptor():
    g = Graph("bad")
    x = g.add_input("x", TensorType(DType.int8, (2, 3)))
    y = g.new_value("y", TensorType(DType.int8, (3,)))
    n = g.add_node("qcc.index_map", [x], [y], {"shape": [3], "offset": 4, "strides": [1]})
    with pytest.raises(QccError, match="offset 4 and strides \\[1\\] over \\[3\\] leave the 6"):
        infer_types(n)
    t = g.add_const("t", np.array([0, 6, -1], np.int32))
    n2 = g.add_node("qcc.index_map", [x, t], [g.new_value("z", TensorType(DType.int8, (3,)))])
    with pytest.raises(QccError, match=r"index entries must lie in \[-1, 5\]"):
        infer_types(n2)


def test_integer_targets_run_the_pass_after_quantize():
    for target in ("c", "triton", "accel"):
        pipe = pipeline_for(target)
        assert pipe.index("quantize") < pipe.index("lower-index-maps") < \
            pipe.index("check-integer-only")
    assert "lower-index-maps" not in pipeline_for("onnx", quantize=True)


def _qcc(*args):
    return subprocess.run(["qcc", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.slow
def test_text_recog_reference_runs_the_maps_and_equals_c(tmp_path):
    """A real model: every Transpose/Slice/Gather of the CRNN is a qcc.index_map in the
    compiled IR, and `qcc run --engine reference` (the interpreter on that IR) equals the
    generated C bit for bit."""
    ex = os.path.join(ROOT, "examples", "text_recog")
    out = tmp_path / "c"
    r = _qcc("compile", os.path.join(ex, "text_recog_opset17.onnx"), "--calib",
             os.path.join(ex, "calib.npz"), "--max-calib-samples", "8", "--target", "c",
             "-o", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    ir = (out / "model.qcc").read_text()
    assert "qcc.index_map" in ir and "onnx.Transpose" not in ir
    with open(out / "manifest.json") as f:
        assert json.load(f)["passes"]["lower-index-maps"]["rewritten"] >= 9
    res = {}
    for engine in ("reference", "target"):
        path = tmp_path / f"{engine}.npz"
        r = _qcc("run", str(out), "--inputs", os.path.join(ex, "test.npz"), "--engine", engine,
                 "-o", str(path))
        assert r.returncode == 0, r.stderr
        with np.load(path) as z:
            res[engine] = {k: z[k] for k in z.files}
    assert res["reference"].keys() == res["target"].keys()
    for k in res["reference"]:
        np.testing.assert_array_equal(res["reference"][k], res["target"][k], err_msg=k)
