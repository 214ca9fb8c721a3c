"""Integer softmax and LayerNorm on the accelerator (ISA v2): small graphs built here, compiled
with the test configuration (8 lanes, so rows span several planes and partial last planes)
and run on the simulator bit-exact against the reference interpreter, with no host op."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.ir import DType
from qcc.ops.integer_transformer import ilayernorm_consts, isoftmax_consts

from accel_testlib import G, compile_and_compare


def _softmax(g, x, scale, variant="ibert", mask=None):
    c = isoftmax_consts(scale, variant)
    ins = [x, g.const(np.array([c["mult"]], np.int32)), g.const(np.array([c["shift"]], np.int32))]
    return g.op("qcc.isoftmax", ins + ([mask] if mask is not None else []), c["attrs"], output=True)


@pytest.mark.parametrize("shape,dt,scale,variant", [
    ((2, 3, 5), DType.int8, 0.05, "ibert"),       # one partial plane
    ((1, 4, 19), DType.int8, 0.1, "ibert"),       # three planes, the last partial
    ((6, 16), DType.uint8, 0.02, "shiftmax"),
    ((3, 9), DType.int16, 0.001, "ibert"),
    ((2, 8), DType.int32, 1e-5, "shiftmax"),
    ((2, 5), DType.int8, 3.0, "ibert"),            # steep logits: everything but the max clips
])
def test_softmax_bit_exact(shape, dt, scale, variant, tmp_path):
    g = G(seed=len(shape) * 7 + shape[-1])
    _softmax(g, g.input(shape, dt), scale, variant)
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []


@pytest.mark.parametrize("mshape,mdt", [((1, 1, 1, 12), DType.uint8), ((2, 1, 3, 12), DType.int8)])
def test_masked_softmax_bit_exact(mshape, mdt, tmp_path):
    g = G(seed=3)
    x = g.input((2, 2, 3, 12))
    m = g.input(mshape, mdt)
    _softmax(g, x, 0.08, "ibert", mask=m)
    feeds_fn = g.feeds

    def feeds():  # sparse masks, and some rows masked entirely
        f = feeds_fn()
        k = m.name
        f[k] = (g.rng.random(mshape) < 0.4).astype(mdt.np) * (1 if mdt == DType.uint8 else -3)
        if mshape[0] > 1:
            f[k][0, 0, 1, :] = 1
        return f
    g.feeds = feeds
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []


def test_classifier_width_softmax_on_the_default_configuration(tmp_path):
    """A 1000-class row: 63 planes of 16 lanes, one row per chunk of the accumulator."""
    from qcc.backends.accel.hw import HwConfig

    g = G(seed=1)
    _softmax(g, g.input((1, 1000)), 0.1)
    assert compile_and_compare(g, tmp_path, HwConfig(), samples=2)["host_ops"] == []


def _layernorm(g, x, count, rng, eps=1e-5, in_scale=0.05, beta_scale=0.3):
    gamma = rng.normal(1.0, 0.3, count)
    beta = rng.normal(0.0, beta_scale, count)
    c = ilayernorm_consts(gamma, beta, in_scale, 0.02, count, eps)
    ins = [x, g.const(c["gamma"].astype(np.int32)), g.const(c["bias"].astype(np.int32)),
           g.const(np.array([c["mult"]], np.int32)), g.const(np.array([c["shift"]], np.int32))]
    attrs = {"axis": -1, "x_zp": 3 if x.dtype == DType.int8 else 0, "eps_q": c["eps_q"],
             "eps_frac": c["eps_frac"], "y_zp": -5}
    return g.op("qcc.ilayernorm", ins, attrs, output=True)


@pytest.mark.parametrize("shape,dt,eps", [
    ((2, 4, 13), DType.int8, 1e-5),
    ((3, 24), DType.int8, 0.0),
    ((5, 7), DType.int16, 1e-3),
    ((4, 32), DType.uint8, 1e-1),                  # a large epsilon against the variance
])
def test_layernorm_bit_exact(shape, dt, eps, tmp_path):
    g = G(seed=shape[-1])
    _layernorm(g, g.input(shape, dt), shape[-1], g.rng, eps)
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []


def test_layernorm_outlier_rows_and_constant_rows(tmp_path):
    """Rows dominated by one value (the shift refinement of the reference) and constant rows
    (variance 0: the output is beta)."""
    g = G(seed=11)
    x = g.input((6, 20))
    _layernorm(g, x, 20, g.rng, eps=0.0)
    feeds_fn = g.feeds

    def feeds():
        f = feeds_fn()
        v = f[x.name]
        v[0] = 0
        v[0, 3] = 127
        v[1] = -128
        v[2] = 0
        v[2, 7] = 1
        v[3] = g.rng.integers(-2, 3, 20)
        return f
    g.feeds = feeds
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []


def test_unprovable_bound_falls_back_with_its_reason(tmp_path):
    """The ALU saturates where the reference computes in int64: constants whose exp(0) is
    too small for 2^40 // sum to fit int32 keep the call on the host, named in the manifest."""
    g = G(seed=5)
    x = g.input((2, 6))
    c = isoftmax_consts(0.05)
    c["attrs"]["e_shift"] = 20
    g.op("qcc.isoftmax", [x, g.const(np.array([c["mult"]], np.int32)),
                          g.const(np.array([c["shift"]], np.int32))], c["attrs"], output=True)
    acc = compile_and_compare(g, tmp_path, samples=1)
    assert [h["op"] for h in acc["host_ops"]] == ["qcc.isoftmax"]
    assert "2^9" in acc["host_ops"][0]["reason"]
