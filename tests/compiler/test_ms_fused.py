"""onnxruntime's transformer fusions (com.microsoft Gelu, FastGelu, BiasGelu, QuickGelu,
FusedMatMul, SkipLayerNormalization; frontend/ms_fused.py) import with the
semantics onnxruntime gives them: qcc's interpreter against onnxruntime, node by node."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from qcc.errors import QccError
from qcc.frontend.onnx_import import import_model
from qcc.interp import run


def _model(node, inputs: dict, outputs=("y",), value_info=True):
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape)
                                        for k, v in inputs.items()],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def _check(node, inputs: dict, outputs=("y",), rtol=1e-5, atol=1e-5):
    m = _model(node, inputs, outputs)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        list(outputs), inputs)
    got = run(import_model(m), inputs)
    for o, w in zip(outputs, want):
        np.testing.assert_allclose(got[o], w, rtol=rtol, atol=atol)


def _ms(op, ins, outs=("y",), **attrs):
    return helper.make_node(op, list(ins), list(outs), domain="com.microsoft", name=op.lower(), **attrs)


RNG = np.random.default_rng(0)
X = (2 * RNG.standard_normal((2, 5, 8))).astype(np.float32)
B = RNG.standard_normal(8).astype(np.float32)


@pytest.mark.parametrize("op,ins", [("Gelu", {"x": X}), ("FastGelu", {"x": X}), ("FastGelu", {"x": X, "b": B}),
                                    ("BiasGelu", {"x": X, "b": B}), ("QuickGelu", {"x": X})])
def test_gelu_family(op, ins):
    _check(_ms(op, ins), ins)


@pytest.mark.parametrize("bias,beta,sum_out", [(False, True, False), (True, True, True), (True, False, False)])
def test_skip_layer_normalization(bias, beta, sum_out):
    ins = {"x": X, "skip": RNG.standard_normal(X.shape).astype(np.float32),
           "gamma": (1 + 0.1 * RNG.standard_normal(8)).astype(np.float32)}
    names = ["x", "skip", "gamma", "beta" if beta else "", "bias" if bias else ""]
    if beta:
        ins["beta"] = RNG.standard_normal(8).astype(np.float32)
    if bias:
        ins["bias"] = B
    while not names[-1]:
        names.pop()
    outs = ["y", "", "", "s"] if sum_out else ["y"]
    node = _ms("SkipLayerNormalization", names, outs, epsilon=1e-6)
    _check(node, ins, tuple(o for o in outs if o), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("ta,tb,tba,tbb", [(0, 0, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0), (1, 1, 0, 0),
                                           (0, 0, 1, 0), (0, 1, 0, 1), (1, 0, 1, 1), (0, 1, 1, 1)])
def test_fused_matmul_layouts(rank, ta, tb, tba, tbb):
    """Operands laid out as onnxruntime reads them: transBatch moves axis 0 next to the
    matrix axes, trans swaps the last two."""
    batch = (2, 3)[: rank - 2]
    m_, k_, n_ = 4, 5, 6

    def layout(rows, cols, trans, trans_batch):
        """A stored tensor that reads as ``batch + [rows, cols]`` through the layout."""
        eff = list(batch) + [rows, cols]
        perm = list(range(1, rank - 1)) + [0, rank - 1] if trans_batch else list(range(rank))
        if trans:
            perm[-2], perm[-1] = perm[-1], perm[-2]
        return RNG.standard_normal([eff[perm.index(j)] for j in range(rank)]).astype(np.float32)

    a, b = layout(m_, k_, ta, tba), layout(k_, n_, tb, tbb)
    node = _ms("FusedMatMul", ["a", "b"], alpha=0.5, transA=ta, transB=tb, transBatchA=tba, transBatchB=tbb)
    _check(node, {"a": a, "b": b}, rtol=1e-4, atol=1e-4)


def test_fused_matmul_without_a_known_rank_is_one_clear_error():
    a = RNG.standard_normal((2, 4, 5)).astype(np.float32)
    node = _ms("FusedMatMul", ["a", "b"], transB=1)
    g = helper.make_graph([helper.make_node("Relu", ["braw"], ["b"]), node], "g",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, a.shape),
                           helper.make_tensor_value_info("braw", TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    with pytest.raises(QccError, match=r"FusedMatMul node 'fusedmatmul'.*rank of its input 'b'"):
        import_model(m, {"braw": (2, 6, 5)})


def _attention_model(op, mask: bool, **attrs):
    """One self-attention node (Attention, or QAttention behind a DynamicQuantizeLinear)."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((16, 48)) / 4).astype(np.float32)
    inits = {"bias": (0.1 * rng.standard_normal(48)).astype(np.float32)}
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 16])]
    nodes = []
    if op == "Attention":
        inits["w"] = w
        args = ["x", "w", "bias"] + (["mask"] if mask else [])
    else:
        ws = np.abs(w).max(axis=0) / 127
        inits.update({"wq": np.round(w / ws).astype(np.int8), "ws": ws.astype(np.float32),
                      "wz": np.zeros(48, np.int8)})
        nodes.append(helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]))
        args = ["xq", "wq", "bias", "xs", "ws", "mask" if mask else "", "xz", "wz"]
    if mask:
        ins.append(helper.make_tensor_value_info("mask", TensorProto.INT32, [1] if mask == "end" else [1, 5]))
    nodes.append(_ms(op, args, num_heads=2, **attrs))
    g = helper.make_graph(nodes, "g", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [onnx.numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def _attention_feeds(n, mask, seed=2):
    rng = np.random.default_rng(seed)
    f = {"x": rng.standard_normal((n, 5, 16)).astype(np.float32)}
    if mask == "end":  # valid lengths
        f["mask"] = np.full((n,), 3, np.int32)
    elif mask:
        f["mask"] = np.tile(np.array([[1, 1, 1, 0, 1]], np.int32), (n, 1))
    return f


@pytest.mark.parametrize("op", ["Attention", "QAttention"])
@pytest.mark.parametrize("mask,attrs", [(False, {}), (True, {}), ("end", {}),
                                        (True, {"scale": 0.3, "mask_filter_value": -50.0})])
def test_attention_matches_onnxruntime(op, mask, attrs):
    m = _attention_model(op, mask, **attrs)
    feeds = _attention_feeds(1, mask)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(["y"], feeds)[0]
    np.testing.assert_allclose(run(import_model(m), feeds)["y"], want, rtol=1e-4, atol=1e-4)


def test_qattention_compiles_bit_exact(tmp_path):
    """QAttention (quantize_dynamic of onnxruntime's fused Attention) compiles like the
    MatMulInteger chain it stands for: C bit-exact with the reference, close to onnxruntime."""
    from qcc.bench.metrics import sqnr_db
    from qcc.commands import run_artifact
    from qcc.driver import CompileOptions, compile_model

    m = _attention_model("QAttention", True)
    path = str(tmp_path / "qatt.onnx")
    onnx.save(m, path)
    np.savez(tmp_path / "calib.npz", **_attention_feeds(16, True))
    out = str(tmp_path / "c")
    man = compile_model(path, CompileOptions(target="c", out_dir=out,
                                             options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    assert len(man["passes"]["import-dynamic"]["recovered"]) == 1
    feeds = _attention_feeds(3, True, seed=5)
    want = run_artifact(out, feeds, "reference")["y"]
    assert np.array_equal(run_artifact(out, feeds, "target")["y"], want)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ref = np.concatenate([sess.run(["y"], {k: v[i:i + 1] for k, v in feeds.items()})[0] for i in range(3)])
    assert sqnr_db(ref, want) >= 30.0


@pytest.mark.parametrize("attrs,why", [({"unidirectional": 1}, "unidirectional")])
def test_attention_forms_not_imported_are_one_line(attrs, why):
    with pytest.raises(QccError, match=rf"Attention node 'attention': {why}"):
        import_model(_attention_model("Attention", False, **attrs))


def _embed_model(quantized: bool, outs=("y", "mask_index")):
    rng = np.random.default_rng(3)
    tabs = {"word": rng.standard_normal((30, 8)), "pos": rng.standard_normal((12, 8)),
            "seg": rng.standard_normal((2, 8)), "gamma": 1 + 0.1 * rng.standard_normal(8),
            "beta": 0.1 * rng.standard_normal(8)}
    inits, args = {}, ["ids", "segs"]
    if quantized:
        scales, zps = [], []
        for k, t in tabs.items():
            lo, hi = min(t.min(), 0), max(t.max(), 0)
            s = (hi - lo) / 255
            z = np.uint8(round(-lo / s))
            inits[k] = np.clip(np.round(t / s) + z, 0, 255).astype(np.uint8)
            inits[k + "_s"], inits[k + "_z"] = np.float32(s), z
            scales.append(k + "_s")
            zps.append(k + "_z")
        args += list(tabs) + ["mask"] + scales + zps
    else:
        inits.update({k: v.astype(np.float32) for k, v in tabs.items()})
        args += list(tabs) + ["mask"]
    node = _ms("QEmbedLayerNormalization" if quantized else "EmbedLayerNormalization", args, outs,
               epsilon=1e-5)
    ins = [helper.make_tensor_value_info(k, TensorProto.INT32, [2, 6]) for k in ("ids", "segs", "mask")]
    g = helper.make_graph([node], "g", ins, [helper.make_tensor_value_info(o, TensorProto.FLOAT if o == "y"
                                                                           else TensorProto.INT32, None)
                                             for o in outs],
                          [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("quantized", [False, True])
def test_embed_layer_normalization_matches_onnxruntime(quantized):
    m = _embed_model(quantized)
    rng = np.random.default_rng(4)
    feeds = {"ids": rng.integers(0, 30, (2, 6)).astype(np.int32), "segs": rng.integers(0, 2, (2, 6)).astype(np.int32),
             "mask": np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], np.int32)}
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        ["y", "mask_index"], feeds)
    got = run(import_model(m), feeds)
    np.testing.assert_allclose(got["y"], want[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got["mask_index"], want[1])


def test_embed_layer_norm_mask_index_feeds_attention():
    """onnxruntime's optimized BERT: EmbedLayerNormalization's [B] valid lengths are the
    Attention's mask_index (shapes inferred after the first expansion pass)."""
    emb = _embed_model(False)
    rng = np.random.default_rng(5)
    att = _ms("Attention", ["y", "aw", "ab", "mask_index"], ["z"], num_heads=2)
    g = emb.graph
    g.node.append(att)
    g.initializer.extend([onnx.numpy_helper.from_array((rng.standard_normal((8, 24)) / 3).astype(np.float32), "aw"),
                          onnx.numpy_helper.from_array((0.1 * rng.standard_normal(24)).astype(np.float32), "ab")])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    feeds = {"ids": rng.integers(0, 30, (2, 6)).astype(np.int32), "segs": np.zeros((2, 6), np.int32),
             "mask": np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], np.int32)}
    want = ort.InferenceSession(emb.SerializeToString(), providers=["CPUExecutionProvider"]).run(["z"], feeds)[0]
    np.testing.assert_allclose(run(import_model(emb), feeds)["z"], want, rtol=1e-4, atol=1e-4)
