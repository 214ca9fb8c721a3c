"""equalize / smoothquant / reorder-channels on small IRs built here: float function
kept, the property each pass promises, ranges updated, legality boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from qcc.errors import PassError
from qcc.interp import Interpreter, run
from qcc.ir.verifier import verify
from qcc.passes import channel_links as ch
from qcc.passmanager import PassManager

from lowbit_testlib import convnet, mlp, onnx_model, outputs, prepared, rel_err

TOL = 1e-5


def _data(shape, n=8, seed=0):
    return {"x": np.random.default_rng(seed).normal(0, 1, (n,) + tuple(shape[1:])).astype(np.float32)
            if shape[0] == 1 else np.random.default_rng(seed).normal(0, 1, (n * shape[0],) + tuple(shape[1:]))
            .astype(np.float32)}


def _feeds(data, shape):
    b = shape[0]
    return [{"x": data["x"][i * b:(i + 1) * b]} for i in range(len(data["x"]) // b)]


def _run_pass(g, ctx, name):
    PassManager([name, "dce"]).run(g, ctx)
    verify(g)


def test_equalize_balances_ranges_keeps_function_and_updates_ranges():
    data = _data((2, 3, 8, 8))
    g, ctx = prepared(convnet(), data, equalize=True)
    feeds = _feeds(data, (2, 3, 8, 8))
    ref = outputs(g, feeds)
    _run_pass(g, ctx, "equalize")
    assert ctx.report["equalize"]["pairs"] == 2  # conv1 -> conv2, conv2 -> (GAP, Flatten) -> fc
    for o, r in zip(outputs(g, feeds), ref):
        assert rel_err(o, r) <= TOL
    for lk in ch.find_links(g, scale=True, restore=False):
        r1, r2 = ch.producer_absmax(lk.producer), ch.consumer_absmax(lk.consumers[0])
        np.testing.assert_allclose(r1, r2, rtol=1e-4)
    conv1 = next(n for n in g.nodes if n.op == "fused.conv")
    name = conv1.outputs[0].name
    vals = np.concatenate([Interpreter(g).run(f, capture={name})[name].ravel() for f in feeds])
    lo, hi = g.meta["ranges"][name]
    assert np.isclose(lo, vals.min(), rtol=1e-6) and np.isclose(hi, vals.max(), rtol=1e-6)


def test_smoothquant_equalises_activation_and_weight_maxima_at_alpha_half():
    data = _data((4, 64))
    g, ctx = prepared(mlp(outlier_cols=(5, 40)), data, smoothquant=0.5)
    feeds = _feeds(data, (4, 64))
    ref = outputs(g, feeds)
    hidden = next(lk.tensor.name for lk in ch.find_links(g, scale=True))
    before = g.meta["ranges"][hidden]
    _run_pass(g, ctx, "smoothquant")
    for o, r in zip(outputs(g, feeds), ref):
        assert rel_err(o, r) <= TOL
    lk = ch.find_links(g, scale=True)[0]
    st = ch.channel_stats(g, [lk], feeds)[lk.tensor.name]
    a = np.maximum(np.abs(st[0]), np.abs(st[1]))
    live = a > 0
    np.testing.assert_allclose(a[live], ch.consumer_absmax(lk.consumers[0])[live], rtol=1e-5)
    after = g.meta["ranges"][hidden]
    assert after[1] < before[1] / 2  # the outlier channels no longer set the range


def _int_outputs(g, ctx, feeds, ranges=None, **opts):
    from lowbit_testlib import minmax_ranges

    ctx.options.update(opts)
    g.meta["ranges"] = ranges or minmax_ranges(g, feeds)
    PassManager(["quantize", "dce"]).run(g, ctx)
    return [run(g, f)["y"] for f in feeds]


def test_reorder_sort_permutes_the_output_side_and_keeps_per_channel_ints_exact():
    data = _data((4, 64))
    model = mlp(outlier_rows=(3, 50, 77, 100, 101))
    feeds = _feeds(data, (4, 64))
    g0, ctx0 = prepared(model, data)
    g, ctx = prepared(model, data, reorder_channels="sort")
    hidden = ch.find_links(g)[0].tensor.name
    h_ref = [Interpreter(g).run(f, capture={hidden})[hidden] for f in feeds]
    ref = outputs(g, feeds)
    _run_pass(g, ctx, "reorder-channels")
    lk = ch.find_links(g)[0]
    w2 = lk.consumers[0].inputs[1].data
    w2_old = ch.find_links(g0)[0].consumers[0].inputs[1].data
    perm = [int(np.flatnonzero((w2_old == row).all(axis=1))[0]) for row in w2]
    assert sorted(perm) == list(range(128))
    assert set(perm[-5:]) == {3, 50, 77, 100, 101}  # the outlier rows end up together, last
    for f, h, r in zip(feeds, h_ref, ref):
        res = Interpreter(g).run(f, capture={lk.tensor.name})
        # a float pass: the hidden tensor is the old one permuted, up to float32 rounding (the
        # permuted GEMM may sum in another order: BLAS blocking depends on the column layout)
        np.testing.assert_allclose(res[lk.tensor.name], h[..., perm], rtol=1e-5,
                                   atol=1e-6 * float(np.abs(h).max()))
        assert rel_err({"y": res["y"]}, r) <= TOL
    # per-channel int4 weights: the integer results are bit-identical (only K is permuted;
    # same activation ranges for both, as float rounding may move the output's max by 1 ulp)
    from lowbit_testlib import minmax_ranges

    rg = minmax_ranges(g0, feeds)
    a = _int_outputs(g0, ctx0, feeds, rg, weight_bits="4")
    b = _int_outputs(g, ctx, feeds, dict(rg), weight_bits="4")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def _group_err(model, data, **opts):
    feeds = _feeds(data, (4, 64))
    g, ctx = prepared(model, data, **opts)
    ref = outputs(g, feeds)
    PassManager(["smoothquant", "reorder-channels"]).run(g, ctx)
    # the first layer stays int8 so that the error measured is the consumer's int4 g32 error
    out = _int_outputs(g, ctx, feeds, weight_bits="4", group_size=32, layer_bits={"Add_h1": 8})
    num = sum(float(np.sum((o - r["y"]) ** 2)) for o, r in zip(out, ref))
    return np.sqrt(num / sum(float(np.sum(r["y"] ** 2)) for r in ref))


def test_reorder_reduces_per_group_error_on_planted_outlier_rows_and_outlier_8bit_more():
    data = _data((4, 64))
    model = mlp(outlier_rows=(3, 35, 67, 99), seed=2)  # one outlier row in each group of 32
    plain = _group_err(model, data)
    for mode in ("sort", "cluster"):
        assert _group_err(model, data, reorder_channels=mode) < 0.9 * plain
    assert _group_err(model, data, reorder_channels="sort", outlier_8bit=32) < 0.5 * _group_err(
        model, data, reorder_channels="sort")


def test_layernorm_producer_with_residual_reader_gets_a_gather_and_keeps_the_function():
    rng = np.random.default_rng(0)
    c = 32
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["ln"], axis=-1),
             helper.make_node("MatMul", ["ln", "w"], ["m"]),
             helper.make_node("Add", ["ln", "m"], ["y"])]  # post-LN residual reads ln too
    gamma = rng.uniform(0.5, 1.5, c)
    gamma[7] = 20.0
    model = onnx_model(nodes, [("x", [1, 6, c])], [("y", [1, 6, c])],
                       {"g": gamma, "b": rng.normal(0, 0.1, c), "w": rng.normal(0, 0.2, (c, c))})
    data = {"x": rng.normal(0, 1, (8, 6, c)).astype(np.float32)}
    feeds = [{"x": data["x"][i:i + 1]} for i in range(8)]
    for opt in ({"reorder_channels": "sort"}, {"smoothquant": 0.5}):
        g, ctx = prepared(model, data, **opt)
        ref = outputs(g, feeds)
        name = "reorder-channels" if "reorder_channels" in opt else "smoothquant"
        _run_pass(g, ctx, name)
        assert ctx.report[name]["layers"], ctx.report
        for o, r in zip(outputs(g, feeds), ref):
            assert rel_err(o, r) <= TOL
        new = [n for n in g.nodes if n.name.endswith((".perm_out", ".restore"))]
        assert len(new) == 1 and all(v in g.meta["ranges"] for v in (new[0].outputs[0].name,))
        _int_outputs(g, ctx, feeds, weight_bits="4", group_size=16)  # lowers to integer ops


def test_concat_and_head_reshape_are_boundaries():
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"]), helper.make_node("Conv", ["x", "w2"], ["b"]),
             helper.make_node("Concat", ["a", "b"], ["c"], axis=1), helper.make_node("Conv", ["c", "w3"], ["d"]),
             helper.make_node("Reshape", ["d", "s"], ["e"])]
    model = onnx_model(nodes, [("x", [1, 3, 4, 4])], [("e", [1, 2, 2, 16])],
                       {"w1": rng.normal(size=(4, 3, 1, 1)), "w2": rng.normal(size=(4, 3, 1, 1)),
                        "w3": rng.normal(size=(4, 8, 1, 1))})
    model.graph.initializer.append(helper.make_tensor("s", 7, [4], [1, 2, 2, 16]))
    g, _ = prepared(model, {"x": rng.normal(size=(2, 3, 4, 4)).astype(np.float32)})
    assert ch.find_links(g) == []


def test_option_errors_are_clear():
    data = _data((4, 64))
    g, ctx = prepared(mlp(), data, outlier_8bit=8)
    with pytest.raises(PassError, match="--outlier-8bit needs --reorder-channels"):
        PassManager(["reorder-channels"]).run(g, ctx)
    g, ctx = prepared(mlp(), data, smoothquant=1.5)
    with pytest.raises(PassError, match=r"--smoothquant ALPHA must be in \(0, 1\), got 1.5"):
        PassManager(["smoothquant"]).run(g, ctx)
    g, ctx = prepared(mlp(), data, smoothquant=0.5)
    ctx.options["calib"], ctx.calib = None, None  # no calibration data at all
    with pytest.raises(PassError, match="needs calibration data: give --calib"):
        PassManager(["smoothquant"]).run(g, ctx)


def test_passes_are_no_ops_without_their_flags():
    data = _data((4, 64))
    g, ctx = prepared(mlp(outlier_cols=(1,)), data)
    before = {k: v.data.copy() for k, v in g.constants.items()}
    PassManager(["equalize", "smoothquant", "reorder-channels"]).run(g, ctx)
    assert set(g.constants) == set(before)


def test_split_is_a_boundary_and_a_conv_residual_reader_gets_the_original_order_back():
    rng = np.random.default_rng(1)
    split = onnx_model([helper.make_node("Conv", ["x", "w1"], ["a"]),
                        helper.make_node("Split", ["a"], ["b", "c"], axis=1, num_outputs=2),
                        helper.make_node("Conv", ["b", "w2"], ["d"]), helper.make_node("Conv", ["c", "w3"], ["e"]),
                        helper.make_node("Add", ["d", "e"], ["y"])],
                       [("x", [1, 3, 4, 4])], [("y", [1, 4, 4, 4])],
                       {"w1": rng.normal(size=(8, 3, 1, 1)), "w2": rng.normal(size=(4, 4, 1, 1)),
                        "w3": rng.normal(size=(4, 4, 1, 1))}, opset=18)
    g, _ = prepared(split, {"x": rng.normal(size=(2, 3, 4, 4)).astype(np.float32)})
    assert ch.find_links(g) == []
    # conv1 -> relu -> (conv2, residual Add): conv1 -> conv2 is a link, the Add reads a Gather
    res = onnx_model([helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]),
                      helper.make_node("Relu", ["a"], ["r"]),
                      helper.make_node("Conv", ["r", "w2"], ["c"], pads=[1, 1, 1, 1]),
                      helper.make_node("Add", ["r", "c"], ["y"])],
                     [("x", [1, 8, 6, 6])], [("y", [1, 8, 6, 6])],
                     {"w1": rng.normal(size=(8, 8, 3, 3)) * np.linspace(0.1, 3, 8)[:, None, None, None],
                      "w2": rng.normal(size=(8, 8, 3, 3)) * np.linspace(3, 0.1, 8)[None, :, None, None]})
    data = {"x": rng.normal(size=(4, 8, 6, 6)).astype(np.float32)}
    feeds = [{"x": data["x"][i:i + 1]} for i in range(4)]
    g, ctx = prepared(res, data, reorder_channels="sort")
    ref = outputs(g, feeds)
    _run_pass(g, ctx, "reorder-channels")
    assert ctx.report["reorder-channels"]["permuted"] == 1 and ctx.report["reorder-channels"]["restored"] == 1
    gather = next(n for n in g.nodes if n.op == "onnx.Gather")
    assert any(u.op == "onnx.Add" for u in gather.outputs[0].users)
    assert g.meta["ranges"][gather.outputs[0].name] == g.meta["ranges"][gather.inputs[0].name]
    for o, r in zip(outputs(g, feeds), ref):
        assert rel_err(o, r) <= TOL  # conv2 sums in another order


@settings(max_examples=12, deadline=None)
@given(st.integers(8, 48), st.integers(8, 80), st.booleans(), st.integers(0, 2 ** 16),
       st.sampled_from([{"equalize": True}, {"smoothquant": 0.3}, {"smoothquant": 0.7},
                        {"reorder_channels": "sort"}, {"reorder_channels": "cluster"}]))
def test_channel_passes_keep_random_mlps_and_permute_bijectively(k, hidden, relu, seed, opt):
    rng = np.random.default_rng(seed)
    rows = tuple(int(i) for i in rng.choice(hidden, size=min(3, hidden), replace=False))
    model = mlp(k=k, hidden=hidden, n=8, outlier_rows=rows, outlier_cols=rows[:1], seed=seed, relu=relu)
    data = {"x": rng.normal(0, 1, (16, k)).astype(np.float32)}
    g, ctx = prepared(model, data, **opt)
    feeds = [{"x": data["x"][i:i + 4]} for i in range(0, 16, 4)]
    w2_old = ch.find_links(g)[0].consumers[0].inputs[1].data.copy()
    ref = outputs(g, feeds)
    name = {"equalize": "equalize", "smoothquant": "smoothquant",
            "reorder_channels": "reorder-channels"}[next(iter(opt))]
    _run_pass(g, ctx, name)
    for o, r in zip(outputs(g, feeds), ref):
        assert rel_err(o, r) <= TOL
    if "reorder_channels" in opt:  # consumer rows are a permutation of the old rows
        w2 = ch.find_links(g)[0].consumers[0].inputs[1].data
        assert sorted(map(tuple, w2.tolist())) == sorted(map(tuple, w2_old.tolist()))


def test_links_pass_through_depthwise_convs_for_all_three_passes():
    rng = np.random.default_rng(3)
    w1 = rng.normal(size=(16, 8, 1, 1)) * np.linspace(0.05, 4, 16)[:, None, None, None]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"]), helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Conv", ["r", "w2", "b2"], ["d"], group=16, pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["d"], ["e"]), helper.make_node("Conv", ["e", "w3"], ["y"])]
    model = onnx_model(nodes, [("x", [1, 8, 6, 6])], [("y", [1, 8, 6, 6])],
                       {"w1": w1, "b1": rng.normal(0, 0.1, 16), "w2": rng.normal(size=(16, 1, 3, 3)),
                        "b2": rng.normal(0, 0.1, 16), "w3": rng.normal(size=(8, 16, 1, 1))})
    data = {"x": rng.normal(size=(4, 8, 6, 6)).astype(np.float32)}
    feeds = [{"x": data["x"][i:i + 1]} for i in range(4)]
    for opt, name in (({"equalize": True}, "equalize"), ({"smoothquant": 0.5}, "smoothquant"),
                      ({"reorder_channels": "sort"}, "reorder-channels")):
        g, ctx = prepared(model, data, **opt)
        lk = ch.find_links(g, scale=name != "reorder-channels")
        assert len(lk) == 1 and [n.attrs.get("group") for n in lk[0].chain] == [16]
        dw_old = lk[0].chain[0].inputs[1].data.copy()
        ref = outputs(g, feeds)
        _run_pass(g, ctx, name)
        for o, r in zip(outputs(g, feeds), ref):
            assert rel_err(o, r) <= TOL, (name, rel_err(o, r))
        dw = next(n for n in g.nodes if n.attrs.get("group") == 16)
        if name == "reorder-channels":  # the depthwise filters moved with their channels
            assert sorted(map(tuple, dw.inputs[1].data.reshape(16, -1).tolist())) == \
                sorted(map(tuple, dw_old.reshape(16, -1).tolist()))
            assert not np.array_equal(dw.inputs[1].data, dw_old)
        if name == "equalize":  # producer and consumer ranges balanced across the depthwise conv
            lk = ch.find_links(g, scale=True)[0]
            np.testing.assert_allclose(ch.producer_absmax(lk.producer),
                                       ch.consumer_absmax(lk.consumers[0]), rtol=1e-4)
            nm = dw.outputs[0].name  # its range was re-measured (the values shrank or grew)
            vals = np.concatenate([Interpreter(g).run(f, capture={nm})[nm].ravel() for f in feeds])
            np.testing.assert_allclose(g.meta["ranges"][nm], (vals.min(), vals.max()), rtol=1e-5)


def test_value_to_output_projection_is_permuted_inside_each_head():
    rng = np.random.default_rng(4)
    t, h, d = 6, 4, 8
    c = h * d
    wo = rng.normal(0, 0.2, (c, c))
    wo[[3, 12, 17, 30]] *= 10.0  # outlier rows, one per head
    nodes = [helper.make_node("MatMul", ["x", "wv"], ["v0"]), helper.make_node("Add", ["v0", "bv"], ["v"]),
             helper.make_node("Reshape", ["v", "s4"], ["v4"]),
             helper.make_node("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]),
             helper.make_node("Softmax", ["p"], ["pp"], axis=-1), helper.make_node("MatMul", ["pp", "vt"], ["o"]),
             helper.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["ot", "s3"], ["o3"]), helper.make_node("MatMul", ["o3", "wo"], ["y"])]
    model = onnx_model(nodes, [("x", [1, t, c]), ("p", [1, h, t, t])], [("y", [1, t, c])],
                       {"wv": rng.normal(0, 0.2, (c, c)), "bv": rng.normal(0, 0.1, c), "wo": wo})
    model.graph.initializer.extend([helper.make_tensor("s4", 7, [4], [1, t, h, d]),
                                    helper.make_tensor("s3", 7, [3], [1, t, c])])
    data = {"x": rng.normal(size=(4, t, c)).astype(np.float32), "p": rng.normal(size=(4, h, t, t)).astype(np.float32)}
    feeds = [{k: a[i:i + 1] for k, a in data.items()} for i in range(4)]
    for mode in ("sort", "cluster"):
        g, ctx = prepared(model, data, reorder_channels=mode)
        (lk,) = ch.find_head_links(g)
        assert lk.heads == h and [n.op for n in lk.chain][2] == "onnx.MatMul"
        wo_old = lk.consumers[0].inputs[1].data.copy()
        ref = outputs(g, feeds)
        _run_pass(g, ctx, "reorder-channels")
        for o, r in zip(outputs(g, feeds), ref):
            assert rel_err(o, r) <= TOL
        wo_new = ch.find_head_links(g)[0].consumers[0].inputs[1].data
        perm = [int(np.flatnonzero((wo_old == row).all(axis=1))[0]) for row in wo_new]
        assert sorted(perm) == list(range(c)) and perm != list(range(c))
        assert all(perm[i] // d == i // d for i in range(c))  # block diagonal: heads kept
        if mode == "sort":
            assert {perm[j * d + d - 1] for j in range(h)} == {3, 12, 17, 30}  # outliers last per head
