"""Sensitivity: fake quantization, the ORT evaluator vs the interpreter, the
Hessian estimate on a quadratic, and the cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from mp_testlib import calib_for, fused_graph, small_cnn
from onnx import TensorProto, helper, numpy_helper

from qcc.errors import QccError
from qcc.frontend.onnx_import import import_model
from qcc.mixed_precision import sensitivity as sens
from qcc.mixed_precision.costs import find_layers
from qcc.mixed_precision.ortgraph import InterpEvaluator, OrtEvaluator
from qcc.mixed_precision.plan import first_samples
from qcc.quant_scheme import group_weight_qparams, weight_qparams

BITS = (2, 4, 8)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(1, 4)),
              elements=st.floats(-8, 8, width=32)), st.sampled_from([2, 4, 8]), st.integers(0, 2))
def test_fake_quant_matches_quantizer_per_channel(w, bits, axis):
    """Per-channel fake quantization is dequantize(quantizer's weights) exactly."""
    q, qp = weight_qparams(w, axis, bits)
    shape = [1] * w.ndim
    shape[axis] = -1
    expect = (q.astype(np.float64) * qp.scale.reshape(shape)).astype(np.float32)
    np.testing.assert_array_equal(sens.fake_quant(w, axis, bits), expect)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 70)),
              elements=st.floats(-4, 4, width=32)), st.sampled_from([2, 4, 8]),
       st.sampled_from([8, 16, 32]))
def test_fake_quant_groups_match_quantizer_and_bound_error(w, bits, group):
    """Per-group fake quantization is the quantizer's per-group weights times their
    effective scales; at 8 bits (no clipping) every element is within half a step
    of its group's scale (plus the 2^-16 rounding of the group multiplier)."""
    fq = sens.fake_quant(w, 0, bits, group)
    q, s_eff, big, _ = group_weight_qparams(w, bits, group)
    k = w.shape[1]
    expect = (q * np.repeat(s_eff, group, axis=1)[:, :k]).astype(np.float32)
    np.testing.assert_array_equal(fq, expect)
    if bits == 8:
        for g0 in range(0, k, group):
            blk = w[:, g0:g0 + group].astype(np.float64)
            step = np.abs(blk).max(axis=1, keepdims=True) / 127
            slack = big[:, None] * 2.0 ** -16 * 128
            assert np.all(np.abs(fq[:, g0:g0 + group] - blk) <= step / 2 * (1 + 1e-5) + slack)


def test_ort_evaluator_matches_interpreter():
    m = small_cnn()
    graph, _ = fused_graph(m, calib_for(m))
    layers = find_layers(graph)
    names = [lay.weight for lay in layers]
    ort_ev, it_ev = OrtEvaluator(graph, names), InterpEvaluator(graph, names)
    s = first_samples(graph, calib_for(m), 3)
    for lay in layers:
        wq = {lay.weight: sens.fake_quant(graph.constants[lay.weight].data, lay.axis, 2)}
        for x in s:
            a, b = ort_ev.run(x, wq), it_ev.run(x, wq)
            np.testing.assert_allclose(a[0], b[0], rtol=1e-4, atol=1e-5)
    # the interpreter evaluator restores the constants it swapped
    assert all(np.shares_memory(graph.constants[lay.weight].data, ort_ev.defaults[lay.weight])
               for lay in layers)


def test_sensitivity_orders_widths(tmp_path):
    m = small_cnn()
    graph, _ = fused_graph(m, calib_for(m))
    layers = find_layers(graph)
    omega, info = sens.measure(graph, layers, BITS, first_samples(graph, calib_for(m), 8),
                               cache=str(tmp_path))
    assert info["metric"] == "kl" and info["cache"] == "miss" and info["engine"] == "onnxruntime"
    # 8 bits moves the output least for every layer; overall 2 > 4 > 8 (a single
    # small layer may see clipped 2-bit noise land in a direction that matters less)
    assert np.all(omega[:, 2] < omega[:, 1]) and np.all(omega[:, 2] < omega[:, 0])
    total = omega.sum(axis=0)
    assert total[0] > total[1] > total[2]
    assert np.all(omega >= 0)


def test_cache_hit_skips_measurement(tmp_path, monkeypatch):
    m = small_cnn()
    graph, _ = fused_graph(m, calib_for(m))
    layers = find_layers(graph)
    samples = first_samples(graph, calib_for(m), 4)
    first, info = sens.measure(graph, layers, BITS, samples, cache=str(tmp_path))
    assert info["cache"] == "miss"

    def boom(*a, **k):
        raise AssertionError("measured again despite the cache")

    monkeypatch.setattr(sens, "_measure_output", boom)
    monkeypatch.setattr(sens, "make_evaluator", boom)
    again, info = sens.measure(graph, layers, BITS, samples, cache=str(tmp_path))
    assert info["cache"] == "hit"
    np.testing.assert_array_equal(again, first)
    # other samples or other widths are another key: measured again
    with pytest.raises(AssertionError, match="measured again"):
        sens.measure(graph, layers, BITS, samples[:2], cache=str(tmp_path))
    with pytest.raises(AssertionError, match="measured again"):
        sens.measure(graph, layers, (4, 8), samples, cache=str(tmp_path))


def _linear_model(w: np.ndarray):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="lin")
    g = helper.make_graph([node], "lin", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
                          [numpy_helper.from_array(w, "w")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_hessian_estimate_exact_on_isotropic_quadratic(tmp_path):
    """y = x W with orthonormal samples x and an orthogonal W: the relative MSE is
    c*||dW||^2 (Hessian 2c*I), so Tr(H)/n*||dW||^2 equals 2x the measured MSE."""
    rng = np.random.default_rng(0)
    w = (np.linalg.qr(rng.standard_normal((8, 8)))[0] * 0.5).astype(np.float32)
    q = np.linalg.qr(rng.standard_normal((8, 8)))[0].astype(np.float32)
    graph = import_model(_linear_model(w))
    layers = find_layers(graph)
    samples = [{"x": q[i:i + 1]} for i in range(8)]
    out, _ = sens.measure(graph, layers, BITS, samples, metric="mse", cache="")
    hess, info = sens.measure(graph, layers, BITS, samples, metric="mse", mode="hessian", cache="")
    assert info["mode"] == "hessian" and info["cache"] == "off"
    np.testing.assert_allclose(hess, 2 * out, rtol=2e-3)


def test_bad_mode_metric_and_no_samples():
    m = small_cnn()
    graph, _ = fused_graph(m, calib_for(m))
    layers = find_layers(graph)
    s = first_samples(graph, calib_for(m), 1)
    with pytest.raises(QccError, match="unknown sensitivity mode 'fisher'"):
        sens.measure(graph, layers, BITS, s, mode="fisher", cache="")
    with pytest.raises(QccError, match="unknown sensitivity metric 'l1'"):
        sens.measure(graph, layers, BITS, s, metric="l1", cache="")
    with pytest.raises(QccError, match="--calib"):
        sens.measure(graph, layers, BITS, [], cache="")


def test_group_scale_of_subnormal_weights_is_floored():
    """A channel whose largest group scale underflows float32 (subnormal weights) gets
    float32's smallest normal as its scale: finite, nonzero, and the weights round to 0
    (found by hypothesis: w = 1e-45 gave a zero scale and a division by it)."""
    w = np.array([[1e-45, -3e-45, 0.0, 2e-44]], np.float32)
    q, s_eff, big, gm = group_weight_qparams(w, 8, 2)
    assert np.all(np.isfinite(s_eff)) and np.all(s_eff > 0)
    assert float(big[0]) == float(np.finfo(np.float32).tiny)
    np.testing.assert_array_equal(q, 0)
    np.testing.assert_array_equal(sens.fake_quant(w, 0, 8, 2), 0)
