"""Integer LSTM/GRU through the Triton backend (x-path GEMM + recurrence kernel) vs the
reference interpreter, bit for bit: uni- and bidirectional LSTM, GRU with
linear_before_reset 1 (PyTorch) and 0, reverse direction."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from tkit import run_graph

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "recurrent"))
from rnn_testlib import data, helper_gru, quantize, torch_rnn  # noqa: E402

from qcc.interp import Interpreter  # noqa: E402


def _check(tmp_path, path, shape):
    calib = {"x": data(shape, 8)}
    g = quantize(str(path), calib)
    assert {n.op for n in g.nodes} & {"qcc.lstm", "qcc.gru"}
    feeds = {"x": data(shape, 1, seed=5)[0][None]}
    ref = Interpreter(g).run(feeds)
    got = run_graph(g, feeds, tmp_path / "tt")
    for k, v in ref.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)


@pytest.mark.parametrize("kind,bi", [("lstm", False), ("lstm", True), ("gru", True)])
def test_torch_rnn_bit_exact(tmp_path, kind, bi):
    path = torch_rnn(str(tmp_path / "m.onnx"), kind, bidirectional=bi, seq=5, inp=6, hidden=10)
    _check(tmp_path, path, (5, 6))


@pytest.mark.parametrize("lbr,direction", [(0, "forward"), (0, "reverse"), (1, "reverse")])
def test_gru_forms_bit_exact(tmp_path, lbr, direction):
    path = helper_gru(str(tmp_path / "g.onnx"), lbr=lbr, direction=direction)
    _check(tmp_path, path, (6, 5))
