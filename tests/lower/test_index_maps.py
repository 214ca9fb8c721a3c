"""The data-movement lowering of qcc.lower is target-neutral: its strided copies and index
tables, applied with plain numpy (the semantics docs/lowering.md gives the copy,
gather_table and concat families), reproduce the reference interpreter exactly.  Every
backend renders these calls; this checks the maps themselves, without any backend."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.interp import Interpreter
from qcc.ir import DType, Graph, TensorType
from qcc.ir.verifier import verify
from qcc.lower import lower
from qcc.ops import infer_types


def _i64(*v):
    return np.array(v, np.int64)


class G:
    def __init__(self, seed: int):
        self.g = Graph("moves")
        self.rng = np.random.default_rng(seed)
        self.feeds = {}

    def input(self, shape):
        v = self.g.add_input(f"x{len(self.g.inputs)}", TensorType(DType.int8, tuple(shape)))
        self.feeds[v.name] = self.rng.integers(-128, 128, shape).astype(np.int8)
        return v

    def const(self, arr, dt=None):
        arr = np.asarray(arr)
        return self.g.add_const(f"c{len(self.g.constants)}", arr, dt or DType.from_numpy(arr.dtype))

    def op(self, op, inputs, attrs=None, n_out=1, output=True):
        outs = [self.g.new_value("y", TensorType(DType.int8, ())) for _ in range(n_out)]
        node = self.g.add_node(op, inputs, outs, attrs or {})
        for v, t in zip(outs, infer_types(node)):
            v.type = t
        if output:
            self.g.outputs.extend(outs)
        return outs[0]


def run_moves(kp, feeds: dict) -> dict:
    """Execute a kernel program of data-movement calls with numpy."""
    data = {id(b.value): feeds[b.graph_name].ravel() for b in kp.inputs}

    def get(v):
        return np.asarray(v.data).ravel() if v.is_const else data[id(kp.root(v))]

    for c in kp.calls:
        y = kp.root(c.out)
        if c.family == "copy":
            grid = np.indices(c.dims).reshape(len(c.dims), -1)
            src = c.offset + (np.array(c.xs)[:, None] * grid).sum(axis=0)
            data[id(y)] = get(c.x)[src]
        elif c.family == "gather_table":
            idx = c.index.data.astype(np.int64)
            data[id(y)] = np.where(idx < 0, c.fill, get(c.x)[idx.clip(0)]).astype(y.dtype.np)
        elif c.family == "concat":
            buf = data.setdefault(id(y), np.zeros(y.type.numel, y.dtype.np))
            e = c.epi
            part = arith.requantize(get(c.x).astype(np.int64) - c.x_zp, e.mult.scalar,
                                    e.shift.scalar, e.zero_point, e.lo, e.hi)
            part = part.reshape(c.outer, c.inner)
            for r in range(c.outer):
                buf[r * c.stride + c.offset: r * c.stride + c.offset + c.inner] = part[r]
        else:
            raise AssertionError(f"unexpected family {c.family}")
    return {b.graph_name: data[id(kp.root(b.value))].reshape(b.value.shape) for b in kp.outputs}


def _check(gb: G) -> set:
    verify(gb.g)
    want = Interpreter(gb.g).run(gb.feeds)
    kp = lower(gb.g, "m")
    got = run_moves(kp, gb.feeds)
    for k, w in want.items():
        np.testing.assert_array_equal(got[k], w, err_msg=k)
    return kp.families


def test_every_map_op_reproduces_the_interpreter():
    gb = G(5)
    x = gb.input((2, 3, 4, 4))
    gb.op("onnx.Transpose", [x], {"perm": [0, 2, 3, 1]})
    gb.op("onnx.Slice", [x, gb.const(_i64(1, 3)), gb.const(_i64(3, 0)), gb.const(_i64(2, 3)),
                         gb.const(_i64(-1, -2))])
    gb.op("onnx.Pad", [x, gb.const(_i64(0, 0, 1, 2, 0, 1, 2, 0)), gb.const(np.array(-7, np.int8))])
    gb.op("onnx.Split", [x, gb.const(_i64(1, 2))], {"axis": 1}, n_out=2)
    gb.op("onnx.Tile", [x, gb.const(_i64(1, 2, 1, 3))])
    gb.op("onnx.Expand", [gb.input((3, 1, 4)), gb.const(_i64(2, 3, 5, 4))])
    gb.op("onnx.DepthToSpace", [gb.input((1, 8, 2, 3))], {"blocksize": 2, "mode": "CRD"})
    gb.op("onnx.SpaceToDepth", [x], {"blocksize": 2})
    gb.op("onnx.Gather", [x, gb.const(_i64(2, 0, -1))], {"axis": 3})
    gb.op("onnx.GatherElements", [x, gb.const(np.zeros((2, 3, 4, 2), np.int64))], {"axis": 3})
    gb.op("onnx.Concat", [x, gb.input((2, 1, 4, 4))], {"axis": 1})
    r = gb.op("onnx.Reshape", [x, gb.const(_i64(6, 16))], output=False)
    gb.op("onnx.Transpose", [r], {"perm": [1, 0]})
    gb.op("onnx.Flatten", [x], {"axis": 2})   # a view of an input made an output: a copy
    assert {"copy", "gather_table", "concat"} <= _check(gb)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=5), seed=st.integers(0, 999),
       data=st.data())
def test_random_transposes_and_slices(shape, seed, data):
    gb = G(seed)
    x = gb.input(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    gb.op("onnx.Transpose", [x], {"perm": list(perm)})
    ax = data.draw(st.integers(0, len(shape) - 1))
    start = data.draw(st.integers(-shape[ax], shape[ax] - 1))
    step = data.draw(st.sampled_from([1, 2, -1, -2]))
    end = data.draw(st.integers(-shape[ax] - 1, shape[ax]))
    gb.op("onnx.Slice", [x, gb.const(_i64(start)), gb.const(_i64(end)), gb.const(_i64(ax)),
                         gb.const(_i64(step))])
    _check(gb)
