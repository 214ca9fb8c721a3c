"""Dynamically quantized models (onnxruntime ``quantize_dynamic``; issue 12): compiled
with only ``--calib``, as the float model they ship quantized statically
(passes/import_dynamic.py).  The models are made and quantized in the test."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model

from tests.models.dynq_testlib import (MODELS, compiled_int8_weights, data, dynamic, op_types, ort_fused, ort_run,
                          shipped_weights)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_error, assert_ok, qcc  # noqa: E402

MIN_DB = 30.0  # measured 36-44 dB for these models (2026-12-05); int8 static on a float model


def _models(tmp_path, kind, **kw):
    flt = MODELS[kind](str(tmp_path / f"{kind}.onnx"))
    dyn = dynamic(flt, str(tmp_path / f"{kind}_dyn.onnx"), **kw)
    np.savez(tmp_path / "calib.npz", **data(kind, 16, seed=1))
    return flt, dyn


def _compile(tmp_path, path, name="c"):
    out = str(tmp_path / name)
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    return out, json.load(open(os.path.join(out, "manifest.json")))["passes"]["import-dynamic"]


def _check_outputs(out, kind, flt, dyn):
    test = data(kind, 4, seed=2)
    got, want = run_artifact(out, test, "target")["y"], run_artifact(out, test, "reference")["y"]
    assert np.array_equal(got, want)
    assert sqnr_db(ort_run(flt, test), want) >= MIN_DB
    assert sqnr_db(ort_run(dyn, test), want) >= MIN_DB


def _has_weight(compiled, w):
    return any(c.shape == s.shape and np.array_equal(c, s) for c in compiled for s in (w, w.T))


@pytest.mark.parametrize("kind,kw", [
    ("mlp", {}),
    ("mlp", {"per_channel": True, "reduce_range": True}),
    ("cnn", {"weight_type": "QUInt8", "per_channel": True}),
    pytest.param("cnn", {"reduce_range": True}, marks=pytest.mark.slow),
])
def test_dynamic_model_compiles_bit_exact_and_keeps_the_weight_grid(tmp_path, kind, kw):
    from onnxruntime.quantization import QuantType

    kw = {k: getattr(QuantType, v) if k == "weight_type" else v for k, v in kw.items()}
    flt, dyn = _models(tmp_path, kind, **kw)
    ops = op_types(dyn)
    assert "DynamicQuantizeLinear" in ops
    out, note = _compile(tmp_path, dyn)
    assert len(note["recovered"]) == ops.count("MatMulInteger") + ops.count("ConvInteger")
    _check_outputs(out, kind, flt, dyn)
    # the shipped int8 weights are the compiled ones: no second rounding
    compiled = compiled_int8_weights(out)
    shipped, total = shipped_weights(dyn)
    assert note["weight_grids_kept"] == len(shipped) and len(note["weights_requantized"]) == total - len(shipped)
    if "weight_type" not in kw:  # int8 weights (the default): every grid symmetric
        assert len(shipped) == total
    assert all(_has_weight(compiled, w) for w in shipped.values())


def test_asymmetric_uint8_weights_are_requantized_and_said(tmp_path):
    """uint8 per-column weights with zero points other than 128 have no symmetric grid:
    qcc requantizes the same float weights (and the manifest lists them)."""
    from onnxruntime.quantization import QuantType

    flt, dyn = _models(tmp_path, "mlp", weight_type=QuantType.QUInt8, per_channel=True)
    out, note = _compile(tmp_path, dyn)
    assert note["weights_requantized"] and note["weight_grids_kept"] + len(note["weights_requantized"]) == 2
    _check_outputs(out, "mlp", flt, dyn)


def test_quantized_embedding_table(tmp_path):
    flt, dyn = _models(tmp_path, "embedder", op_types_to_quantize=["Gather", "MatMul"])
    assert "DequantizeLinear" in op_types(dyn)  # Gather(uint8 table) -> DequantizeLinear
    out, note = _compile(tmp_path, dyn)
    assert note["tables"] and len(note["recovered"]) == 1
    _check_outputs(out, "embedder", flt, dyn)


def test_onnxruntime_fused_forms(tmp_path):
    """onnxruntime's optimizer turns the chain into com.microsoft DynamicQuantizeMatMul;
    qcc imports it with the same semantics (the interpreter equals onnxruntime) and
    compiles it like the unfused model."""
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import run

    flt, dyn = _models(tmp_path, "mlp", per_channel=True)
    fused = ort_fused(dyn, str(tmp_path / "fused.onnx"))
    assert op_types(fused).count("DynamicQuantizeMatMul") == 2
    test = data("mlp", 3, seed=4)
    g = import_model(fused)
    got = np.concatenate([run(g, {"x": test["x"][i:i + 1]})["y"] for i in range(3)])
    np.testing.assert_allclose(got, ort_run(fused, test), rtol=1e-5, atol=1e-5)
    out, note = _compile(tmp_path, fused)
    assert len(note["recovered"]) == 2 and note["weight_grids_kept"] == 2
    _check_outputs(out, "mlp", flt, fused)


@pytest.mark.parametrize("fused", [pytest.param(False, marks=pytest.mark.slow), True])
def test_tiny_transformer_encoder(tmp_path, fused):
    """quantize_dynamic of a torch encoder layer: its Transpose/Reshape run on the uint8
    activations and the embedding table is quantized; onnxruntime's optimizer then adds
    DynamicQuantizeMatMul, FusedMatMul (with batch transposes), SkipLayerNormalization
    and Gelu (frontend/ms_fused.py)."""
    flt, dyn = _models(tmp_path, "encoder")
    path = ort_fused(dyn, str(tmp_path / "fused.onnx")) if fused else dyn
    if fused:
        assert {"FusedMatMul", "SkipLayerNormalization", "DynamicQuantizeMatMul"} <= set(op_types(path))
    out, note = _compile(tmp_path, path)
    assert len(note["recovered"]) == 4 and note["tables"]
    _check_outputs(out, "encoder", flt, path)


def _hand_model(tmp_path, nodes, inits, ms=False):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    ops = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    m = helper.make_model(g, opset_imports=ops)
    m.ir_version = 8
    path = str(tmp_path / "hand.onnx")
    onnx.save(m, path)
    np.savez(tmp_path / "calib.npz", **data("mlp", 16, seed=1))
    return path


def _int_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"wq": rng.integers(-127, 128, (16, 8)).astype(np.int8), "ws": np.float32(0.004),
            "wz": np.int8(0), "bias": rng.standard_normal(8).astype(np.float32)}


def test_matmul_integer_to_float(tmp_path):
    """com.microsoft MatMulIntegerToFloat (onnxruntime's fusion when one
    DynamicQuantizeLinear feeds several MatMulIntegers)."""
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import run

    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulIntegerToFloat", ["xq", "wq", "xs", "ws", "xz", "wz", "bias"], ["y"],
                              domain="com.microsoft")]
    path = _hand_model(tmp_path, nodes, _int_weights(), ms=True)
    test = data("mlp", 3, seed=4)
    g = import_model(path)
    got = np.concatenate([run(g, {"x": test["x"][i:i + 1]})["y"] for i in range(3)])
    np.testing.assert_allclose(got, ort_run(path, test), rtol=1e-5, atol=1e-5)
    out, note = _compile(tmp_path, path)
    assert len(note["recovered"]) == 1 and note["weight_grids_kept"] == 1
    test = data("mlp", 4, seed=2)
    want = run_artifact(out, test, "reference")["y"]
    assert np.array_equal(run_artifact(out, test, "target")["y"], want)
    assert sqnr_db(ort_run(path, test), want) >= MIN_DB


def test_two_dynamic_operands(tmp_path):
    """MatMulInteger of two DynamicQuantizeLinear outputs (activation x activation)."""
    nodes = [helper.make_node("Transpose", ["x"], ["xt"]),
             helper.make_node("DynamicQuantizeLinear", ["x"], ["aq", "as", "az"]),
             helper.make_node("DynamicQuantizeLinear", ["xt"], ["bq", "bs", "bz"]),
             helper.make_node("MatMulInteger", ["bq", "aq", "bz", "az"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["as", "bs"], ["s"]), helper.make_node("Mul", ["accf", "s"], ["y"])]
    path = _hand_model(tmp_path, nodes, {})
    out, note = _compile(tmp_path, path)
    assert len(note["recovered"]) == 1
    test = data("mlp", 4, seed=2)
    want = run_artifact(out, test, "reference")["y"]
    assert np.array_equal(run_artifact(out, test, "target")["y"], want)
    assert sqnr_db(ort_run(path, test), want) >= MIN_DB


def test_cli_compile_says_what_it_did_and_inspect_agrees(tmp_path):
    flt, dyn = _models(tmp_path, "mlp")
    p = qcc("inspect", dyn, "--calib", tmp_path / "calib.npz")
    assert_ok(p)
    assert any(line.split()[:2] == ["c", "compiles"] for line in p.stdout.splitlines()), p.stdout
    assert "quantized: dynamic (onnxruntime quantize_dynamic: 2 integer" in p.stdout
    p = qcc("compile", dyn, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", tmp_path / "c")
    assert_ok(p)
    assert "dynamically quantized model" in p.stderr and "2 MatMulInteger/ConvInteger" in p.stderr
    man = json.load(open(tmp_path / "c" / "manifest.json"))
    assert len(man["passes"]["import-dynamic"]["recovered"]) == 2


def test_unrecoverable_chain_is_one_line_naming_the_node(tmp_path):
    """A rescale that is not x_scale * w_scale has no float meaning qcc can recover."""
    w = _int_weights()
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulInteger", ["xq", "wq", "xz", "wz"], ["acc"], name="odd_mm"),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["accf", "ws"], ["y"])]
    path = _hand_model(tmp_path, nodes, {k: w[k] for k in ("wq", "ws", "wz")})
    p = qcc("compile", path, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", tmp_path / "c")
    assert_error(p, "MatMulInteger node 'odd_mm'", "scale")
    assert not os.path.exists(tmp_path / "c" / "model.c")


def test_inspect_names_the_quantization_form(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    from qcc.commands import inspect_model

    flt, dyn = _models(tmp_path, "mlp")
    samples = iter([{"x": x[None]} for x in data("mlp", 4, seed=3)["x"]])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(samples, None)

    qdq = str(tmp_path / "qdq.onnx")
    quantize_static(flt, qdq, Reader())
    kinds = {k: inspect_model(p, {}, check_targets=False)["quantization"]
             for k, p in (("float", flt), ("dynamic", dyn), ("static", qdq))}
    assert kinds["float"] == "float"
    assert kinds["dynamic"].startswith("dynamic (onnxruntime quantize_dynamic: 2 integer")
    assert kinds["static"].startswith("static (QDQ")


def test_float_onnx_target_keeps_the_dynamic_semantics(tmp_path):
    """Without --calib a dynamic model (here with a quantized table's DequantizeLinear,
    which alone would make it look pre-quantized) compiles to float ONNX that computes
    what the model computes."""
    flt, dyn = _models(tmp_path, "embedder", op_types_to_quantize=["Gather", "MatMul"])
    out = str(tmp_path / "f")
    compile_model(dyn, CompileOptions(target="onnx", out_dir=out, options={"quiet": True}))
    test = data("embedder", 3, seed=6)
    np.testing.assert_allclose(ort_run(os.path.join(out, "model.onnx"), test), ort_run(dyn, test),
                               rtol=1e-6, atol=1e-6)
