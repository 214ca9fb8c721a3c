"""The accelerator renders the shared kernel program (``qcc.lower``): it reads no IR node,
its DRAM arena is the shared memory plan's, and small graphs built here run bit-exact with
the reference interpreter (elementwise ops with constant and row-broadcast operands,
channels-last tensors reshaped and transposed, concat by addressing)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from qcc.backends.accel.program import lower_for, render
from qcc.backends.accel.target import SUPPORT, accel_target
from qcc import arith
from qcc.ir import DType

from accel_testlib import HW, G, compile_and_compare

ACCEL = Path(__file__).resolve().parents[3] / "backends" / "accel"
HOST_SIDE = ("runtime.py", "__init__.py")   # the host executor runs IR nodes for fallbacks


def _cnn_with_views() -> G:
    g = G(1)
    x = g.input((1, 3, 6, 6))
    c1 = g.conv(x, 12, 3, pads=[1, 1, 1, 1])                       # [1,12,6,6] channels-last
    c2 = g.conv(c1, 12, 1)
    s = g.op("qcc.add", [c1, c2, *g.mult(2, 0.5)[:1], g.const(np.array([20], np.int32))],
             {"a_zp": 3, "b_zp": -2})
    r = g.op("onnx.Reshape", [s, g.const(np.array([1, 12, 36], np.int64))])   # a byte-moving view
    t = g.op("onnx.Transpose", [r], {"perm": [0, 2, 1]}, output=True)          # [1,36,12]
    cst = g.const(g.rand((36, 12)))
    g.op("qcc.add", [t, cst, g.const(np.array([1 << 29, 1 << 28], np.int32)),
                     g.const(np.array([30], np.int32))], output=True)          # constant operand
    return g


class _OnlyAccBits(dict):
    def get(self, key, default=None):
        assert key == "acc_bits", f"the renderer read node attribute '{key}'"
        return super().get(key, default)

    def __getitem__(self, key):
        assert key == "acc_bits", f"the renderer read node attribute '{key}'"
        return super().__getitem__(key)


def test_renderer_reads_no_ir_node(tmp_path):
    """Every call's node is replaced by a stub with only a name and an op: rendering works,
    so the accelerator reads nothing of the IR but the kernel program."""
    g = _cnn_with_views()
    kp = lower_for(g.g, HW)
    for call in kp.calls:  # qcc.lower's Kernel.acc_bits reads the node's acc_bits only
        call.node = SimpleNamespace(name=call.node.name, op=call.node.op,
                                    attrs=_OnlyAccBits(acc_bits=call.acc_bits))
    ap = render(kp, HW, 2)
    assert ap.instrs and not ap.host_ops
    assert ap.plan.arena_size == kp.plan.arena   # the DRAM arena is the shared plan's
    for reg in ap.regions.values():
        loc = kp.location(next(v for c in kp.calls for v, _ in c.tensors() if v.name == reg.name)) \
            if any(v.name == reg.name for c in kp.calls for v, _ in c.tensors()) else None
        if loc is not None and loc.space == "arena":
            assert reg.addr == loc.offset


def test_sources_walk_no_ir():
    """Static check: outside the host executor, no module touches node inputs, attributes,
    graph nodes or value producers/users."""
    pat = re.compile(r"(?<!kp)\.(attrs|inputs|outputs|nodes|producer|users)\b|\.attr\(")
    for f in sorted(ACCEL.glob("*.py")):
        if f.name in HOST_SIDE:
            continue
        bad = [ln for ln in f.read_text().splitlines() if pat.search(ln)]
        assert not bad, f"{f.name}: {bad}"


def test_target_and_support_from_hardware():
    t = accel_target(HW)
    assert t.name == "accel" and t.align == 64
    assert t.onchip_bytes["input"] == HW.inp_kib * 1024
    assert t.onchip_bytes["accumulator"] == HW.acc_kib * 1024
    assert "conv2d" in SUPPORT.families and "isoftmax" in SUPPORT.families \
        and "lstm" in SUPPORT.families and "argmax" not in SUPPORT.families


def test_views_transpose_and_constant_operand_bit_exact(tmp_path):
    acc = compile_and_compare(_cnn_with_views(), tmp_path)
    assert acc["host_ops"] == []
    kinds = {ly["op"]: ly["kind"] for ly in acc["layers"]}
    assert kinds["onnx.Transpose"] == "dma"


@pytest.mark.parametrize("op", ["qcc.add", "qcc.sub", "qcc.mul"])
def test_row_broadcast_operand(op, tmp_path):
    g = G(2)
    a = g.input((5, 24))
    b = g.input((24,))
    mults = [g.const(np.array([1 << 29, 3 << 27], np.int32))] if op != "qcc.mul" else \
        [g.const(np.array([1 << 25], np.int32))]
    g.op(op, [a, b, *mults, g.const(np.array([31], np.int32))], {"a_zp": 1, "b_zp": -3},
         output=True)
    assert compile_and_compare(g, tmp_path)["host_ops"] == []


def test_max_min_and_concat_on_last_axis(tmp_path):
    g = G(3)
    a, b = g.input((3, 10)), g.input((3, 10))
    mx = g.op("onnx.Max", [a, b])
    mn = g.op("onnx.Min", [a, b])
    g.op("qcc.concat", [mx, mn, g.const(np.array([1 << 30, 1 << 29], np.int32)),
                        g.const(np.array([30, 30], np.int32))], {"axis": -1, "zps": [0, 0]},
         output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []


def test_unsupported_call_is_a_listed_fallback(tmp_path):
    """A family the accelerator does not render runs on the host, listed with its reason,
    and the model still runs bit-exact."""
    g = G(4)
    x = g.input((2, 8), DType.int8)
    g.op("onnx.ArgMax", [x], {"axis": 1, "keepdims": 1}, output=True)
    acc = compile_and_compare(g, tmp_path)
    assert [h["op"] for h in acc["host_ops"]] == ["onnx.ArgMax"]
    assert "index search" in acc["host_ops"][0]["reason"]


@pytest.mark.parametrize("adt,azp,bzp,requant", [
    (DType.int8, -3, -1, False), (DType.uint8, 0, 1, True), (DType.int8, 0, 0, True),
    (DType.uint8, 7, -4, False)])
def test_matmul_as_gemm_stream(adt, azp, bzp, requant, tmp_path):
    """Activation x activation matmul (broadcast batch, K and N not multiples of the array,
    zero points on both sides, uint8 a) runs on the array bit-exact."""
    g = G(5)
    a = g.input((2, 3, 11, 19), adt)
    b = g.input((1, 3, 19, 13))
    attrs = {"a_zp": azp, "b_zp": bzp}
    ins = [a, b]
    if requant:
        ins += list(g.mult(1, 0.003))
        attrs["y_zp"] = 5
    else:
        attrs["dtype"] = "i32"
    g.op("qcc.matmul", ins, attrs, output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []
    assert [ly["kind"] for ly in acc["layers"]] == ["gemm"]


@pytest.mark.parametrize("k,s,p,ceil", [(2, 2, 0, 0), (3, 1, 1, 0), (3, 2, 1, 1), (2, 1, 0, 0)])
def test_maxpool_on_the_alu(k, s, p, ceil, tmp_path):
    g = G(6)
    x = g.input((1, 20, 7, 9))
    c = g.conv(x, 20, 1)
    g.op("onnx.MaxPool", [c], {"kernel_shape": [k, k], "strides": [s, s], "pads": [p] * 4,
                               "ceil_mode": ceil}, output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []


@pytest.mark.parametrize("k,s,p,incl", [(2, 2, 0, 0), (3, 1, 1, 0), (3, 2, 1, 1)])
def test_avgpool_on_the_alu(k, s, p, incl, tmp_path):
    g = G(7)
    x = g.input((2, 11, 6, 7))
    cnt = np.arange(1, k * k + 1)
    m = g.const(np.full(k * k, 1 << 30, np.int32) // cnt.astype(np.int32))
    sh = g.const(np.full(k * k, 30, np.int32))
    g.op("qcc.avgpool", [x, m, sh], {"kernel_shape": [k, k], "strides": [s, s], "pads": [p] * 4,
                                     "count_include_pad": incl, "x_zp": 3, "y_zp": -2},
         output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []


@pytest.mark.parametrize("xdt", [DType.int8, DType.int16])
def test_threshold_as_alu_count_and_lut(xdt, tmp_path):
    g = G(8)
    x = g.input((3, 40), xdt)
    t = np.array([xdt.min - 5, xdt.min, -7, 0, 1, 33, xdt.max, xdt.max + 9], np.int64)
    vals = np.arange(len(t) + 1, dtype=np.int32) * 11 - 40
    g.op("qcc.threshold", [x, g.const(t), g.const(vals)], {"dtype": "i8"}, output=True)
    assert compile_and_compare(g, tmp_path, samples=3)["host_ops"] == []


def test_threshold_on_int64_values(tmp_path):
    """An int64 input (an ONNX attention mask): clamped to int32 from its two words, which
    keeps every comparison with a threshold inside int32 exact, far outside int32 too."""
    g = G(8)
    x = g.input((2, 1, 24), DType.int64)
    t = np.array([-(1 << 63), -(1 << 31) + 2, -1, 0, 1, 5, (1 << 31) - 1], np.int64)
    vals = np.arange(len(t) + 1, dtype=np.int32) * 7 - 30
    g.op("qcc.threshold", [x, g.const(t), g.const(vals)], {"dtype": "i8"}, output=True)
    edges = np.array([0, 1, -1, 5, 4, (1 << 31) - 1, 1 << 31, -(1 << 31), -(1 << 31) + 1,
                      -(1 << 31) + 2, 1 << 33, -(1 << 33), (1 << 32) + 3, -(1 << 32) - 1,
                      (1 << 63) - 1, -(1 << 63), 1 << 50, (1 << 50) - 1, -(1 << 40), 2, 3, 6,
                      -2, 7], np.int64)

    def feeds():
        return {x.name: g.rng.permutation(np.concatenate([edges, edges])).reshape(2, 1, 24)}
    g.feeds = feeds
    assert compile_and_compare(g, tmp_path, samples=3)["host_ops"] == []
    g.op("qcc.threshold", [x, g.const(np.array([1 << 40], np.int64)),
                           g.const(np.array([0, 1], np.int32))], {"dtype": "i8"}, output=True)
    (tmp_path / "wide").mkdir()
    host = compile_and_compare(g, tmp_path / "wide", samples=1)["host_ops"]
    assert [h["reason"] for h in host] == ["a threshold outside the 32-bit immediate range"]


@pytest.mark.parametrize("level,y_hi,zp", [(1024, 6.0, 0), (64, 3.0, 5)])
def test_igelu_as_alu_sequence(level, y_hi, zp, tmp_path):
    from qcc.ops.integer_transformer import igelu_consts
    c = igelu_consts(y_hi, level)
    g = G(9)
    x = g.input((4, 30), DType.int16)
    g.op("qcc.igelu", [x, *g.mult(1, c["out_scale"] / 0.05)], dict(c["attrs"], x_zp=zp, y_zp=-3),
         output=True)
    feeds = g.feeds  # values across the whole clip range of the i-erf
    g.feeds = lambda: {x.name: g.rng.integers(-3 * level, 3 * level, x.shape).astype(np.int16)}
    assert compile_and_compare(g, tmp_path, samples=3)["host_ops"] == []
    g.feeds = feeds


@pytest.mark.parametrize("c,m,k,pads,group", [
    (3, 12, 3, [1, 1, 1, 1], 1), (20, 9, 3, [0, 1, 2, 0], 1), (16, 16, 5, [2, 2, 2, 2], 16),
    (12, 6, 3, [1, 0, 1, 2], 2), (9, 17, 1, [0, 0, 0, 0], 1)])
def test_padded_window_schedule(c, m, k, pads, group, tmp_path, monkeypatch):
    """Stride-1 convolutions forced onto the padded-window schedule (one LOAD per window
    row, one GEMM per kernel row) are bit-exact; a 1x1 conv keeps the gather schedule."""
    from qcc.backends.accel import gemm_emit
    orig = gemm_emit.candidates
    monkeypatch.setattr(gemm_emit, "candidates",
                        lambda ly, hw: [t for t in orig(ly, hw) if t.order == "win"] or orig(ly, hw))
    g = G(10)
    x = g.input((1, c, 6, 7))
    w = g.const(g.rand((m, c // group, k, k)))
    b = g.const(g.rng.integers(-500, 500, m).astype(np.int32))
    g.op("qcc.conv2d", [x, w, b, *g.mult(m)], dict(strides=[1, 1], pads=pads, group=group,
                                                  x_zp=-5, y_zp=3), output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []
    assert ("order=win" in acc["layers"][0]["tiling"]) == (k > 1)


def test_channel_shuffle_keeps_convs_on_the_array(tmp_path):
    """conv -> Reshape [N, g, C/g, H, W] -> Transpose -> Reshape [N, C, H, W] -> conv: the
    transpose's output is stored channels-last in the shape of the view the next conv
    reads, so every call runs on the accelerator, bit-exact."""
    g = G(11)
    x = g.input((1, 4, 5, 6))
    c1 = g.conv(x, 12, 3, pads=[1, 1, 1, 1])
    r1 = g.op("onnx.Reshape", [c1, g.const(np.array([1, 3, 4, 5, 6], np.int64))])
    t = g.op("onnx.Transpose", [r1], {"perm": [0, 2, 1, 3, 4]})
    r2 = g.op("onnx.Reshape", [t, g.const(np.array([1, 12, 5, 6], np.int64))])
    c2 = g.conv(r2, 8, 1)
    g.g.outputs.append(c2)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []


def test_global_window_avgpool_to_a_1x1_output(tmp_path):
    """An AvgPool whose window covers the plane writes [N, C, 1, 1] (the same bytes in
    either layout) and stays on the accelerator."""
    g = G(12)
    x = g.input((1, 20, 5, 5))
    c = g.conv(x, 20, 1)
    g.op("qcc.avgpool", [c, g.const(np.full(25, 1 << 25, np.int32)),
                         g.const(np.full(25, 30, np.int32))],
         {"kernel_shape": [5, 5], "strides": [1, 1], "pads": [0, 0, 0, 0]}, output=True)
    assert compile_and_compare(g, tmp_path)["host_ops"] == []


def test_concat_of_pooled_and_conv_branches_stays_channels_last(tmp_path):
    """A channel concat of a pooling branch and a conv branch with different channel counts,
    then requant and a residual add: one layout for the group, all on the accelerator."""
    g = G(13)
    x = g.input((1, 8, 6, 6))
    p = g.op("onnx.MaxPool", [x], {"kernel_shape": [2, 2], "strides": [2, 2]})
    c = g.conv(p, 12, 1)
    cat = g.op("qcc.concat", [p, c, g.const(np.array([1 << 30, 1 << 29], np.int32)),
                              g.const(np.array([30, 30], np.int32))], {"axis": 1, "zps": [0, 0]})
    r = g.op("qcc.requant", [cat, *g.mult(1, 0.9)], {"x_zp": 1, "y_zp": 2})
    c2 = g.conv(r, 20, 1)
    g.op("qcc.add", [c2, r, g.const(np.array([1 << 29, 1 << 29], np.int32)),
                     g.const(np.array([30], np.int32))], output=True)
    assert compile_and_compare(g, tmp_path)["host_ops"] == []


@pytest.mark.parametrize("op,swap", [("qcc.mul", False), ("qcc.mul", True), ("qcc.add", False)])
def test_channel_broadcast_operand(op, swap, tmp_path):
    """The squeeze-and-excitation scale: a channels-last [N,C,H,W] tensor times a run-time
    [N,C,1,1] tensor (two batches, channels over two lane blocks)."""
    g = G(5)
    x = g.input((2, 3, 4, 5))
    c = g.conv(x, 12, 1)                                  # [2,12,4,5] channels-last
    s = g.input((2, 12, 1, 1))
    mults = [g.const(np.array([1 << 29, 3 << 27], np.int32))] if op != "qcc.mul" else \
        [g.const(np.array([1 << 25], np.int32))]
    ins = [s, c] if swap else [c, s]
    g.op(op, [*ins, *mults, g.const(np.array([31], np.int32))], {"a_zp": 2, "b_zp": -5},
         output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []


@pytest.mark.parametrize("keep,zp,c", [(0, 3, 12), (1, -7, 5), (0, 0, 1)])
def test_reduce_mean_over_spatial_axes_as_global_average(keep, zp, c, tmp_path):
    g = G(6)
    x = g.input((2, 3, 5, 4))
    cv = g.conv(x, c, 1)                                  # channels-last [2,c,5,4]
    m, s = g.mult(1, 0.05)
    g.op("qcc.reduce_mean", [cv, m, s], {"axes": [2, 3], "keepdims": keep, "x_zp": zp},
         output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []


@pytest.mark.parametrize("axes", [[1, 2], [0, 1]])
def test_reduce_mean_over_other_axes_is_a_listed_fallback(axes, tmp_path):
    """Axes whose reduced elements are no [outer, k, inner] view of the channels-last bytes
    (the others: test_accel_reduce.py)."""
    g = G(7)
    x = g.input((2, 3, 5, 4))
    cv = g.conv(x, 6, 1)
    m, s = g.mult(1, 0.05)
    g.op("qcc.reduce_mean", [cv, m, s], {"axes": axes, "keepdims": 1, "x_zp": 1}, output=True)
    acc = compile_and_compare(g, tmp_path)
    assert [h["op"] for h in acc["host_ops"]] == ["qcc.reduce_mean"]
    assert "[outer, reduced, inner]" in acc["host_ops"][0]["reason"]


def _wide_linear(seed, k, scale, bias_edge):
    """A linear with an int64 accumulator (acc_bits=64) whose first channels' biases sit at
    the int32 limits (a saturated bias: their sums leave int32)."""
    g = G(seed)
    x = g.input((3, k))
    w = g.const(g.rand((k, 6)))
    b = g.rng.integers(-3000, 3000, 6).astype(np.int64)
    b[:2] = bias_edge
    m, s = g.mult(6, scale)
    g.op("qcc.linear", [x, w, g.const(b.astype(np.int32)), m, s], {"x_zp": -3, "acc_bits": 64},
         output=True)
    return g


def test_int64_linear_whose_wide_channels_clamp_runs_on_the_array(tmp_path):
    """Channels at the int32 limits requantize to one clamped value over every input: the
    array computes them from zero weights; the others' sums are inside int32."""
    g = _wide_linear(8, 40, 0.01, [arith.INT32_MIN, arith.INT32_MAX])
    acc = compile_and_compare(g, tmp_path, samples=3)
    assert acc["host_ops"] == []
    assert [ly["kind"] for ly in acc["layers"]] == ["gemm"]


def test_int64_linear_without_an_int32_proof_stays_on_the_host(tmp_path):
    """A sum that crosses -2^31 and requantizes to several values: not exact in int32."""
    g = _wide_linear(9, 1500, 5.5e-8, [arith.INT32_MIN + 5, arith.INT32_MIN + 9])
    acc = compile_and_compare(g, tmp_path, samples=1)
    assert [h["op"] for h in acc["host_ops"]] == ["qcc.linear"]
    assert "int64 accumulator" in acc["host_ops"][0]["reason"]


def test_int64_conv_whose_sums_fit_int32_runs_on_the_array(tmp_path):
    """acc_bits=64 set where every channel's sum provably fits int32 (the pass's bound is
    coarser than the per-channel range): the array's int32 sums are exact."""
    g = G(10)
    x = g.input((1, 4, 5, 5))
    g.conv(x, 9, 3, pads=[1, 1, 1, 1], acc_bits=64, x_zp=2)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []
