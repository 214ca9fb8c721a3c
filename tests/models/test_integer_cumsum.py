"""Never-seen models (issue 12): RoBERTa-family encoders (RoBERTa, XLM-R, MPNet ...) make
their position ids with ``cumsum(input_ids != pad)`` and gather their all-zero token-type
buffer at those ids.  Every integer target used to stop with 'target c has no kernel for
onnx.CumSum', then 'GatherElements ... needs constant input 1'.  An integer CumSum is now
a scan of shifted integer adds (bit-exact with numpy, wrap-around included) and a gather
from a uniform constant is that constant."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model

torch = pytest.importorskip("torch")
PAD, SEQ, VOCAB, D = 1, 12, 40, 16


class RobertaEmbeddings(torch.nn.Module):
    """transformers' RobertaEmbeddings id paths, written out."""

    def __init__(self):
        super().__init__()
        self.register_buffer("token_type_ids", torch.zeros(1, 64, dtype=torch.long), persistent=False)
        self.word, self.pos, self.tt = (torch.nn.Embedding(VOCAB, D), torch.nn.Embedding(64, D),
                                        torch.nn.Embedding(1, D))
        self.lin = torch.nn.Linear(D, D)

    def forward(self, ids):
        mask = ids.ne(PAD).int()
        pos = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + PAD
        tt = torch.gather(self.token_type_ids.expand(ids.shape[0], -1), 1, pos)
        return self.lin(self.word(ids) + self.pos(pos) + self.tt(tt))


def _ids(n, rng):
    ids = rng.integers(0, VOCAB, (n, SEQ)).astype(np.int64)
    ids[:, -3:] = PAD  # trailing padding, and pads inside too (ids == 1 at random)
    return ids


@pytest.mark.parametrize("target", ["c", "accel"])
def test_roberta_position_ids(tmp_path, target):
    path = str(tmp_path / "emb.onnx")
    torch.manual_seed(0)
    with torch.no_grad():
        torch.onnx.export(RobertaEmbeddings().eval(), (torch.zeros(1, SEQ, dtype=torch.long),), path,
                          opset_version=14, input_names=["ids"], output_names=["y"], dynamo=False)
    assert {"CumSum", "GatherElements"} <= {n.op_type for n in onnx.load(path).graph.node}
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "calib.npz", ids=_ids(8, rng))
    test = {"ids": _ids(4, rng)}
    out = str(tmp_path / target)
    compile_model(path, CompileOptions(target=target, out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    assert np.array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 25.0


def _cumsum_model(path, axis, exclusive, reverse, dtype=TensorProto.INT32, shape=(1, 5, 7)):
    nodes = [helper.make_node("CumSum", ["x", "ax"], ["y"], exclusive=exclusive, reverse=reverse)]
    g = helper.make_graph(nodes, "cs", [helper.make_tensor_value_info("x", dtype, list(shape))],
                          [helper.make_tensor_value_info("y", dtype, list(shape))],
                          [numpy_helper.from_array(np.array(axis, np.int64), "ax")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 7
    onnx.save(m, path)


@pytest.mark.parametrize("axis,exclusive,reverse", [(1, 0, 0), (2, 1, 0), (-1, 0, 1), (1, 1, 1), (0, 1, 0)])
def test_integer_cumsum_wraps_like_numpy(tmp_path, axis, exclusive, reverse):
    """Inclusive/exclusive, forward/reverse, any axis (length 1 included), values at the
    int32 edges: the C output equals onnxruntime's CumSum, wrap-around included."""
    path = str(tmp_path / "cs.onnx")
    _cumsum_model(path, axis, exclusive, reverse)
    rng = np.random.default_rng(axis + 3 * exclusive + 5 * reverse)
    edges = np.array([2 ** 31 - 1, -2 ** 31, 2 ** 30, -1, 0, 1], np.int64)
    x = rng.choice(edges, (4, 5, 7)).astype(np.int32)
    np.savez(tmp_path / "calib.npz", x=x)
    out = str(tmp_path / "c")
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got = run_artifact(out, {"x": x}, "target")["y"]
    assert np.array_equal(got, ort_outputs(path, {"x": x}))
    assert np.array_equal(got, run_artifact(out, {"x": x}, "reference")["y"])
