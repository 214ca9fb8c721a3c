"""Static bounds of the integer LSTM/GRU gate accumulators (check-headroom, issue 18):
the x path sums I products, the h path H, each then requantized through int64."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_testlib import data, helper_gru, helper_lstm, quantize

INT32_MAX = 2 ** 31 - 1


def _lstm_graph(i: int, h: int, x_zp: int, h_zp: int, wv: int):
    from qcc.ir import DType, Graph, TensorType, Value

    g = Graph(name="t", opset=17)
    x = g.add_input("x", TensorType(DType.int8, (2, 1, i)))
    w = g.add_const("w", np.full((1, 4 * h, i), wv, np.int8))
    r = g.add_const("r", np.full((1, 4 * h, h), wv, np.int8))
    c = [g.add_const(f"k{j}", np.full(4 * h, 1 << 30, np.int32)) for j in range(4)]
    out = Value("y", TensorType(DType.int8, (2, 1, 1, h)))
    return g, g.add_node("qcc.lstm", [x, w, r, None, *c], [out], {"x_zp": x_zp, "h_zp": h_zp,
                                                                 "hidden_size": h})


@settings(max_examples=40, deadline=None)
@given(i=st.integers(1, 1 << 17), x_zp=st.integers(-128, 127), h_zp=st.integers(-128, 127),
       wv=st.sampled_from([-128, -127, 1, 127]))
def test_gate_bound_is_exact_at_the_int32_edge(i, x_zp, h_zp, wv):
    """Constant weights make the bound the true worst case: accepted iff it fits int32."""
    from qcc.passes.check_headroom import analyse

    g, node = _lstm_graph(i, 2, x_zp, h_zp, wv)
    rows = analyse(g)[node.name]["bounds"]
    ax = i * max(abs(-128 - x_zp), abs(127 - x_zp)) * abs(wv)
    assert (rows["x-path acc"] >= 0) == (ax <= INT32_MAX)
    assert rows["h-path acc"] >= 0  # H = 2
    assert rows["x acc*mult"] >= 0 or ax * (1 << 30) >= 1 << 63


def test_quantized_lstm_and_gru_carry_gate_bounds(tmp_path):
    """The real quantizer's LSTM/GRU nodes are bounded, and the bound covers the largest
    gate accumulator any input can produce (sign-aligned extremes per row)."""
    from qcc.passes.check_headroom import analyse

    for kind, path, shape in (("lstm", helper_lstm(str(tmp_path / "l.onnx")), (5, 4)),
                              ("gru", helper_gru(str(tmp_path / "g.onnx")), (6, 5))):
        g = quantize(path, {"x": data(shape, 8)})
        node = next(n for n in g.nodes if n.op == f"qcc.{kind}")
        rows = analyse(g)[node.name]["bounds"]
        w = node.inputs[1].data.astype(np.int64)
        zp = int(node.attrs.get("x_zp", 0))
        amax = max(abs(-128 - zp), abs(127 - zp))
        worst = int(np.abs(w).sum(axis=-1).max()) * amax
        assert worst.bit_length() <= 31 - rows["x-path acc"]
        assert min(rows.values()) >= 0
