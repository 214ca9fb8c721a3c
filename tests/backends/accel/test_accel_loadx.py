"""Gather with run-time indices (an embedding lookup) on the accelerator through ISA v2's
indexed load LOADX: bit-exact with the reference on graphs built here (int64 and int32
indices, negative ones, constant and computed tables, rows wider than the lanes, an inner
axis); LOADX's encoding, semantics and bounds."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import make
from qcc.ir import DType

from accel_testlib import G, compile_and_compare


def _with_indices(g, idx, n_rows, neg=True):
    feeds_fn = g.feeds

    def feeds():
        f = feeds_fn()
        lo = -n_rows if neg else 0
        f[idx.name] = g.rng.integers(lo, n_rows, idx.shape).astype(idx.dtype.np)
        return f
    g.feeds = feeds


@pytest.mark.parametrize("table,ishape,idt,axis", [
    ((50, 20), (1, 7), DType.int64, 0),        # embedding: int64 ids, 20 lanes = 3 blocks of 8
    ((9, 8), (4,), DType.int32, 0),
    ((3, 11, 5), (2, 3), DType.int64, 1),      # an inner axis: outer slices of the table
])
def test_runtime_gather_constant_table(table, ishape, idt, axis, tmp_path):
    g = G(seed=table[0])
    idx = g.input(ishape, idt)
    data = g.const(g.rand(table))
    g.op("onnx.Gather", [data, idx], {"axis": axis}, output=True)
    _with_indices(g, idx, table[axis])
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []
    assert any(ly["op"] == "onnx.Gather" and ly["kind"] == "dma" for ly in acc["layers"])


def test_runtime_gather_computed_int16_table(tmp_path):
    g = G(seed=2)
    x = g.input((6, 10), DType.int16)
    t = g.op("qcc.requant", [x, *g.mult(1, 0.7)], {"x_zp": 0})
    idx = g.input((5,), DType.int64)
    g.op("onnx.Gather", [t, idx], {"axis": 0}, output=True)
    _with_indices(g, idx, 6)
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []


def _machine(table: np.ndarray, idx_rows, bound):
    hw = HwConfig(rows=8, cols=8, inp_kib=16, wgt_kib=16, acc_kib=8, param_kib=1)
    m = Machine(hw, np.frombuffer(table.astype(np.int8).tobytes(), np.uint8).copy())
    m.acc[0:len(idx_rows), :2] = np.asarray(idx_rows, np.int64)
    m.run([make("CONFIG", reg="GATHER", a=bound)])
    return m


def test_loadx_semantics_and_bounds():
    table = np.arange(40, dtype=np.int8).reshape(5, 8)
    # 64-bit indices as (low, high) words: 3, -1 (= 4), 0
    m = _machine(table, [[3, 0], [-1, -1], [0, 0]], 5)
    m.run([make("LOADX", dtype="i8", dst=10, idx=0, rows=3, dram=0, stride=8, cols=6, wide=1)])
    assert (m.acc[10:13, :6] == table[[3, 4, 0], :6]).all()
    assert (m.acc[10:13, 6:] == 0).all()
    for words in ([5, 0], [-6, -1], [3, 1]):  # past the end, before the start, 2^32 + 3
        m = _machine(table, [words], 5)
        with pytest.raises(SimError, match="gather index"):
            m.run([make("LOADX", dtype="i8", dst=10, idx=0, rows=1, dram=0, stride=8, cols=8,
                        wide=1)])
    m = _machine(table, [[2, 7]], 5)   # narrow: lane 1 is ignored
    m.run([make("LOADX", dtype="i8", dst=10, idx=0, rows=1, dram=0, stride=8, cols=8)])
    assert (m.acc[10] == table[2]).all()
