"""Sub-8-bit weights and the channel passes on the real models: digits_cnn (fast), tiny_bert
and a light model (slow): float function kept, link boundaries, packed model.qcc,
QDQ export with INT4 in onnxruntime, option errors through the CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest

from qcc.passes import channel_links as ch
from qcc.passes.quantize.rules_nn import conv_group_size
from qcc.quant_scheme import group_weight_qparams

from lowbit_testlib import DIGITS

TOL = 1e-5


def _float_change(name, **opts):
    """(max relative float output change, pass report, graph) for the passes in opts."""
    from qcc.bench.models import by_name
    from qcc.frontend.onnx_import import import_model, parse_input_shapes
    from qcc.interp import Interpreter
    from qcc.passes.pipelines import FLOAT_CLEANUP, FLOAT_FUSION
    from qcc.passmanager import PassContext, PassManager

    m = by_name(name)
    g = import_model(m.path, parse_input_shapes(m.input_shapes))
    ctx = PassContext(options=dict(calib={k: v[:4] for k, v in m.calib.items()}, calib_method="minmax",
                                   quiet=True, allow_float=m.allow_float, **opts))
    PassManager(FLOAT_CLEANUP + ["calibrate"] + FLOAT_FUSION).run(g, ctx)
    feeds = [{k: v[i:i + 1] for k, v in m.test.items()} for i in range(2)]
    ref = [Interpreter(g).run(f) for f in feeds]
    PassManager(["equalize", "smoothquant", "reorder-channels", "dce"]).run(g, ctx)
    worst = 0.0
    for f, r in zip(feeds, ref):
        o = Interpreter(g).run(f)
        worst = max(worst, max(float(np.abs(o[k] - r[k]).max() / np.abs(r[k]).max()) for k in r))
    # every float tensor the quantizer will read still has a calibrated range
    missing = [v.name for n in g.nodes for v in n.outputs
               if v.type.dtype.name == "float32" and v.name not in g.meta["ranges"]]
    return worst, ctx.report, g, missing


@pytest.mark.parametrize("opts", [{"equalize": True}, {"smoothquant": 0.5}, {"reorder_channels": "sort"},
                                  {"reorder_channels": "cluster"}])
def test_channel_passes_keep_digits_cnn_float_outputs(opts):
    err, rep, g, missing = _float_change("digits_cnn", **opts)
    assert err <= TOL and not missing
    name = next(iter(k for k in ("equalize", "smoothquant", "reorder-channels") if k in rep))
    assert rep[name].get("pairs", rep[name].get("links")) >= 1, rep


@pytest.mark.slow
def test_channel_passes_on_tiny_bert_cover_layernorm_linear_and_per_head_value_links():
    for opts in ({"smoothquant": 0.5}, {"reorder_channels": "sort"}, {"reorder_channels": "cluster"}):
        err, rep, g, missing = _float_change("tiny_bert", **opts)
        assert err <= TOL and not missing, (opts, err, missing)
    layers = rep["reorder-channels"]["layers"]
    prods = [p for p, _ in layers]
    assert any("ln_" in p for p in prods)  # LayerNorm -> Linear (gamma/beta permuted)
    assert any("ffn_in" in p for p in prods)  # Linear -> GELU -> Linear
    # attention heads: q/k outputs are never permuted; v -> out_proj only inside each head
    assert not any(s in p for p in prods for s in ("query", "key"))
    heads = ch.find_head_links(g)
    assert sorted(lk.consumers[0].name for lk in heads) == ["/layers.0/attn/out/MatMul",
                                                            "/layers.1/attn/out/MatMul"]
    assert all(lk.heads == 4 for lk in heads)


@pytest.mark.slow
def test_equalize_handles_squeezenet_fire_modules_with_two_consumers():
    err, rep, g, missing = _float_change("light_squeezenet", equalize=True)
    assert err <= TOL and not missing
    assert rep["equalize"]["pairs"] >= 8  # squeeze conv -> (expand 1x1, expand 3x3)
    for lk in ch.find_links(g, scale=True, restore=False):
        if len(lk.consumers) > 1:
            r1 = ch.producer_absmax(lk.producer)
            r2 = np.max([ch.consumer_absmax(c) for c in lk.consumers], axis=0)
            np.testing.assert_allclose(r1, r2, rtol=1e-3)


def test_outlier_block_narrower_than_a_group_widens_to_that_group():
    w = np.random.default_rng(0).normal(0, 1, (4, 96))
    w[:, 90:] *= 30.0  # 6 outlier columns at the end, group 32
    q, s_eff, big, gm = group_weight_qparams(w, 4, 32, high_from=90)
    assert np.abs(q[:, 64:]).max() > 7  # the last group holds 8-bit values
    assert np.abs(q[:, :64]).max() <= 8  # the others stay int4
    err = np.abs(q * np.repeat(s_eff, 32, axis=1) - w)[:, 90:].max()
    assert err < 30.0 * 4 / 127  # about the 8-bit step of the outlier scale


def test_conv_groups_hold_whole_kernels():
    assert conv_group_size(32, 1) == 32 and conv_group_size(None, 9) is None
    assert [conv_group_size(n, 9) for n in (8, 32, 64, 128)] == [9, 36, 63 + 9, 144]
    assert conv_group_size(32, 25) == 25


@pytest.fixture(scope="module")
def digits_w4(tmp_path_factory):
    from qcc.driver import CompileOptions, compile_model

    out = str(tmp_path_factory.mktemp("digits_w4"))
    opts = CompileOptions(target="onnx", out_dir=out, options={
        "calib": os.path.join(DIGITS, "calib.npz"), "quantize": True, "quiet": True,
        "weight_bits": "4", "group_size": 32, "max_calib_samples": 32})
    compile_model(os.path.join(DIGITS, "digits_cnn.onnx"), opts)
    return out


def test_digits_w4_g32_packed_model_qcc_round_trips(digits_w4):
    from qcc.interp import run
    from qcc.ir import DType
    from qcc.ir.serialize import load

    g = load(os.path.join(digits_w4, "model.qcc"))
    low = [v for v in g.constants.values() if v.dtype is DType.int4]
    assert len(low) == 5  # every conv and the fc
    with np.load(os.path.join(digits_w4, "model.qcc.npz")) as z:
        for v in low:
            a = z[f"const/{v.name}"]
            assert a.dtype == np.uint8 and a.size == -(-v.data.size // 2)
    with open(os.path.join(digits_w4, "manifest.json")) as f:
        layers = json.load(f)["passes"]["quantize"]["layers"]
    # only conv2 (K = 16 * 3 * 3 = 144) has K > 36: groups of 4 whole 3x3 kernels
    assert [(r["bits"], r["group_size"]) for r in layers] == [(4, None), (4, 36), (4, None), (4, None),
                                                                (4, None)]
    grouped = [n for n in g.nodes if "group_size" in n.attrs]
    assert grouped and all(n.attrs["group_size"] % 9 == 0 for n in grouped if n.op == "qcc.conv2d")
    x = {"input": np.load(os.path.join(DIGITS, "test.npz"))["input"][:1]}
    first = run(g, x)
    assert np.array_equal(run(load(os.path.join(digits_w4, "model.qcc")), x)["logits"], first["logits"])


def test_digits_w4_g32_qdq_export_has_int4_and_agrees_with_the_interpreter(digits_w4):
    import onnxruntime as ort

    from qcc.interp import Interpreter
    from qcc.ir.serialize import load

    m = onnx.load(os.path.join(digits_w4, "model.onnx"))
    assert m.opset_import[0].version == 21  # digits_cnn is opset 17: upgraded for INT4
    int4 = {t.name for t in m.graph.initializer if t.data_type == onnx.TensorProto.INT4}
    dq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int4]
    assert len(dq) == 5 and any(a.name == "block_size" for n in dq for a in n.attribute)
    g = load(os.path.join(digits_w4, "model.qcc"))
    lsb = next(float(n.attrs["scale"]) for n in g.nodes if n.op == "qcc.dequantize")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = ort.InferenceSession(os.path.join(digits_w4, "model.onnx"), so)
    xs = np.load(os.path.join(DIGITS, "test.npz"))["input"][:16]
    it = Interpreter(g)
    diff = max(float(np.abs(sess.run(None, {"input": x[None]})[0] - it.run({"input": x[None]})["logits"]).max())
               for x in xs)
    assert diff <= 2.01 * lsb


@pytest.mark.parametrize("args,needles", [
    (["--group-size", "0"], ["--group-size must be an integer >= 2"]),
    (["--group-size", "512"], ["--group-size 512 is larger than", "K = 144"]),
    (["--smoothquant", "1.5"], ["--smoothquant ALPHA must be in (0, 1)", "1.5"]),
    (["--outlier-8bit", "4", "--weight-bits", "4"], ["--outlier-8bit needs --reorder-channels"]),
    (["--reorder-channels", "sort", "--outlier-8bit", "4"], ["--outlier-8bit needs --weight-bits"]),
    (["--weight-bits", "3"], ["--weight-bits must be 8, 4, 2 or mixed", "'3'"]),
])
def test_bad_low_bit_options_are_one_line_errors(capsys, tmp_path, args, needles):
    from qcc.cli import main

    capsys.readouterr()
    rc = main(["compile", os.path.join(DIGITS, "digits_cnn.onnx"), "--calib", os.path.join(DIGITS, "calib.npz"),
               "-o", str(tmp_path / "o"), "--quiet", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("qcc: error: "), err
    assert all(n in err[0] for n in needles), err
    assert not os.path.exists(tmp_path / "o" / "model.qcc")
