"""The accuracy benchmark (qcc int8 vs onnxruntime quantize_static) and its metrics."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.bench import accuracy
from qcc.bench.metrics import compare, max_rel, sqnr_db
from qcc.bench.models import by_name, example, light


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-4, 0.5))
def test_sqnr_of_a_relative_error_is_its_decibels(seed, eps):
    ref = np.random.default_rng(seed).standard_normal(64) + 0.1
    out = ref * (1 + eps)
    assert sqnr_db(ref, out) == pytest.approx(-20 * np.log10(eps), abs=1e-6)
    assert max_rel(ref, out) == pytest.approx(eps, rel=1e-9)


def test_compare_classifier_fields():
    ref = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 1.0]])
    out = np.array([[1.0, 2.0, 0.5], [0.0, 3.5, 1.0]])
    r = compare(ref, out, labels=np.array([1, 0]))
    assert r["top1_agree_pct"] == 50.0 and r["top1_pct"] == 50.0 and r["max_abs"] == 3.5
    assert compare(ref, ref)["sqnr_db"] == float("inf")
    enc = compare(ref, out, classifier=False)  # encoders: no top-1 at all
    assert "top1_agree_pct" not in enc and "sqnr_db" in enc


def test_light_models_are_scored_on_logits_not_on_the_uniform_softmax():
    m = light("squeezenet", n_calib=1, n_test=1)
    g = onnx.load(m.path, load_external_data=False).graph
    assert g.node[-1].op_type != "Softmax" and g.output[0].name == g.node[-1].output[0]
    assert m.kind == "encoder" and m.synthetic


def test_examples_select_their_scored_output():
    bert = example("tiny_bert")
    assert bert.output == "logits" and bert.path.endswith(".onnx") and bert.labels is not None
    mb = by_name("mobilenet_small")
    assert mb.labels is not None and len(mb.labels) == next(iter(mb.test.values())).shape[0]


def test_digits_row_qcc_matches_float_top1_and_is_json(tmp_path):
    m = by_name("digits_cnn")
    m.test = {k: v[:90] for k, v in m.test.items()}
    m.labels = m.labels[:90]
    row = accuracy.bench_model(m, str(tmp_path), methods=("minmax",), qcc_methods=("minmax",))
    json.dumps(row)  # E's report reads these rows as JSON
    # the method sweep reuses the default compile for the default method (no second compile)
    assert row["qcc_minmax"]["sqnr_db"] == row["qcc"]["sqnr_db"]
    assert not (tmp_path / "qcc_minmax").exists()
    assert "error" not in row["qcc"], row["qcc"]
    assert row["qcc"]["top1_pct"] >= row["float"]["top1_pct"] - 0.5
    assert row["qcc"]["sqnr_db"] > 25 and row["qcc"]["kept_float"] == []
    assert row["qcc"]["calib_engine"] == "onnxruntime" and row["qcc"]["calib_s_per_sample"] > 0
    assert row["ort_minmax"]["sqnr_db"] > 20 and row["ort_best"]["method"] == "minmax"
    assert row["qcc_best"]["method"] in ("minmax", "percentile")
    assert (tmp_path / "qcc" / "model.qcc").is_file() and (tmp_path / "ort_minmax.onnx").is_file()
    t = accuracy.table([row])
    assert "| digits_cnn |" in t and f"{row['qcc']['sqnr_db']:.1f}" in t


def test_table_marks_failures():
    t = accuracy.table([{"model": "m", "qcc": {"error": "LoweringError: x"}, "ort_minmax": {}}])
    assert "| m | error (-)" in t


def test_mobilenet_small_smoke(tmp_path):
    m = by_name("mobilenet_small")
    m.test = {k: v[:40] for k, v in m.test.items()}
    m.labels = m.labels[:40]
    row = accuracy.bench_model(m, str(tmp_path), methods=())
    assert row["qcc"]["top1_agree_pct"] >= 97.5 and row["qcc"]["sqnr_db"] > 25, row["qcc"]
    assert "ort_best" not in row and row["qcc_best"]["method"] == row["qcc"]["calib_method"]


@pytest.mark.slow
def test_mobilenet_small_int8_within_one_point_of_float(tmp_path):
    row = accuracy.bench_model(by_name("mobilenet_small"), str(tmp_path), methods=("minmax",))
    assert row["qcc"]["top1_pct"] >= row["float"]["top1_pct"] - 1.0, row
    assert row["qcc"]["sqnr_db"] > 25


def test_onnxruntime_baseline_of_an_opset_11_model_is_valid(tmp_path):
    """quantize_static's per-channel QDQ needs opset 13: an opset 11 Conv model is
    converted first, so the baseline loads and runs close to float."""
    from onnx import TensorProto, helper, numpy_helper

    from qcc.bench.models import BenchModel

    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                           helper.make_node("Relu", ["c"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
                          [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 6
    onnx.save(m, tmp_path / "m.onnx")
    x = {"x": rng.standard_normal((8, 3, 8, 8)).astype(np.float32)}
    bm = BenchModel("m", str(tmp_path / "m.onnx"), x, x, kind="encoder")
    accuracy.ort_quantize(bm, "minmax", str(tmp_path / "q.onnx"))
    ref = accuracy.ort_outputs(bm.path, x)
    assert sqnr_db(ref, accuracy.ort_outputs(str(tmp_path / "q.onnx"), x)) > 25
