"""Small integer graphs built op by op, compiled for the accelerator and run on its
simulator beside the reference interpreter."""

from __future__ import annotations

import json

import numpy as np

from qcc import arith
from qcc.backends.accel import run as accel_run
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.writer import write_files
from qcc.interp import run as ref_run
from qcc.ir import DType, Graph, TensorType
from qcc.ir.serialize import save
from qcc.ops import infer_types

HW = HwConfig(rows=8, cols=8, inp_kib=16, wgt_kib=16, acc_kib=8, param_kib=1)


class G:
    def __init__(self, seed: int = 0):
        self.g = Graph("t")
        self.rng = np.random.default_rng(seed)

    def input(self, shape, dt=DType.int8):
        return self.g.add_input(f"x{len(self.g.inputs)}", TensorType(dt, tuple(shape)))

    def const(self, arr, dt=None):
        arr = np.asarray(arr)
        return self.g.add_const(f"c{len(self.g.constants)}", arr, dt or DType.from_numpy(arr.dtype))

    def rand(self, shape, dt=DType.int8):
        return self.rng.integers(dt.min, dt.max + 1, shape).astype(dt.np)

    def mult(self, n=1, scale=0.01):
        m, s = arith.quantize_multiplier(np.full(n, scale))
        return (self.const(np.atleast_1d(m).astype(np.int32)),
                self.const(np.atleast_1d(s).astype(np.int32)))

    def op(self, op, inputs, attrs=None, output=False):
        out = self.g.new_value(f"v{len(self.g.nodes)}", TensorType(DType.int8, ()))
        node = self.g.add_node(op, inputs, [out], attrs or {})
        out.type = infer_types(node)[0]
        if output:
            self.g.outputs.append(out)
        return out

    def conv(self, x, m, k, **attrs):
        c = x.shape[1]
        w = self.const(self.rand((m, c, k, k)))
        b = self.const(self.rng.integers(-500, 500, m).astype(np.int32))
        a = dict(strides=[1, 1], pads=[0, 0, 0, 0], group=1)
        a.update(attrs)
        return self.op("qcc.conv2d", [x, w, b, *self.mult(m)], a)

    def feeds(self):
        return {v.name: self.rand(v.shape, v.dtype) for v in self.g.inputs}


def compile_and_compare(g: G, tmp, hw: HwConfig = HW, samples: int = 2) -> dict:
    """Compile ``g`` for the accelerator, run ``samples`` random inputs on the simulator and
    on the reference interpreter, assert bit-exact equality; returns the manifest's accel
    section."""
    out = tmp / "accel"
    out.mkdir(exist_ok=True)
    info = write_files(g.g, str(out), "m", hw, 4)
    save(g.g, str(out / "model.qcc"))
    manifest = json.loads(json.dumps({"accel": info["accel"]}))
    for _ in range(samples):
        feeds = g.feeds()
        got = accel_run(str(out), [feeds], manifest)[0]
        want = ref_run(g.g, feeds)
        for v in g.g.outputs:
            assert got[v.name].shape == want[v.name].shape, v.name
            bad = np.argwhere(got[v.name] != want[v.name])
            assert bad.size == 0, f"{v.name} differs at {bad[:5].tolist()}"
    return info["accel"]
