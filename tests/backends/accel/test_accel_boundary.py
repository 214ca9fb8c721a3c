"""Layer-boundary fixed costs (docs/target_accel.md §6, "Parameters loaded ahead", "The
global mean's input on chip"): a layer loads the parameters of several later conv/linears where
its EX engine waits anyway, a global mean loads those of the conv/linear after it, a conv's
STOREs fill the global mean's input on chip, a one-tile layer's K chunks share one weight half,
and a short layer's tile search simulates the layers that produced its input; bit-exact with the reference interpreter at DMA latencies far apart (the checker runs in every
compile)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accel_testlib import HW, G, compile_and_compare
from test_accel_resident import _program, conv


def _params_in(prog, ly) -> list:
    return [i for i in range(ly["first"], ly["last"])
            if prog[i].op == "LOAD" and prog[i]["buf"] == "PARAM"]


def _three(seed: int = 11) -> G:
    """3x3 -> 1x1 -> 1x1, two channel blocks each (six parameter rows a layer)."""
    g = G(seed)
    x = g.input((1, 8, 6, 6))
    a = conv(g, x, 2 * HW.dim, 3, x_zp=2, y_zp=-3, pads=[1, 1, 1, 1])
    b = conv(g, a, 2 * HW.dim, 1, x_zp=-3, y_zp=1)
    conv(g, b, 2 * HW.dim, 1, x_zp=1, y_zp=5, output=True)
    return g


@pytest.mark.parametrize("lat", [0, 3000])
def test_a_layer_loads_the_parameters_of_several_later_layers(lat, tmp_path):
    """With a long DMA latency the first conv's EX engine waits thousands of cycles for its
    first inputs: it loads the parameters of both later convs there (each into its own rows
    of the ring) and they load none of their own; bit-exact at either latency."""
    hw = replace(HW, dma_latency=lat)
    acc = compile_and_compare(_three(), tmp_path, hw)
    prog = _program(tmp_path)
    loads = [_params_in(prog, ly) for ly in acc["layers"]]
    assert sum(map(len, loads)) == 3          # each layer's parameters are loaded once
    if lat:
        assert len(loads[0]) == 3 and loads[1] == [] and loads[2] == []
        rows = sorted((prog[i]["sram"], prog[i]["sram"] + prog[i]["rows"]) for i in loads[0])
        assert all(a[1] <= b[0] for a, b in zip(rows, rows[1:]))   # disjoint rows
        gemm0 = min(i for i in range(acc["layers"][0]["first"], acc["layers"][0]["last"])
                    if prog[i].op == "GEMM")
        assert max(loads[0]) < gemm0


def _mean_classifier(seed: int = 12) -> G:
    g = G(seed)
    x = g.input((1, 8, 5, 5))
    a = conv(g, x, 20, 3, x_zp=1, y_zp=-3, pads=[1, 1, 1, 1])
    p = g.op("qcc.global_avgpool", [a, *g.mult(1, 0.05)], {"x_zp": -3, "y_zp": 4})
    f = g.op("onnx.Flatten", [p], {"axis": 1})
    w = g.const(g.rand((20, 7)))
    bias = g.const(g.rng.integers(-300, 300, 7).astype(np.int32))
    g.op("qcc.linear", [f, w, bias, *g.mult(7)], dict(x_zp=4, y_zp=-1), output=True)
    return g


@pytest.mark.parametrize("lat", [0, 3000])
def test_the_global_mean_loads_the_classifiers_parameters(lat, tmp_path):
    """conv -> global mean -> Flatten -> linear, the mean reading the conv's output from DRAM
    (no on-chip STOREs): the mean's stream loads the linear's parameters before its own first
    instruction (which waits for the conv's DRAM STORE), the conv does not load them ahead and
    the linear loads none; bit-exact."""
    hw = replace(HW, dma_latency=lat, onchip_store=False)
    acc = compile_and_compare(_mean_classifier(), tmp_path, hw)
    prog = _program(tmp_path)
    cv, mean, lin = acc["layers"]
    assert mean["op"] == "qcc.global_avgpool" and lin["op"] == "qcc.linear"
    assert len(_params_in(prog, cv)) == 1 and _params_in(prog, lin) == []
    (load,) = _params_in(prog, mean)
    assert load == mean["first"] or all(prog[i].engine != "ex" for i in range(mean["first"], load))
    with_off = tmp_path / "off"
    with_off.mkdir()
    off = compile_and_compare(_mean_classifier(), with_off, replace(hw, param_prefetch=False), 1)
    prog_off = _program(with_off)
    assert _params_in(prog_off, off["layers"][1]) == [] and len(_params_in(prog_off, off["layers"][2])) == 1


@pytest.mark.parametrize("lat", [0, 3000])
def test_a_one_tile_layers_k_chunks_share_one_weight_half(lat, tmp_path, monkeypatch):
    """A 1x1 conv of one tile with K in two chunks (forced): both chunks' weights load into
    disjoint intervals of the same weight half, so the second chunk's LOAD does not wait for
    the previous layer's GEMMs on the other half; bit-exact."""
    from qcc.backends.accel import gemm_emit

    real = gemm_emit.candidates

    def k_split(ly, hw_):
        cands = real(ly, hw_)
        keep = [t for t in cands if t.order == "sp" and t.tk == 1 and t.th * t.tw >= ly.oh * ly.ow
                and not t.extra]
        return keep if ly.kh == 1 and keep else cands

    monkeypatch.setattr(gemm_emit, "candidates", k_split)
    hw = replace(HW, dma_latency=lat)
    g = G(13)
    x = g.input((1, 8, 2, 4))
    a = conv(g, x, 2 * HW.dim, 3, x_zp=2, y_zp=-3, pads=[1, 1, 1, 1])
    conv(g, a, HW.dim, 1, x_zp=-3, y_zp=1, output=True)
    acc = compile_and_compare(g, tmp_path, hw)
    second = acc["layers"][1]
    assert "tk=1" in second["tiling"], second["tiling"]
    prog = _program(tmp_path)
    wl = [i for i in range(second["first"], second["last"])
          if prog[i].op == "LOAD" and prog[i]["buf"] == "WGT"]
    assert len(wl) == 2
    half = hw.wgt_blocks // 2
    (lo0, hi0), (lo1, hi1) = [(prog[i]["sram"], prog[i]["sram"] + prog[i]["rows"]) for i in wl]
    assert lo0 // half == lo1 // half and hi0 <= lo1


def test_the_tile_search_simulates_two_producers_before_a_short_layer(tmp_path, monkeypatch):
    """The candidates of the third conv of a chain are each simulated behind the first and the
    second conv (in that order), as they run in the stream."""
    from qcc.backends.accel import gemm_emit, lookahead, program

    real = gemm_emit.emit_gemm
    log: dict = {}

    def spy(ly, t, xr, yr, hw_, b, *a, **k):
        log.setdefault(b, []).append(ly.name)   # (keeps each builder alive: no id reuse)
        return real(ly, t, xr, yr, hw_, b, *a, **k)

    for mod in (gemm_emit, lookahead, program):
        monkeypatch.setattr(mod, "emit_gemm", spy)
    acc = compile_and_compare(_three(14), tmp_path, samples=1)
    names = [ly["name"] for ly in acc["layers"]]
    behind = [seq for seq in log.values() if seq[-1] == names[2] and len(seq) > 1]
    assert behind and all(seq == names for seq in behind)


def _conv_mean(c: int, h: int, w: int, output_conv: bool = False, seed: int = 15) -> G:
    g = G(seed)
    x = g.input((1, 3, h, w))
    a = conv(g, x, c, 3, x_zp=1, y_zp=-3, pads=[1, 1, 1, 1], output=output_conv)
    g.op("qcc.global_avgpool", [a, *g.mult(1, 0.05)], {"x_zp": -3, "y_zp": 2}, output=True)
    return g


@pytest.mark.parametrize("lat", [64, 3000])
def test_a_convs_stores_fill_the_global_means_input_on_chip(lat, tmp_path):
    """conv -> global mean: the conv's STOREs write the mean's input into the input buffer only
    (no DRAM STORE), the mean multiplies each channel block's plane by an identity block into
    the accumulator (no LOAD of it), and the stream is shorter than with the DRAM round trip;
    with the classifier after it, the mean loads no parameters (the classifier loads its own,
    or the conv where that is free: test_accel_meantail.py); bit-exact."""
    from qcc.backends.accel.timing import simulate

    hw = replace(HW, dma_latency=lat)
    acc = compile_and_compare(_conv_mean(20, 5, 5), tmp_path, hw)
    cv, mean = acc["layers"]
    assert cv["onchip"]["output"].startswith("flat 3x5x5")
    prog = _program(tmp_path)
    conv_stores = [prog[i] for i in range(cv["first"], cv["last"]) if prog[i].op == "STORE"
                   and prog[i]["rows"]]
    assert conv_stores and all(st["inp"] for st in conv_stores)
    mine = [prog[i] for i in range(mean["first"], mean["last"])]
    assert not any(i.op == "LOAD" and i["buf"] == "ACC" for i in mine)
    gemms = [i for i in mine if i.op == "GEMM"]
    # the identity block: the last block of a weight half (the one the conv did not use last)
    half = hw.wgt_blocks // 2
    assert len(gemms) == 3 and len({i["wgt"] for i in gemms}) == 1 \
        and gemms[0]["wgt"] in (half - 1, 2 * half - 1)
    off = tmp_path / "off"
    off.mkdir()
    base = compile_and_compare(_conv_mean(20, 5, 5), off, replace(hw, onchip_store=False), 1)
    assert not any(ly.get("onchip") for ly in base["layers"])
    assert simulate(prog, hw).total < simulate(_program(off), hw).total
    cls = tmp_path / "cls"
    cls.mkdir()
    acc = compile_and_compare(_mean_classifier(), cls, hw, 1)
    cv, mean, lin = acc["layers"]
    prog = _program(cls)
    assert cv["onchip"]["output"].startswith("flat")
    assert _params_in(prog, mean) == []
    # the conv's own parameters and the linear's, each loaded once (by the conv or the linear)
    assert len(_params_in(prog, cv)) + len(_params_in(prog, lin)) == 2


@pytest.mark.parametrize("c,h,w,out", [(12, 12, 12, False), (20, 5, 5, True)])
def test_global_mean_on_chip_edges_bit_exact(c, h, w, out, tmp_path):
    """144 positions a plane (longer than the test array's accumulator slot: the identity
    GEMMs go in chunks), and a conv output that is a graph output too (stored to DRAM as well);
    on chip behind a long DMA latency, bit-exact."""
    acc = compile_and_compare(_conv_mean(c, h, w, out), tmp_path, replace(HW, dma_latency=3000))
    spec = acc["layers"][0]["onchip"]["output"]
    assert spec.startswith("flat") and spec.endswith("(and DRAM)") == out


def test_the_global_mean_reads_dram_where_the_identity_gemms_cost_more(tmp_path):
    """Without a DMA latency the DRAM round trip is cheaper than the identity GEMMs: the conv
    stores to DRAM and the mean loads from there; bit-exact."""
    acc = compile_and_compare(_conv_mean(20, 5, 5), tmp_path, replace(HW, dma_latency=0), 1)
    assert not acc["layers"][0].get("onchip")
