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
