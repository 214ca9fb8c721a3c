"""qcc.debugger.compare on graphs built in the test: exact layers introduce no error,
a layer whose calibrated range is forced too narrow is ranked first and clips."""

from __future__ import annotations

import numpy as np

from qcc.debugger import compare_graphs, end_to_end_sqnr
from qcc.frontend.onnx_import import import_model
from qcc.passes.pipelines import pipeline_for
from qcc.passmanager import PassContext, PassManager

from debug_testlib import images, planted_cnn


def _graphs(path, calib, narrow=None):
    g = import_model(path, {})
    pipe = pipeline_for("onnx", quantize=True)
    k = pipe.index("quantize")
    ctx = PassContext(options=dict(calib={"x": calib}, quantize=True, quiet=True, target="onnx"))
    PassManager(pipe[:k]).run(g, ctx)
    if narrow:
        lo, hi = g.meta["ranges"][narrow]
        g.meta["ranges"][narrow] = (lo / 20, hi / 20)
    f = g.clone()
    PassManager(pipe[k:]).run(g, ctx, start_index=k + 1)
    return f, g


def _samples(n=4):
    return [{"x": x[None]} for x in images(n, 5)]


def test_layer_with_a_too_narrow_range_is_ranked_first(tmp_path):
    path = planted_cnn(str(tmp_path / "m.onnx"), outlier=1.0)  # no weight outlier
    f, q = _graphs(path, images(16, 1), narrow="r1")
    stats = compare_graphs(f, q, _samples())
    worst = min(stats, key=lambda s: s.introduced_sqnr_db)
    assert worst.node == "conv1" and worst.tensor == "r1"
    assert worst.clip_rate > 0.1
    others = [s for s in stats if s is not worst]
    assert all(s.clip_rate < worst.clip_rate for s in others)


def test_metrics_are_consistent_with_end_to_end(tmp_path):
    path = planted_cnn(str(tmp_path / "m.onnx"), outlier=1.0)
    f, q = _graphs(path, images(16, 1))
    stats = compare_graphs(f, q, _samples())
    last = max(stats, key=lambda s: s.index)
    assert abs(last.inherited_sqnr_db - end_to_end_sqnr(f, q, _samples())) < 1e-6
    for s in stats:
        assert 0.99 < s.cosine <= 1.0 + 1e-12
        assert s.max_err_lsb >= 0 and 0.0 <= s.clip_rate <= 1.0
        assert s.introduced_sqnr_db > 25  # a well-scaled network: every layer is fine alone
