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
        if ly.extra.get("im2col") is None or ly.c > 1:   # the stem only (since ISA v10 the
            return cands                                  # 8-channel consumer has im2col weights)
        tws = {t.tw for t in im2col_candidates(ly, hw_, capacity(hw_, ly), Tiling)}
        assert {1, 2, 4} <= tws
        return [t for t in cands if t.order == "pim" and t.tw == tw]

    monkeypatch.setattr(gemm_emit, "candidates", narrow)
    acc = compile_and_compare(_stem_chain(2), tmp_path, hw)
    assert f"tw={tw} " in acc["layers"][0]["tiling"] and "order=pim" in acc["layers"][0]["tiling"]


def test_parameter_intervals_are_ordered_against_halves_and_each_other():
    """Parameter rows as intervals (the ring of whole-layer parameters) beside the halves that
    other lowerings use: a write waits for the readers of every overlapping resource only."""
    b = Builder(param_half=64)
    ring = ("PARAM", 10, 16)
    b.group("ex", writes=[ring]).add(make("LOAD", buf="PARAM", note="layer params"))
    reader = b.group("st", reads=[ring])
    reader.add(make("STORE", note="reads them"))
    other = b.group("ex", writes=[("PARAM", 20, 26)])     # the next layer's, disjoint rows
    other.add(make("LOAD", buf="PARAM", note="next layer"))
    half = b.group("ex", writes=[("PARAM", 0)])           # an elementwise requant's half
    half.add(make("LOAD", buf="PARAM", note="half 0"))
    assert other.waits == [] and half.waits == [reader]
    prog, _ = b.finalize()
    simulate(prog + [make("FINISH")], HW)


def _pair(seed: int = 3) -> G:
    g = G(seed)
    x = g.input((1, 16, 6, 6))
    a = conv(g, x, 2 * HW.dim, 3, x_zp=2, y_zp=-3, pads=[1, 1, 1, 1])
    conv(g, a, 2 * HW.dim, 1, x_zp=-3, y_zp=1, output=True)
    return g


@pytest.mark.parametrize("lat", [0, 3000])
def test_next_layers_parameters_load_with_this_ones(lat, tmp_path):
    """The second conv's parameters are loaded by the first conv's stream, before its first
    GEMM (the EX engine waits there for its inputs anyway), and not again; with
    ``--hw param_prefetch=false`` each layer loads its own; bit-exact either way."""
    hw = replace(HW, dma_latency=lat)
    for on in (True, False):
        d = tmp_path / str(on)
        d.mkdir()
        acc = compile_and_compare(_pair(), d, replace(hw, param_prefetch=on))
        prog = _program(d)
        first, second = acc["layers"]
        loads = [[i for i in range(ly["first"], ly["last"])
                  if prog[i].op == "LOAD" and prog[i]["buf"] == "PARAM"] for ly in (first, second)]
        gemm0 = min(i for i in range(first["first"], first["last"]) if prog[i].op == "GEMM")
        if on:
            assert len(loads[0]) == 2 and not loads[1] and max(loads[0]) < gemm0
            rows = [(prog[i]["sram"], prog[i]["sram"] + prog[i]["rows"]) for i in loads[0]]
            assert rows[0][1] <= rows[1][0] or rows[1][1] <= rows[0][0]   # disjoint rows
        else:
            assert len(loads[0]) == 1 and len(loads[1]) == 1


@pytest.mark.parametrize("lat", [0, 3000])
def test_a_channel_blocks_stores_wait_only_for_its_own_gemms(lat, tmp_path, monkeypatch):
    """A tile of two output-channel blocks: the first block's STOREs wait for its own GEMMs,
    not for the second block's (forced onto such tilings: they start before the second
    block's GEMM ends); bit-exact at DMA latencies far apart."""
    from qcc.backends.accel import gemm_emit

    real = gemm_emit.candidates

    def two_blocks(ly, hw_):
        cands = real(ly, hw_)
        keep = [t for t in cands if t.order in ("sp", "wt") and t.nb == 2 and not t.extra]
        return keep if ly.kh == 1 and keep else cands

    monkeypatch.setattr(gemm_emit, "candidates", two_blocks)
    hw = replace(HW, dma_latency=lat)
    acc = compile_and_compare(_pair(4), tmp_path, hw)
    second = acc["layers"][1]
    assert "nb=2" in second["tiling"], second["tiling"]
    prog = _program(tmp_path)
    s = simulate(prog, hw)
    mine = range(second["first"], second["last"])
    gemms = [i for i in mine if prog[i].op == "GEMM"]
    a0, a1 = prog[gemms[0]]["acc"], prog[gemms[1]]["acc"]     # the first chunk's two blocks
    assert a0 < a1
    s0 = min(i for i in mine if prog[i].op == "STORE" and prog[i]["rows"] and a0 <= prog[i]["sram"] < a1)
    g1 = max(i for i in gemms if i < s0 and prog[i]["acc"] == a1)   # the second block's GEMM
    block0 = [s0]
    assert block0
    if lat == 0:   # (with a long DMA latency every STORE waits for the parameters instead)
        assert s.start[s0] < s.end[g1]


def test_a_write_to_prefetched_rows_cancels_the_prefetch():
    b = Builder(param_half=64)
    b.prefetched["next"] = (10, ("PARAM", 10, 16))
    b.group("ex", writes=[("PARAM", 20, 26)]).add(make("LOAD", buf="PARAM", note="disjoint"))
    assert "next" in b.prefetched
    b.group("ex", writes=[("PARAM", 0)]).add(make("LOAD", buf="PARAM", note="half 0"))
    assert "next" not in b.prefetched


@pytest.mark.parametrize("lat", [0, 3000])
def test_prefetch_across_a_call_that_uses_the_parameter_buffer(lat, tmp_path, monkeypatch):
    """A per-channel requantization between two convs loads its parameters into a half that
    overlaps the second conv's prefetched rows: the prefetch is cancelled and the second conv
    loads its own (prefetching forced on for every layer); bit-exact."""
    from qcc.backends.accel import lookahead

    monkeypatch.setattr(lookahead, "worth_prefetch", lambda ctx, ly, t, *a: a[-1])
    g = G(6)
    x = g.input((1, 8, 6, 6))
    a = conv(g, x, HW.dim, 3, x_zp=1, y_zp=2, pads=[1, 1, 1, 1])
    r = g.op("qcc.requant", [a, *g.mult(HW.dim, 0.5)], {"x_zp": 2, "y_zp": -1})
    conv(g, r, HW.dim, 1, x_zp=-1, output=True)
    acc = compile_and_compare(g, tmp_path, replace(HW, dma_latency=lat))
    prog = _program(tmp_path)
    first, req, second = acc["layers"]
    params = [[i for i in range(ly["first"], ly["last"]) if prog[i].op == "LOAD" and prog[i]["buf"] == "PARAM"]
              for ly in (first, req, second)]
    assert len(params[0]) == 2 and params[1] and len(params[2]) == 1, params
