"""Quantizer with int4/int2 weights, per channel and per group; QDQ export."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from qcc.frontend.onnx_import import import_model
from qcc.interp import run
from qcc.ir import DType
from qcc.ir.verifier import check_integer_only, verify
from qcc.passmanager import PassContext, PassManager

from lowbit_testlib import CLEANUP, FUSION, minmax_ranges, mlp


def _samples(k=64, n=6, seed=5):
    rng = np.random.default_rng(seed)
    return [{"x": rng.normal(0, 1, (4, k)).astype(np.float32)} for _ in range(n)]


def _quantized(model, samples, **options):
    g = import_model(model)
    PassManager(CLEANUP + FUSION).run(g, PassContext())
    ref = [run(g, s)["y"] for s in samples]
    g.meta["ranges"] = minmax_ranges(g, samples)
    ctx = PassContext(options=dict(options))
    PassManager(["quantize", "dce", "check-integer-only"]).run(g, ctx)
    verify(g)
    check_integer_only(g)
    err = max(float(np.abs(run(g, s)["y"] - r).max() / np.abs(r).max()) for s, r in zip(samples, ref))
    return g, err, ctx


def _weights(g):
    return [n.inputs[1] for n in g.nodes if n.op == "qcc.linear"]


@pytest.mark.parametrize("bits,dtype", [(4, DType.int4), (2, DType.int2)])
def test_uniform_low_bit_weights_are_in_range_and_per_group_beats_per_channel(bits, dtype):
    model = mlp(outlier_rows=(3, 70, 71))
    s = _samples()
    g8, e8, _ = _quantized(model, s)
    gc, ec, _ = _quantized(model, s, weight_bits=str(bits))
    gg, eg, _ = _quantized(model, s, weight_bits=str(bits), group_size=32)
    for w in _weights(gc) + _weights(gg):
        assert w.dtype is dtype and dtype.min <= w.data.min() and w.data.max() <= dtype.max
    lin = [n for n in gg.nodes if n.op == "qcc.linear"]
    assert all(n.attrs["group_size"] == 32 and n.inputs[5].shape[1] == -(-n.inputs[1].shape[0] // 32)
               for n in lin)
    assert e8 < eg < ec, (e8, eg, ec)


def test_layer_bits_from_assign_bits_override_the_uniform_choice():
    model = mlp()
    g, _, _ = _quantized(model, _samples(), weight_bits="4", group_size=32,
                         layer_bits={"Add_y": 8})  # fused.linear keeps the Add node's name
    names = {n.name: n.inputs[1].dtype for n in g.nodes if n.op == "qcc.linear"}
    assert sorted(d.short for d in names.values()) == ["i4", "i8"], names


def test_keep_8bit_pins_layers_with_uniform_low_bits():
    g, _, _ = _quantized(mlp(), _samples(), weight_bits="2", group_size=32, keep_8bit=["Add_y*"])
    assert sorted(n.inputs[1].dtype.short for n in g.nodes if n.op == "qcc.linear") == ["i2", "i8"]
    g, _, _ = _quantized(mlp(), _samples(), weight_bits="2", keep_8bit=["w1*"])  # weight name
    assert sorted(n.inputs[1].dtype.short for n in g.nodes if n.op == "qcc.linear") == ["i2", "i8"]


def test_qdq_export_opset21_uses_blocked_int4_and_matches_the_interpreter():
    from onnx import TensorProto

    from qcc.backends.onnx.qdq import to_qdq

    model = mlp(outlier_rows=(3,))
    model.opset_import[0].version = 21
    s = _samples()
    g, _, _ = _quantized(model, s, weight_bits="4", group_size=32)
    m = to_qdq(g)
    blocked = [n for n in m.graph.node if n.op_type == "DequantizeLinear"
               and any(a.name == "block_size" for a in n.attribute)]
    assert len(blocked) == 2
    int4 = {t.name for t in m.graph.initializer if t.data_type == TensorProto.INT4}
    assert all(n.input[0] in int4 for n in blocked)
    sess = ort.InferenceSession(m.SerializeToString())
    out = g.outputs[0]
    lsb = float(g.nodes[-1].attrs["scale"])
    for x in s:
        assert np.abs(sess.run(None, x)[0] - run(g, x)[out.name]).max() <= 2.01 * lsb


def test_qdq_export_below_opset21_upgrades_to_int4_or_falls_back_to_float(monkeypatch):
    from onnx import TensorProto, version_converter

    from qcc.backends.onnx.qdq import to_qdq

    s = _samples()
    for bits, dt in (("4", TensorProto.INT4), ("2", TensorProto.INT8)):
        g, _, _ = _quantized(mlp(), s, weight_bits=bits, group_size=32)  # opset 17 model
        lsb = float(g.nodes[-1].attrs["scale"])
        m = to_qdq(g)
        assert m.opset_import[0].version == 21
        blocked = [n for n in m.graph.node if any(a.name == "block_size" for a in n.attribute)]
        inits = {t.name: t.data_type for t in m.graph.initializer}
        assert len(blocked) == 2 and all(inits[n.input[0]] == dt for n in blocked)
        sess = ort.InferenceSession(m.SerializeToString())
        assert np.abs(sess.run(None, s[0])[0] - run(g, s[0])["y"]).max() <= 2.01 * lsb

    def refuse(*a, **k):
        raise RuntimeError("no converter")

    monkeypatch.setattr(version_converter, "convert_version", refuse)
    m = to_qdq(g)  # conversion impossible: float32 q * s weights at the model's opset
    assert m.opset_import[0].version == 17
    assert not any(a.name == "block_size" for n in m.graph.node for a in n.attribute)
    sess = ort.InferenceSession(m.SerializeToString())
    assert np.abs(sess.run(None, s[0])[0] - run(g, s[0])["y"]).max() <= 2.01 * lsb
