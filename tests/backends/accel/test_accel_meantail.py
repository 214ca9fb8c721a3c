"""The global mean after a conv whose output it reads on chip (docs/target_accel.md §6, "The
global mean's input on chip"): each channel block's identity GEMM waits only for the STOREs of
that block's plane, in the accumulator half the conv did not use last; every block's first row
is its sum row (no MOV) and the centring is the STORE's bias (no ALU ADD); bit-exact with the
reference interpreter at the zero point's edges, reading the input on chip or from DRAM."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qcc.backends.accel.timing import simulate

from accel_testlib import HW, compile_and_compare
from test_accel_boundary import _conv_mean
from test_accel_resident import _program


def _in(prog, ly):
    return [i for i in range(ly["first"], ly["last"])]


def test_the_means_first_blocks_do_not_wait_for_the_last_blocks_store(tmp_path):
    """conv (3 channel blocks, on chip) -> global mean: the mean's first identity GEMM starts
    before the conv's last on-chip STORE (of another block) is ready; bit-exact.  (With a DMA
    latency of hundreds of cycles on this small test array the identity block's LOAD, which
    waits for the conv's GEMMs on that weight block, lands last instead.)"""
    hw = replace(HW, dma_latency=64)
    acc = compile_and_compare(_conv_mean(20, 5, 5), tmp_path, hw)
    cv, mean = acc["layers"]
    assert cv["onchip"]["output"].startswith("flat 3x5x5")
    prog = _program(tmp_path)
    s = simulate(prog, hw)
    stores = [i for i in _in(prog, cv) if prog[i].op == "STORE" and prog[i]["inp"]]
    gemms = [i for i in _in(prog, mean) if prog[i].op == "GEMM"]
    assert len(gemms) == 3
    assert s.start[gemms[0]] < max(s.ready[i] for i in stores)


@pytest.mark.parametrize("onchip", [True, False])
@pytest.mark.parametrize("zp", [-128, -3, 0, 127])
def test_the_mean_has_no_mov_and_its_centring_is_the_store_bias(onchip, zp, tmp_path):
    """No ALU MOV and no ALU immediate ADD in the mean; the CONFIG SCALE before its STOREs
    carries -x_zp * H * W as the bias; bit-exact at the zero point's edges (the inputs are
    random over the whole int8 range)."""
    from accel_testlib import G
    from test_accel_resident import conv

    g = G(21)
    x = g.input((1, 3, 5, 5))
    a = conv(g, x, 20, 3, x_zp=1, y_zp=zp, pads=[1, 1, 1, 1])
    g.op("qcc.global_avgpool", [a, *g.mult(1, 0.05)], {"x_zp": zp, "y_zp": 2}, output=True)
    acc = compile_and_compare(g, tmp_path, replace(HW, onchip_store=onchip), 3)
    cv, mean = acc["layers"]
    assert bool(cv.get("onchip")) == onchip
    prog = _program(tmp_path)
    mine = [prog[i] for i in _in(prog, mean)]
    alus = [i for i in mine if i.op == "ALU"]
    assert alus and all(i["alu_op"] == "ADD" and not i["use_imm"] for i in alus)
    (scale,) = [i for i in mine if i.op == "CONFIG" and i["reg"] == "SCALE"]
    assert scale["b"] == -zp * 25


def _dw_mean(tk: int, monkeypatch, seed: int = 5):
    """conv -> depthwise 3x3 (two channel blocks of the 16-lane array, its K forced into
    chunks of ``tk`` kernel taps) -> global mean: the depthwise layer computes and stores its
    blocks one after the other, so the mean's first block is ready long before its last."""
    from qcc.backends.accel import gemm_emit
    from accel_testlib import G
    from test_accel_resident import conv

    real = gemm_emit.candidates

    def forced(ly, hw_):
        cands = real(ly, hw_)
        keep = [t for t in cands if t.order == "w2d" and t.tk == tk]
        return keep if ly.group > 1 and keep else cands
    monkeypatch.setattr(gemm_emit, "candidates", forced)
    g = G(seed)
    x = g.input((1, 3, 4, 4))
    a = conv(g, x, 32, 3, x_zp=1, y_zp=-3, pads=[1, 1, 1, 1])
    d = conv(g, a, 32, 3, group=32, x_zp=-3, y_zp=2, pads=[1, 1, 1, 1])
    g.op("qcc.global_avgpool", [d, *g.mult(1, 0.05)], {"x_zp": 2, "y_zp": 1}, output=True)
    return g


@pytest.mark.parametrize("split", [True, False])
def test_the_on_chip_mean_takes_the_faster_order_behind_its_producers(split, tmp_path,
                                                                       monkeypatch):
    """The mean simulates both orders of its identity GEMMs and ADDs behind the conv/linears
    that produced its input and keeps the faster.  After a depthwise layer with its K in
    chunks of 3 taps (default 16x16 configuration) the first block is stored long before the
    second, and the first block's ADD runs before the last block's GEMM (faster than all GEMMs
    first, the order before); after a 3x3 conv that stores its 3 blocks together (the 8x8
    test array) all GEMMs first wins.  Bit-exact."""
    from qcc.backends.accel import lower_mean
    from qcc.backends.accel.hw import HwConfig

    hw = HwConfig() if split else HW
    blocks = 2 if split else 3
    totals, accs = {}, {}
    for force in (None, False, True):
        if force is not None:
            monkeypatch.setattr(lower_mean.MeanSide, "_mean_split",
                                lambda self, call, before, f=force: f)
        out = tmp_path / str(force)
        out.mkdir()
        g = _dw_mean(3, monkeypatch) if split else _conv_mean(20, 5, 5)
        acc = compile_and_compare(g, out, hw, 1)
        assert acc["layers"][-2]["onchip"]["output"].startswith(f"flat {blocks}x")
        totals[force], accs[force] = simulate(_program(out), hw).total, acc
    assert totals[None] == min(totals[False], totals[True])
    assert (totals[True] < totals[False]) == split
    prog = _program(tmp_path / "None")
    mean = accs[None]["layers"][-1]
    ops = [prog[i].op for i in _in(prog, mean) if prog[i].op in ("GEMM", "ALU")]
    gemms_first = ["GEMM"] * blocks + ["ALU"] * blocks
    assert ops == (["GEMM", "ALU", "GEMM", "ALU"] if split else gemms_first)


def test_the_identity_block_does_not_wait_for_the_producers_last_gemms(tmp_path):
    """conv -> depthwise (all 9 taps at once: its weights take a whole weight half) -> mean: the
    identity block goes into the last block of the other weight half, so its LOAD lands before
    the depthwise layer's last GEMM has streamed and the mean's first GEMM chains right behind
    it; bit-exact."""
    from accel_testlib import G
    from qcc.backends.accel.hw import HwConfig
    from test_accel_resident import conv

    hw = HwConfig()
    g = G(5)
    x = g.input((1, 3, 4, 4))
    a = conv(g, x, 32, 3, x_zp=1, y_zp=-3, pads=[1, 1, 1, 1])
    d = conv(g, a, 32, 3, group=32, x_zp=-3, y_zp=2, pads=[1, 1, 1, 1])
    g.op("qcc.global_avgpool", [d, *g.mult(1, 0.05)], {"x_zp": 2, "y_zp": 1}, output=True)
    acc = compile_and_compare(g, tmp_path, hw, 1)
    dw, mean = acc["layers"][1], acc["layers"][2]
    assert "tk=9" in dw["tiling"]
    prog = _program(tmp_path)
    s = simulate(prog, hw)
    ident = [i for i in _in(prog, mean) if prog[i].op == "LOAD" and prog[i]["buf"] == "WGT"]
    last_dw = max(i for i in _in(prog, dw) if prog[i].op == "GEMM")
    first = min(i for i in _in(prog, mean) if prog[i].op == "GEMM")
    assert len(ident) == 1 and s.ready[ident[0]] <= s.end[last_dw] == s.start[first]



def _stem_dw_mean_linear(seed: int = 7):
    """1-channel 3x3 stem -> depthwise 3x3 -> global mean -> Flatten -> linear (digits_cnn's
    tail in small)."""
    import numpy as np
    from accel_testlib import G
    from test_accel_resident import conv

    g = G(seed)
    x = g.input((1, 1, 8, 8))
    a = conv(g, x, 16, 3, x_zp=1, y_zp=-3, pads=[1, 1, 1, 1])
    d = conv(g, a, 16, 3, group=16, x_zp=-3, y_zp=-1, pads=[1, 1, 1, 1])
    p = g.op("qcc.global_avgpool", [d, *g.mult(1, 0.05)], {"x_zp": -1, "y_zp": 4})
    f = g.op("onnx.Flatten", [p], {"axis": 1})
    w = g.const(g.rand((16, 10)))
    bias = g.const(g.rng.integers(-300, 300, 10).astype(np.int32))
    g.op("qcc.linear", [f, w, bias, *g.mult(10)], dict(x_zp=4, y_zp=-1), output=True)
    return g


def test_a_layer_before_the_mean_loads_the_classifiers_parameters_where_free(tmp_path,
                                                                            monkeypatch):
    """With the mean's input on chip the mean loads no parameters (its ADDs would wait for the
    LOAD); a layer before it that has room in its EX engine's wait loads the classifier's (the
    stem here, with its own and the depthwise layer's), and the classifier loads none: fewer
    cycles than when the classifier loads its own (the scan stopping at the mean); bit-exact."""
    from qcc.backends.accel import lookahead
    from qcc.backends.accel.hw import HwConfig
    from test_accel_boundary import _params_in

    hw = HwConfig()
    acc = compile_and_compare(_stem_dw_mean_linear(), tmp_path, hw)
    stem, dw, mean, lin = acc["layers"]
    assert mean["op"] == "qcc.global_avgpool" and dw.get("onchip")
    prog = _program(tmp_path)
    assert _params_in(prog, lin) == [] and _params_in(prog, mean) == []
    assert len(_params_in(prog, stem)) == 3
    total = simulate(prog, hw).total
    monkeypatch.setattr(lookahead, "far_prefetch", lambda ctx, ly, t, xr, yr, o, b, later, kept: kept)
    off = tmp_path / "off"
    off.mkdir()
    acc = compile_and_compare(_stem_dw_mean_linear(), off, hw, 1)
    prog_off = _program(off)
    assert len(_params_in(prog_off, acc["layers"][3])) == 1
    assert total < simulate(prog_off, hw).total
