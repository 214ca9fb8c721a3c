"""Small recurrent models for the tests: torch exports (LSTM/GRU, uni- and
bidirectional, PyTorch's GRU with linear_before_reset=1) and onnx.helper models
for the forms torch does not export (GRU with linear_before_reset=0, clip)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def torch_rnn(path: str, kind: str, bidirectional: bool = False, seq: int = 10, inp: int = 8,
              hidden: int = 16, seed: int = 0) -> str:
    import torch

    torch.manual_seed(seed)
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = cls(inp, hidden, batch_first=True, bidirectional=bidirectional)
            self.fc = torch.nn.Linear(hidden * (2 if bidirectional else 1), 4)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y)

    net = Net().eval()
    torch.onnx.export(net, torch.randn(1, seq, inp), path, dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])
    return path


def helper_gru(path: str, lbr: int = 0, seq: int = 6, inp: int = 5, hidden: int = 7,
               seed: int = 0, **attrs) -> str:
    """x [1, seq, inp] -> Transpose -> GRU (ONNX layout) -> Y [seq, 1, 1, hidden], Y_h."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((1, 3 * hidden, inp)) * 0.5).astype(np.float32)
    r = (rng.standard_normal((1, 3 * hidden, hidden)) * 0.5).astype(np.float32)
    b = (rng.standard_normal((1, 6 * hidden)) * 0.2).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("GRU", ["xt", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hidden,
                              linear_before_reset=lbr, **attrs)]
    g = helper.make_graph(nodes, "gru", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, inp])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"),
                           numpy_helper.from_array(b, "B")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)
    return path


def quantize(path: str, calib: dict, **options):
    """The quantizing pipeline in memory (as ``qcc compile --calib``), the integer graph."""
    from qcc.frontend.onnx_import import import_model
    from qcc.passes.pipelines import pipeline_for
    from qcc.passmanager import PassContext, PassManager

    g = import_model(path, {})
    ctx = PassContext(options=dict(calib=calib, quantize=True, quiet=True, target="onnx", **options))
    PassManager(pipeline_for("onnx", True)).run(g, ctx)
    return g


def data(shape, n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def sqnr_db(ref: np.ndarray, out: np.ndarray) -> float:
    ref, out = np.asarray(ref, np.float64), np.asarray(out, np.float64)
    err = ((out - ref) ** 2).sum()
    return float("inf") if err == 0 else float(10 * np.log10((ref ** 2).sum() / err))




def helper_lstm(path: str, seq: int = 5, inp: int = 4, hidden: int = 6, seed: int = 0,
                direction: str = "forward", states_as_inputs: bool = False,
                state_inputs: bool = False) -> str:
    """x [1, seq, inp] -> Transpose -> LSTM with constant initial state -> Y, Y_h, Y_c;
    ``states_as_inputs``: h0 and c0 are split from a graph input ``state`` [2 D, 1, hidden];
    ``state_inputs``: h0 and c0 are graph inputs themselves (streaming models carry the
    state between calls)."""
    rng = np.random.default_rng(seed)
    nd = 2 if direction == "bidirectional" else 1
    w = (rng.standard_normal((nd, 4 * hidden, inp)) * 0.5).astype(np.float32)
    r = (rng.standard_normal((nd, 4 * hidden, hidden)) * 0.5).astype(np.float32)
    b = (rng.standard_normal((nd, 8 * hidden)) * 0.3).astype(np.float32)
    h0 = (rng.standard_normal((nd, 1, hidden)) * 0.3).astype(np.float32)
    c0 = (rng.standard_normal((nd, 1, hidden)) * 0.5).astype(np.float32)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("LSTM", ["xt", "W", "R", "B", "", "h0", "c0"], ["Y", "Y_h", "Y_c"],
                              hidden_size=hidden, direction=direction)]
    consts = ((w, "W"), (r, "R"), (b, "B")) + (() if states_as_inputs or state_inputs
                                                else ((h0, "h0"), (c0, "c0")))
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, inp])]
    if states_as_inputs:
        ins.append(helper.make_tensor_value_info("state", TensorProto.FLOAT, [2 * nd, 1, hidden]))
        nodes.insert(0, helper.make_node("Split", ["state"], ["h0", "c0"], axis=0))
    elif state_inputs:
        ins += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [nd, 1, hidden])
                for n in ("h0", "c0")]
    g = helper.make_graph(nodes, "lstm", ins,
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")],
                          [numpy_helper.from_array(a, n) for a, n in consts])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)
    return path
