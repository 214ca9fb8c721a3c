"""Quantize rules for transformer blocks on a small encoder built here (fast),
and on examples/tiny_bert for both opsets (slow)."""

from __future__ import annotations

import collections
import os

import numpy as np
import onnxruntime as ort
import pytest
from tx_testlib import (TINY_BERT, compile_graph, cosine, encoder_data, encoder_onnx,
                        samples)

from qcc.interp import Interpreter
from qcc.ir.verifier import float_offenders


def _ort(path: str):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module", params=[17, 14])
def encoder(request, tmp_path_factory):
    path = encoder_onnx(str(tmp_path_factory.mktemp("enc") / f"enc{request.param}.onnx"),
                        opset=request.param)
    g, ctx = compile_graph(path, encoder_data(24))
    return path, g, ctx


def test_encoder_is_integer_only_with_transformer_ops(encoder):
    _, g, ctx = encoder
    ops = collections.Counter(n.op for n in g.nodes)
    assert ops["qcc.isoftmax"] == 1 and ops["qcc.ilayernorm"] == 3
    # GELU after the linear: gelu=auto measures the exact int8 table as the more accurate form
    assert ops["qcc.igelu"] == 0 and [n.attrs["fn"] for n in g.nodes if n.op == "qcc.lut"] == ["Gelu"]
    assert ops["qcc.matmul"] == 2                       # QK^T (int32 scores) and PV
    assert not float_offenders(g)
    sm = next(n for n in g.nodes if n.op == "qcc.isoftmax")
    assert sm.inputs[0].dtype.name == "int32" and len(sm.inputs) == 4   # fed by the accumulator, masked
    assert ctx.report["check-headroom"]["min_bits"] >= 0


def test_encoder_close_to_float_and_mask_exact(encoder):
    path, g, _ = encoder
    sess, it = _ort(path), Interpreter(g)
    sm = next(n for n in g.nodes if n.op == "qcc.isoftmax").outputs[0].name
    for feed in samples(encoder_data(6, seed=7)):
        ref = sess.run(None, feed)[0]
        out = it.run(feed, capture={sm})
        assert cosine(out["y"], ref) >= 0.99
        p = out[sm]                                                   # [1, heads, S, S] uint8
        masked = feed["attention_mask"][0] == 0
        assert np.all(p[..., masked] == 0)                            # exactly zero
        rows = p.astype(np.int64).sum(-1)
        assert np.all(np.abs(rows - 256) <= 8)                        # rows sum to ~1


def test_softmax_variant_option_and_bad_value(tmp_path):
    path = encoder_onnx(str(tmp_path / "e.onnx"))
    g, _ = compile_graph(path, encoder_data(8), softmax="shift")
    assert {n.attrs["variant"] for n in g.nodes if n.op == "qcc.isoftmax"} == {"shiftmax"}
    with pytest.raises(Exception, match="softmax='fast'"):
        compile_graph(path, encoder_data(8), softmax="fast")


def test_residual_width_option(tmp_path):
    path = encoder_onnx(str(tmp_path / "e.onnx"))
    for bits, dt in ((16, "int16"), (8, "int8")):
        g, _ = compile_graph(path, encoder_data(8), residual_bits=bits)
        ln_in = {n.inputs[0].dtype.name for n in g.nodes if n.op == "qcc.ilayernorm"
                 and n.inputs[0].producer is not None and n.inputs[0].producer.op == "qcc.add"}
        assert ln_in == {dt}


# ------------------------------------------------------------------ tiny_bert (slow)
def _bert(opset: int, **options):
    path = os.path.join(TINY_BERT, f"tiny_bert_opset{opset}.onnx")
    calib = dict(np.load(os.path.join(TINY_BERT, "calib.npz")))
    g, ctx = compile_graph(path, calib, {"input_ids": [1, 32], "attention_mask": [1, 32]}, **options)
    return path, g, ctx


@pytest.mark.slow
@pytest.mark.parametrize("opset", [17, 14])
def test_tiny_bert_cosine_every_sample(opset):
    path, g, _ = _bert(opset)
    assert not float_offenders(g)
    test = dict(np.load(os.path.join(TINY_BERT, "test.npz")))
    labels = np.load(os.path.join(TINY_BERT, "test_labels.npy"))
    sess, it = _ort(path), Interpreter(g)
    cos, hits = [], 0
    for i, feed in enumerate(samples(test)):
        ref = sess.run(None, feed)
        out = it.run(feed)
        cos.append(cosine(out["last_hidden_state"], ref[0]))
        hits += int(np.argmax(out["logits"]) == labels[i])
    assert min(cos) >= 0.99, cos
    assert hits >= 0.9 * len(cos)


@pytest.mark.parametrize("opset", [17, 14])
def test_qdq_export_runs_in_onnxruntime(tmp_path, opset):
    from qcc.driver import CompileOptions, compile_model

    path = encoder_onnx(str(tmp_path / "e.onnx"), opset=opset)
    calib = tmp_path / "calib.npz"
    np.savez(calib, **encoder_data(16))
    opts = CompileOptions(target="onnx", out_dir=str(tmp_path / "out"),
                          options={"calib": str(calib), "quantize": True, "quiet": True})
    manifest = compile_model(path, opts)
    assert manifest["passes"]["check-headroom"]["min_bits"] >= 0
    assert manifest["passes"]["check-integer-only"]["integer_only"]
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    q = ort.InferenceSession(str(tmp_path / "out" / "model.onnx"), so, providers=["CPUExecutionProvider"])
    ref = _ort(path)
    for feed in samples(encoder_data(4, seed=3)):
        assert cosine(q.run(None, feed)[0], ref.run(None, feed)[0]) >= 0.98
