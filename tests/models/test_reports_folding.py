"""Issue 12, report 3: constant folding follows ONNX index semantics (GatherElements
on the expanded token-type buffer of Hugging Face BERT exports), and a fold that
cannot be evaluated leaves its node in place instead of failing the compile."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from qcc.frontend.onnx_import import import_model
from qcc.interp import run

torch = pytest.importorskip("torch")


class BertEmbeddingIds(torch.nn.Module):
    """The id paths of transformers' BertEmbeddings: position ids sliced from a
    buffer by the input's length, token-type ids gathered from an expanded buffer."""

    def __init__(self, max_len: int = 128):
        super().__init__()
        self.register_buffer("position_ids", torch.arange(max_len).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros(1, max_len, dtype=torch.long), persistent=False)
        self.word, self.tt = torch.nn.Embedding(50, 8), torch.nn.Embedding(2, 8)
        self.pos = torch.nn.Embedding(max_len, 8)

    def forward(self, input_ids):
        position_ids = self.position_ids[:, 0:input_ids.shape[1]]
        buf = self.token_type_ids.expand(position_ids.shape[0], -1)
        tt = torch.gather(buf, dim=1, index=position_ids)
        return self.word(input_ids) + self.tt(tt) + self.pos(position_ids)


def test_bert_token_type_path_folds_and_matches_onnxruntime(tmp_path):
    path = str(tmp_path / "ids.onnx")
    torch.manual_seed(0)
    with torch.no_grad():
        torch.onnx.export(BertEmbeddingIds().eval(), (torch.zeros(1, 32, dtype=torch.long),), path,
                          opset_version=17, input_names=["ids"], dynamo=False,
                          dynamic_axes={"ids": {0: "batch", 1: "seq"}})
    assert "GatherElements" in {n.op_type for n in onnx.load(path).graph.node}
    g = import_model(path, {"ids": (1, 32)})
    assert "onnx.GatherElements" not in {n.op for n in g.nodes}  # folded, not left
    assert not g.meta.get("unfolded")
    ids = np.random.default_rng(0).integers(0, 50, (1, 32)).astype(np.int64)
    want = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"ids": ids})[0]
    np.testing.assert_allclose(run(g, {"ids": ids})[g.outputs[0].name], want, rtol=1e-6, atol=1e-6)


def _gather_model(data_shape, idx, axis):
    data = np.arange(int(np.prod(data_shape)), dtype=np.float32).reshape(data_shape)
    nodes = [helper.make_node("GatherElements", ["d", "i"], ["y"], axis=axis)]
    g = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [onnx.numpy_helper.from_array(data, "d"), onnx.numpy_helper.from_array(idx, "i")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    return m


@pytest.mark.parametrize("data_shape,idx_shape,axis", [
    ((1, 128), (1, 32), 1), ((3, 70), (2, 70), 0), ((2, 5, 40), (2, 3, 40), -2),
    ((4, 100), (4, 7), -1), ((2, 3, 4), (1, 2, 3), 2)])
def test_folded_gather_elements_equals_onnxruntime(data_shape, idx_shape, axis):
    """Constant GatherElements (more than 32 choices, negative axes and indices,
    indices smaller than data off the axis) folds to onnxruntime's values."""
    n = data_shape[axis]
    idx = np.random.default_rng(1).integers(-n, n, idx_shape).astype(np.int64)
    m = _gather_model(data_shape, idx, axis)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {})[0]
    g = import_model(m)
    assert not g.nodes and np.array_equal(g.outputs[0].data, want)


def test_a_fold_that_cannot_be_evaluated_leaves_the_node(monkeypatch):
    from qcc.ops import lookup

    op = lookup("onnx.GatherElements")

    def broken(node, args):
        raise ValueError("cannot evaluate here")

    monkeypatch.setattr(op, "run", broken)
    m = _gather_model((2, 40), np.zeros((2, 3), np.int64), 1)
    g = import_model(m)  # no error: the node stays
    assert [n.op for n in g.nodes] == ["onnx.GatherElements"]
    assert "cannot evaluate here" in next(iter(g.meta["unfolded"].values()))
