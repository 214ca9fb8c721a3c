"""Transposed convolutions on the accelerator (passes/convt_to_conv.py): the accel pipeline
rewrites ``qcc.conv_transpose2d`` as a conv2d and an index map, which run on the array and
the data-movement path (no host op), bit-exact with the original op on the reference
interpreter and on the functional simulator."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qcc.backends.accel import run as accel_run
from qcc.backends.accel.writer import write_files
from qcc.interp import run as ref_run
from qcc.ir import DType
from qcc.ir.verifier import verify
from qcc.ir.serialize import save
from qcc.passes.pipelines import pipeline_for
from qcc.passmanager import PassContext, get_pass

from accel_testlib import HW, G


def _convt_graph(n, c, h, w, m, k, s, pads=(0, 0, 0, 0), dil=(1, 1), group=1, op=(0, 0),
                 x_zp=0, y_zp=0, per_channel=True, seed=0, dt=DType.int8):
    g = G(seed)
    x = g.input((n, c, h, w), dt)
    wq = g.const(g.rand((c, m // group, k[0], k[1])))
    b = g.const(g.rng.integers(-3000, 3000, m).astype(np.int32))
    attrs = dict(strides=list(s), pads=list(pads), dilations=list(dil), group=group,
                 output_padding=list(op), x_zp=x_zp, y_zp=y_zp)
    g.op("qcc.conv_transpose2d", [x, wq, b, *g.mult(m if per_channel else 1, 0.004)], attrs,
         output=True)
    return g


def _rewrite(g: G):
    f = g.g.clone()
    ctx = PassContext()
    get_pass("convt-to-conv").fn(f, ctx)
    get_pass("dce").fn(f, ctx)
    verify(f)
    return f, ctx


def _run_accel(f, tmp, feeds_list):
    out = tmp / "accel"
    out.mkdir(exist_ok=True)
    info = write_files(f, str(out), "m", HW, 4)
    save(f, str(out / "model.qcc"))
    manifest = json.loads(json.dumps({"accel": info["accel"]}))
    return info["accel"], [accel_run(str(out), [fd], manifest)[0] for fd in feeds_list]


def _zp_edge_feeds(g: G, x_zp: int):
    """Random samples, plus one all at the zero point and one all at the far end."""
    xv = g.g.inputs[0]
    far = xv.dtype.min if x_zp > 0 else xv.dtype.max
    return [g.feeds(), {xv.name: np.full(xv.shape, x_zp, xv.dtype.np)},
            {xv.name: np.full(xv.shape, far, xv.dtype.np)}]


CASES = {  # name: (shape and geometry, the rewritten form)
    "block_2x2": (dict(n=1, c=5, h=3, w=5, m=3, k=(2, 2), s=(2, 2)), "block"),
    "block_batch_group": (dict(n=2, c=4, h=3, w=2, m=6, k=(2, 2), s=(2, 2), group=2, x_zp=-128,
                               y_zp=127), "block"),
    "block_3x1_tensor_scale": (dict(n=1, c=3, h=2, w=3, m=1, k=(3, 1), s=(3, 1), x_zp=127,
                                    y_zp=-128, per_channel=False), "block"),
    "dilate_pads_outpad": (dict(n=1, c=3, h=3, w=4, m=2, k=(3, 3), s=(2, 2), pads=(1, 0, 1, 2),
                                op=(1, 0), x_zp=-128), "dilate"),
    "dilate_dilation_group_batch": (dict(n=2, c=4, h=3, w=3, m=4, k=(2, 3), s=(1, 2), dil=(2, 1),
                                         group=2, x_zp=127, y_zp=-128), "dilate"),
    "dilate_crop": (dict(n=1, c=2, h=4, w=3, m=3, k=(2, 2), s=(3, 2), pads=(3, 1, 2, 0),
                         op=(2, 1)), "dilate"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rewrite_is_exact_on_the_interpreter(name):
    kw, form = CASES[name]
    g = _convt_graph(**kw)
    f, ctx = _rewrite(g)
    assert ctx.report["convt-to-conv"]["forms"][form] == 1
    assert not any(nd.op == "qcc.conv_transpose2d" for nd in f.nodes)
    for feeds in _zp_edge_feeds(g, kw.get("x_zp", 0)):
        want, got = ref_run(g.g, feeds), ref_run(f, feeds)
        for k, v in want.items():
            assert got[k].dtype == v.dtype and np.array_equal(got[k], v), (name, k)


@pytest.mark.parametrize("name", ["block_batch_group", "block_3x1_tensor_scale",
                                  "dilate_pads_outpad", "dilate_dilation_group_batch"])
def test_accel_runs_it_with_no_host_op(name, tmp_path):
    kw, _ = CASES[name]
    g = _convt_graph(**kw)
    f, _ = _rewrite(g)
    feeds_list = _zp_edge_feeds(g, kw.get("x_zp", 0))
    acc, outs = _run_accel(f, tmp_path, feeds_list)
    assert acc["host_ops"] == []
    for feeds, got in zip(feeds_list, outs):
        want = ref_run(g.g, feeds)  # the original op, not the rewritten graph
        for k, v in want.items():
            assert np.array_equal(got[k], v), (name, k)


def test_without_the_rewrite_it_is_a_host_op(tmp_path):
    g = _convt_graph(**CASES["block_2x2"][0])
    out = tmp_path / "raw"
    out.mkdir()
    info = write_files(g.g, str(out), "m", HW, 4)
    assert [h["op"] for h in info["accel"]["host_ops"]] == ["qcc.conv_transpose2d"]


def test_accel_pipeline_runs_the_pass():
    pipe = pipeline_for("accel")
    assert "convt-to-conv" in pipe and "convt-to-conv" not in pipeline_for("c")
    assert pipe.index("convt-to-conv") > pipe.index("check-headroom")


@st.composite
def _geometries(draw):
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    group = draw(st.sampled_from([1, 2]))
    kw = dict(n=draw(st.integers(1, 2)), c=group * draw(st.integers(1, 3)),
              h=draw(st.integers(1, 4)), w=draw(st.integers(1, 4)),
              m=group * draw(st.integers(1, 2)), k=k, s=s, dil=dil, group=group,
              op=(draw(st.integers(0, s[0] - 1)), draw(st.integers(0, s[1] - 1))),
              pads=tuple(draw(st.integers(0, 4)) for _ in range(4)),
              x_zp=draw(st.sampled_from([-128, 0, 5, 127])),
              y_zp=draw(st.sampled_from([-128, 0, 127])), per_channel=draw(st.booleans()),
              seed=draw(st.integers(0, 99)))
    oh = (kw["h"] - 1) * s[0] + dil[0] * (k[0] - 1) + 1 + kw["op"][0] - kw["pads"][0] - kw["pads"][2]
    ow = (kw["w"] - 1) * s[1] + dil[1] * (k[1] - 1) + 1 + kw["op"][1] - kw["pads"][1] - kw["pads"][3]
    assume(oh >= 1 and ow >= 1)
    return kw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_geometries())
def test_rewrite_is_exact_for_any_geometry(kw):
    """Both forms (the block form where kernel == stride) against the original op."""
    g = _convt_graph(**kw)
    f, _ = _rewrite(g)
    assert not any(nd.op == "qcc.conv_transpose2d" for nd in f.nodes)
    for feeds in _zp_edge_feeds(g, kw["x_zp"]):
        want, got = ref_run(g.g, feeds), ref_run(f, feeds)
        for k, v in want.items():
            assert np.array_equal(got[k], v), k
