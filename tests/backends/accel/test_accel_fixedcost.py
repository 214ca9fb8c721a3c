"""The fixed costs of short conv layers (docs/target_accel.md §6, §12): the padding rows of a
resident window written after the producer's own loads, DRAM row intervals that name their
lanes (a fused add's operand LOAD of one channel block does not wait for the in-place STOREs
of another), narrow im2col tiles; bit-exact under very different interleavings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qcc.backends.accel.isa import make
from qcc.backends.accel.lower_gemm import Tiling, capacity
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import simulate

from accel_testlib import HW, G, compile_and_compare
from test_accel_resident import _program, conv


def test_lane_intervals_wait_only_for_writes_of_the_same_lanes():
    b = Builder()
    y = ("DRAM", "y")
    whole = b.group("st", writes=[y])
    whole.add(make("STORE", note="whole"))
    lo = b.group("st", writes=[y], rows={y: (0, 16, 0, 8)})      # block 0 of rows 0..15
    lo.add(make("STORE", note="lanes 0..7"))
    hi_read = b.group("ld", reads=[y], rows={y: (0, 16, 8, 16)})  # block 1 of the same rows
    hi_read.add(make("LOAD", buf="INP", note="lanes 8..15"))
    lo_read = b.group("ld", reads=[y], rows={y: (4, 8, 0, 16)})   # both blocks of rows 4..7
    lo_read.add(make("LOAD", buf="INP", note="lanes 0..15"))
    any_lane = b.group("ex", reads=[y], rows={y: (8, 12)})        # every lane of rows 8..11
    any_lane.add(make("ALU", alu_op="ADD", use_imm=1, note="all lanes"))
    assert hi_read.waits == [whole]        # the lane-disjoint partial write is not waited for
    assert lo_read.waits == [lo] and any_lane.waits == [lo]
    prog, _ = b.finalize()
    simulate(prog + [make("FINISH")], HW)


def _stem_chain(seed: int = 1) -> G:
    """A 1-channel 3x3 stem (several tiles) whose output fills the next conv's window region."""
    g = G(seed)
    x = g.input((1, 1, 12, 12))
    a = conv(g, x, 8, 3, x_zp=-5, y_zp=4, pads=[1, 1, 1, 1])
    conv(g, a, 8, 3, x_zp=4, pads=[1, 1, 1, 1], output=True)
    return g


@pytest.mark.parametrize("lat", [0, 3000])
def test_window_padding_rows_follow_the_producers_own_loads(lat, tmp_path):
    """The padding-only LOADs of the consumer's resident window come after every input LOAD
    of the producer in the LD engine's order (before the producer's first STORE they held up
    its later tiles' loads); bit-exact at DMA latencies far apart."""
    hw = replace(HW, dma_latency=lat)
    acc = compile_and_compare(_stem_chain(), tmp_path, hw)
    first, second = acc["layers"]
    assert first["onchip"]["output"].startswith("window")
    prog = _program(tmp_path)
    mine = range(first["first"], first["last"])
    pads = [i for i in mine if prog[i].op == "LOAD" and prog[i]["rows"] == 0 and prog[i]["pad_before"]]
    loads = [i for i in mine if prog[i].op == "LOAD" and prog[i]["buf"] == "INP" and prog[i]["rows"]]
    assert pads and len(loads) > 1, first["tiling"]
    assert min(pads) > max(loads)


@pytest.mark.parametrize("tw", [1, 2])
@pytest.mark.parametrize("lat", [0, 3000])
def test_narrow_im2col_tiles_bit_exact(tw, lat, tmp_path, monkeypatch):
    """The im2col-row schedule also offers tiles of one and two output columns (more, smaller
    tiles whose loads overlap the GEMMs of the tile before): a stem forced onto them (only
    those candidates) is bit-exact at DMA latencies far apart, and they are offered."""
    from qcc.backends.accel import gemm_emit
    from qcc.backends.accel.gemm_im2col import im2col_candidates

    hw = replace(HW, rows=16, cols=16, dma_latency=lat)   # a 3x3 window fits one 16-lane row
    real = gemm_emit.candidates

    def narrow(ly, hw_):
        cands = real(ly, hw_)
        if ly.extra.get("im2col") is None:
            return cands
        tws = {t.tw for t in im2col_candidates(ly, hw_, capacity(hw_, ly), Tiling)}
        assert {1, 2, 4} <= tws
        return [t for t in cands if t.order == "pim" and t.tw == tw]

    monkeypatch.setattr(gemm_emit, "candidates", narrow)
    acc = compile_and_compare(_stem_chain(2), tmp_path, hw)
    assert f"tw={tw} " in acc["layers"][0]["tiling"] and "order=pim" in acc["layers"][0]["tiling"]
