"""The integer recurrent arithmetic (compiler/ops/integer_rnn.py): gate tables,
interpolated lookups, cell-state format, and the ops' type checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qcc.errors import QccError
from qcc.ir import DType, Graph, TensorType
from qcc.ops import infer_types
from qcc.ops.integer_rnn import cell_frac, gate_tables, lut16

SIG, TANH = gate_tables()
ALL = np.arange(-(1 << 15), 1 << 15, dtype=np.int64)


def _float(fn, g):
    x = np.asarray(g, np.float64) / 4096.0
    return (1 / (1 + np.exp(-x)) if fn == "sig" else np.tanh(x)) * 32768.0


@pytest.mark.parametrize("fn,table,tol", [("sig", SIG, 2), ("tanh", TANH, 4)])
def test_lut_matches_the_function_on_every_int16_input(fn, table, tol):
    y = lut16(ALL, table)
    ref = _float(fn, ALL)
    assert np.abs(y - ref).max() <= tol
    assert np.all(np.diff(y) >= 0)  # monotone: no interpolation step goes backwards
    lo = 0 if fn == "sig" else -32767
    assert y.min() >= lo and y.max() <= 32767


@given(st.integers(-(1 << 15), (1 << 15) - 1))
def test_lut_index_stays_inside_the_table(g):
    u = g + (1 << 15)
    assert 0 <= u >> 7 <= 511  # the +1 neighbour exists: 513 entries
    assert lut16(np.array([g]), TANH).dtype == np.int64


@pytest.mark.parametrize("absmax,frac", [(0.5, 15), (1.0, 14), (3.0, 13), (7.9, 11),
                                          (100.0, 8), (1e6, 0), (float("inf"), 15)])
def test_cell_frac_covers_the_range(absmax, frac):
    cf = cell_frac(absmax)
    assert cf == frac
    if np.isfinite(absmax) and absmax < 2 ** 15:
        assert absmax * 2.0 ** cf <= 32767


def _lstm_graph(i=3, h=2, nd=1, s=4, b=1, table_len=513, w_dt=DType.int8):
    g = Graph("t")
    x = g.add_input("x", TensorType(DType.int8, (s, b, i)))
    c = g.add_const
    w = c("w", np.zeros((nd, 4 * h, i), np.int8), w_dt)
    r = c("r", np.zeros((nd, 4 * h, h), np.int8), DType.int8)
    bias = c("b", np.zeros((nd, 4 * h), np.int32), DType.int32)
    m = c("m", np.full(nd * 4 * h, 1 << 30, np.int32), DType.int32)
    sh = c("s", np.full(nd * 4 * h, 20, np.int32), DType.int32)
    t1 = c("sig", np.zeros(table_len, np.int16), DType.int16)
    t2 = c("tanh", np.zeros(table_len, np.int16), DType.int16)
    mo, so = c("mo", np.array([1 << 30], np.int32), DType.int32), c("so", np.array([40], np.int32), DType.int32)
    outs = [g.new_value(n, TensorType(DType.float32, ())) for n in ("y", "yh", "yc")]
    return g.add_node("qcc.lstm", [x, w, r, bias, m, sh, m, sh, None, None, t1, t2, mo, so], outs,
                      {"hidden_size": h, "cell_frac": 11}, name="lstm")


def test_lstm_types():
    ts = infer_types(_lstm_graph())
    assert [t.dtype for t in ts] == [DType.int8, DType.int8, DType.int16]
    assert [t.shape for t in ts] == [(4, 1, 1, 2), (1, 1, 2), (1, 1, 2)]


@pytest.mark.parametrize("kw,needle", [({"table_len": 256}, "table"), ({"w_dt": DType.int4}, "w")])
def test_lstm_type_errors_name_the_input(kw, needle):
    with pytest.raises(QccError, match=needle):
        infer_types(_lstm_graph(**kw))


def test_lstm_accumulator_overflow_is_caught_by_the_interpreter():
    from qcc.ops import run_node

    i = 140000  # 128 * 128 * 140000 > 2^31
    node = _lstm_graph(i=i, s=1)
    args = [v.data if v is not None and v.is_const else None for v in node.inputs]
    args[0] = np.full((1, 1, i), -128, np.int8)
    args[1] = np.full((1, 8, i), -128, np.int8)
    with pytest.raises(QccError, match="overflow"):
        run_node(node, args)
