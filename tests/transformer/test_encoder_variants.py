"""Encoders shaped unlike tiny_bert: pre-LN (ViT/GPT block) without a mask,
tanh-approximated GELU, other hidden/heads/sequence sizes, opset 14; torch
exports of two of them (slow); the CLI on tiny_bert without --input-shape."""

from __future__ import annotations

import collections
import json
import os
import subprocess

import numpy as np
import onnxruntime as ort
import pytest
from tx_testlib import TINY_BERT, compile_graph, cosine, encoder_data, encoder_onnx, samples

from qcc.interp import Interpreter
from qcc.ir.verifier import float_offenders


def _ort(path: str):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _min_cosine(path: str, g, test: dict) -> float:
    sess, it = _ort(path), Interpreter(g)
    return min(cosine(it.run(f)["y"], sess.run(None, f)[0]) for f in samples(test))


def _residual_dtypes(g) -> set:
    """Output dtypes of the adds that feed LayerNorms (the residual stream)."""
    return {n.outputs[0].dtype.name for n in g.nodes if n.op == "qcc.add"
            and any(u.op == "qcc.ilayernorm" for u in n.outputs[0].users)}


def test_pre_ln_vit_block_without_mask_tanh_gelu(tmp_path):
    kw = dict(seq=10, hidden=24, heads=3, ffn=48)
    path = encoder_onnx(str(tmp_path / "vit.onnx"), layers=2, pre_ln=True, mask=False,
                        tanh_gelu=True, **kw)
    g, ctx = compile_graph(path, encoder_data(24, 10, 24, mask=False))
    ops = collections.Counter(n.op for n in g.nodes)
    assert not float_offenders(g)
    assert ops["qcc.isoftmax"] == 2 and ops["qcc.ilayernorm"] == 5
    sm = [n for n in g.nodes if n.op == "qcc.isoftmax"]
    assert all(len(n.inputs) == 3 and n.inputs[0].dtype.name == "int32" for n in sm)  # no mask
    # the pre-LN residual stream stays int16 from add to add (the next add reads int16)
    assert _residual_dtypes(g) == {"int16"}
    assert any(n.op == "qcc.add" and n.inputs[0].dtype.name == "int16" for n in g.nodes)
    assert ctx.report["check-headroom"]["min_bits"] >= 0
    assert _min_cosine(path, g, encoder_data(6, 10, 24, seed=9, mask=False)) >= 0.99


def test_post_ln_other_shape_opset14(tmp_path):
    path = encoder_onnx(str(tmp_path / "b.onnx"), seq=12, hidden=48, heads=6, ffn=96, opset=14)
    g, _ = compile_graph(path, encoder_data(24, 12, 48), gelu="ibert")  # the polynomial option
    ops = collections.Counter(n.op for n in g.nodes)
    assert not float_offenders(g)
    assert ops["qcc.igelu"] == 1 and ops["qcc.ilayernorm"] == 3 and ops["qcc.lut"] == 0
    assert _min_cosine(path, g, encoder_data(6, 12, 48, seed=4)) >= 0.99


def test_pre_ln_residual_int16_beats_int8_with_outlier_channels(tmp_path):
    """Outlier channels set the per-tensor int8 scale of the residual stream;
    int16 keeps the other channels (docs/transformers.md, residual width)."""
    path = encoder_onnx(str(tmp_path / "o.onnx"), seq=8, hidden=32, heads=2, ffn=64,
                        layers=2, pre_ln=True)
    calib, test = encoder_data(24, 8, 32, outliers=30.0), encoder_data(6, 8, 32, seed=5, outliers=30.0)
    cos = {}
    for bits in (8, 16):
        g, _ = compile_graph(path, calib, residual_bits=bits)
        assert _residual_dtypes(g) == {f"int{bits}"}
        cos[bits] = _min_cosine(path, g, test)
    assert cos[16] >= 0.99 and cos[16] > cos[8]


def test_gelu_level_keeps_large_outputs_in_int16():
    from qcc.passes.quantize.rules_transformer import _gelu_consts

    small, big = _gelu_consts(5.0), _gelu_consts(300.0)
    assert small["attrs"]["q_l"] == 1024 and big["attrs"]["q_l"] < 1024
    assert big["attrs"]["x_max"] <= 32767 and big["attrs"]["x_max"] * big["scale"] >= 300.0


# ---------------------------------------------------------------- torch exports (slow)
def _torch_encoder(path: str, hidden: int, heads: int, seq: int, pre_ln: bool, mask: bool,
                   gelu: str, opset: int, sdpa: bool = False) -> None:
    """Two explicit attention blocks (the fused torch.nn.TransformerEncoder
    fast path does not export), exported with the TorchScript exporter."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.o = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.f1, self.f2 = nn.Linear(hidden, 2 * hidden), nn.Linear(2 * hidden, hidden)
            self.l1, self.l2, self.act = nn.LayerNorm(hidden), nn.LayerNorm(hidden), nn.GELU(approximate=gelu)

        def attn(self, x, add):
            q, k, v = (t.reshape(1, seq, heads, -1).transpose(1, 2) for t in self.qkv(x).split(hidden, -1))
            if sdpa:     # boolean mask (True = keep), exported with a NaN guard
                o = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=add)
                return self.o(o.transpose(1, 2).reshape(1, seq, hidden))
            s = q @ k.transpose(-1, -2) / float(hidden // heads) ** 0.5
            p = (s if add is None else s + add).softmax(-1)
            return self.o((p @ v).transpose(1, 2).reshape(1, seq, hidden))

        def forward(self, x, add):
            if pre_ln:
                x = x + self.attn(self.l1(x), add)
                return x + self.f2(self.act(self.f1(self.l2(x))))
            x = self.l1(x + self.attn(x, add))
            return self.l2(x + self.f2(self.act(self.f1(x))))

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block(), Block()])
            self.ln = nn.LayerNorm(hidden) if pre_ln else nn.Identity()

        def forward(self, x, m=None):
            add = None if m is None else (1.0 - m[:, None, None, :].float()) * -10000.0
            if sdpa and m is not None:
                add = m[:, None, None, :] != 0
            for b in self.blocks:
                x = b(x, add)
            return self.ln(x)

    args = (torch.zeros(1, seq, hidden),) + ((torch.ones(1, seq, dtype=torch.int64),) if mask else ())
    names = ["x"] + (["attention_mask"] if mask else [])
    with torch.no_grad():
        torch.onnx.export(Enc().eval(), args, path, input_names=names, output_names=["y"],
                          opset_version=opset, dynamo=False)


@pytest.mark.slow
@pytest.mark.parametrize("hidden,heads,seq,pre_ln,mask,gelu,opset,sdpa", [
    (64, 4, 17, True, False, "tanh", 17, False),   # ViT-style: pre-LN, no mask, tanh GELU
    (96, 6, 20, False, True, "none", 14, False),   # BERT-style: post-LN, mask, erf GELU, opset 14
    (32, 2, 12, True, True, "none", 17, True),     # scaled_dot_product_attention, bool mask
])
def test_torch_exported_encoders(tmp_path, hidden, heads, seq, pre_ln, mask, gelu, opset, sdpa):
    path = str(tmp_path / "t.onnx")
    _torch_encoder(path, hidden, heads, seq, pre_ln, mask, gelu, opset, sdpa)
    g, ctx = compile_graph(path, encoder_data(32, seq, hidden, mask=mask))
    assert not float_offenders(g), [n.op for n in float_offenders(g)]
    ops = collections.Counter(n.op for n in g.nodes)
    assert ops["qcc.isoftmax"] == 2 and ops["qcc.ilayernorm"] >= 4
    assert all(len(n.inputs) == (4 if mask else 3) for n in g.nodes if n.op == "qcc.isoftmax")
    assert ctx.report["check-headroom"]["min_bits"] >= 0
    assert _min_cosine(path, g, encoder_data(8, seq, hidden, seed=3, mask=mask)) >= 0.99


@pytest.mark.slow
def test_cli_tiny_bert_binds_dynamic_shapes_from_calib(tmp_path):
    """The issue's command line, without --input-shape: shapes come from --calib."""
    out = tmp_path / "b17"
    r = subprocess.run(["qcc", "compile",
                        os.path.join(TINY_BERT, "tiny_bert_opset17.onnx"),
                        "--calib", os.path.join(TINY_BERT, "calib.npz"), "--target", "onnx",
                        "-o", str(out), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert [i["shape"] for i in m["inputs"]] == [[1, 32], [1, 32]]
    assert m["passes"]["check-integer-only"]["integer_only"]
    hr = m["passes"]["check-headroom"]
    assert hr["min_bits"] >= 0 and all("bits" in v for v in hr["ops"].values())


@pytest.mark.parametrize("kind,pre_ln", [("where", False), ("add_min", True), ("sdpa_bool", False),
                                         ("add", True)])
def test_mask_forms_in_two_layers(tmp_path, kind, pre_ln):
    """torch masked_fill (Where(m == 0, -inf, s)) and HF's float32-min additive mask,
    both computed after the scores MatMul in graph order; torch SDPA's boolean mask
    (Where(m != 0, 0, -inf) added, NaN guard after the softmax); the -10000 mask.
    Layer 2 depends on the mask through layer 1: it must still match. Masked
    positions get probability exactly 0."""
    path = encoder_onnx(str(tmp_path / "m.onnx"), seq=8, hidden=16, heads=2, layers=2,
                        mask=kind, pre_ln=pre_ln)
    g, _ = compile_graph(path, encoder_data(16))
    assert not float_offenders(g)
    sms = [n for n in g.nodes if n.op == "qcc.isoftmax"]
    assert len(sms) == 2 and all(len(n.inputs) == 4 and n.inputs[3].dtype.name == "int8" for n in sms)
    assert all(n.inputs[0].dtype.name == "int32" for n in sms)
    sm = sms[-1]
    sess, it = _ort(path), Interpreter(g)
    for feed in samples(encoder_data(4, seed=8)):
        out = it.run(feed, capture={sm.outputs[0].name})
        assert cosine(out["y"], sess.run(None, feed)[0]) >= 0.99
        p = out[sm.outputs[0].name]
        assert np.all(p[..., feed["attention_mask"][0] == 0] == 0)
