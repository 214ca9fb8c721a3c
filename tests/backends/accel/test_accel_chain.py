"""Back-to-back GEMMs (``HwConfig.gemm_chain``, docs/target_accel.md §4): a GEMM's pipeline
drain is latency rather than EX busy time, so the next GEMM streams its rows right behind it,
its first weight preload hidden when it issues back to back; every other EX instruction
waits for the drain.  Timing only: the same stream computes the same results."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import make
from qcc.backends.accel.timing import gemm_cycles, gemm_parts, simulate

from accel_testlib import HW, G, compile_and_compare


def _gemm(rows, kb, **kw):
    return make("GEMM", rows=rows, kblocks=kb, inp_kstride=rows, wgt_kstride=1, **kw)


@pytest.mark.parametrize("df", ["ws", "os"])
def test_back_to_back_gemms_overlap_drain_and_preload(df):
    hw = replace(HwConfig(), dataflow=df)
    a, b = _gemm(40, 3), _gemm(7, 2, deps=("push_next",))
    st = make("STORE", dtype="i8", mode="raw", rows=1, cols=1, stride=1, deps=("pop_prev",))
    s = simulate([a, b, st], hw)
    fa, sa, da = gemm_parts(40, 3, hw)
    fb, sb, db = gemm_parts(7, 2, hw)
    assert (fa + sa + da, fb + sb + db) == (gemm_cycles(40, 3, hw), gemm_cycles(7, 2, hw))
    assert s.start[1] == fa + sa                     # streams right behind the first GEMM
    assert s.end[1] == fa + sa + sb                  # ... without its own preload
    assert s.ready[1] == fa + sa + sb + db           # results usable after the drain
    assert s.start[2] == s.ready[1]                  # the STORE waits for them
    off = simulate([a, b, st], replace(hw, gemm_chain=False))
    assert off.start[1] == gemm_cycles(40, 3, hw)
    assert off.ready[1] == gemm_cycles(40, 3, hw) + gemm_cycles(7, 2, hw)
    assert s.total < off.total


def test_other_ex_instructions_wait_for_the_drain_and_break_the_chain():
    hw = HwConfig()
    g1, alu, g2 = _gemm(16, 1), make("ALU", alu_op="ADD", use_imm=1, rows=4, dst_inc=1), _gemm(16, 1)
    s = simulate([g1, alu, g2], hw)
    fill, stream, drain = gemm_parts(16, 1, hw)
    assert s.start[1] == fill + stream + drain       # the ALU reads what the GEMM drained
    assert s.end[2] - s.start[2] == fill + stream    # after the ALU the preload is paid again


@pytest.mark.parametrize("reg", ["GEMM_ROWS", "GEMM_TAPS"])
def test_a_gemm_loop_config_does_not_wait_for_the_drain(reg):
    """CONFIG GEMM_ROWS / GEMM_TAPS set the input addressing of the GEMMs issued after them
    (the drain writes accumulator rows only): they issue once the previous GEMM has streamed,
    while an ALU after them still waits for its drain."""
    hw = HwConfig()
    g1 = _gemm(16, 1)
    cfg = make("CONFIG", reg=reg, a=4, b=6, c=1)
    alu = make("ALU", alu_op="ADD", use_imm=1, rows=4, dst_inc=1)
    s = simulate([g1, cfg, alu], hw)
    fill, stream, drain = gemm_parts(16, 1, hw)
    assert s.start[1] == fill + stream
    assert s.start[2] == fill + stream + drain


def test_a_gemm_that_waits_for_a_token_pays_its_preload():
    hw = HwConfig()
    ld = make("LOAD", buf="INP", rows=16, cols=16, stride=16, deps=("push_next",))
    g1, g2 = _gemm(16, 1), _gemm(16, 1, deps=("pop_prev",))
    s = simulate([ld, g1, g2], hw)
    fill, stream, _ = gemm_parts(16, 1, hw)
    assert s.start[2] > s.end[1] and s.end[2] - s.start[2] == fill + stream


def test_needs_gemm_overlap_and_changes_no_result(tmp_path):
    """With ``gemm_overlap = false`` (SCALE-Sim's accounting) there is no chaining; a conv
    chain computes the reference's outputs with chaining on and off."""
    a, b = _gemm(40, 3), _gemm(7, 2)
    hw = replace(HwConfig(), gemm_overlap=False)
    assert simulate([a, b], hw).total == gemm_cycles(40, 3, hw) + gemm_cycles(7, 2, hw)
    g = G(2)
    x = g.input((1, 8, 9, 9))
    y = g.conv(x, 12, 3, pads=[1, 1, 1, 1], x_zp=1)
    g.conv(y, 8, 1, x_zp=-3)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    outs = []
    for chain in (True, False):
        d = tmp_path / f"c{chain}"
        d.mkdir()
        outs.append(compile_and_compare(g, d, replace(HW, gemm_chain=chain), samples=1))
    assert all(o["host_ops"] == [] for o in outs)


def test_hw_option():
    from qcc.backends.accel.hw import parse_overrides
    assert HwConfig().gemm_chain is True
    assert parse_overrides(["gemm_chain=false"]).gemm_chain is False
