"""The latency floor of a layer (docs/target_accel.md §4, "Latency floor") and how the profile
attributes cycles to layers: the floor is a lower bound of every layer's span on graphs built
here at several configurations, a long layer's floor is its roofline bound within a few per
cent, the floor's latencies come from the hardware description, and the per-layer cycles
partition the total with every instruction counted in the layer that issues it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from accel_testlib import HW, G, compile_and_compare
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.runtime import load
from test_accel_resident import conv


def _profile(g: G, tmp_path, hw: HwConfig):
    acc = compile_and_compare(g, tmp_path, hw, samples=1)
    art = load(str(tmp_path / "accel"), json.loads(json.dumps({"accel": acc})))
    return art, art.profile()


def _chain(seed: int = 3) -> G:
    """3x3 from DRAM -> 1x1 -> depthwise 3x3 -> global mean -> linear."""
    g = G(seed)
    x = g.input((1, 8, 6, 6))
    a = conv(g, x, 2 * HW.dim, 3, x_zp=2, y_zp=-3, pads=[1, 1, 1, 1])
    b = conv(g, a, 2 * HW.dim, 1, x_zp=-3, y_zp=1)
    c = conv(g, b, 2 * HW.dim, 3, group=2 * HW.dim, x_zp=1, y_zp=5, pads=[1, 1, 1, 1])
    p = g.op("qcc.global_avgpool", [c, *g.mult(1, 0.05)], {"x_zp": 5, "y_zp": 4})
    f = g.op("onnx.Flatten", [p], {"axis": 1})
    w = g.const(g.rand((2 * HW.dim, 7)))
    bias = g.const(g.rng.integers(-300, 300, 7).astype(np.int32))
    g.op("qcc.linear", [f, w, bias, *g.mult(7)], dict(x_zp=4, y_zp=-1), output=True)
    return g


CONFIGS = {"default": HW, "os": replace(HW, dataflow="os"),
           "no chain": replace(HW, gemm_chain=False),
           "no overlap": replace(HW, gemm_overlap=False, gemm_chain=False),
           "long latency": replace(HW, dma_latency=700, sram_latency=9),
           "dram only": replace(HW, onchip_store=False, dma_overhead=0)}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_no_layer_beats_its_latency_floor(name, tmp_path):
    """Every layer's span (its first start to its last ready time) is at least its floor, and
    so is the first layer's cycles (it starts at 0: cycles = span); bit-exact."""
    art, prof = _profile(_chain(), tmp_path, CONFIGS[name])
    assert [r["kind"] for r in prof["layers"]] == ["gemm", "gemm", "gemm", "elem", "gemm"]
    for r in prof["layers"]:
        assert r["span_cycles"] >= r["floor_cycles"] > 0, (r["node"], r["floor_terms"])
        assert r["floor_cycles"] >= r["roofline_cycles"] or r["macs"] == 0
    first = prof["layers"][0]
    assert first["cycles"] == first["span_cycles"] >= first["floor_cycles"]


def _strided(seed: int = 4) -> G:
    """3x3 stride 2 -> requant on the ALU -> 1x1 -> LUT -> a 5x5 kernel."""
    from qcc.ir import DType
    g = G(seed)
    x = g.input((1, 3, 11, 11))
    a = conv(g, x, 12, 3, x_zp=-2, y_zp=1, strides=[2, 2], pads=[1, 1, 1, 1])
    r = g.op("qcc.requant", [a, *g.mult(1, 0.7)], {"x_zp": 1, "y_zp": -4})
    b = conv(g, r, 20, 1, x_zp=-4, y_zp=3)
    t = g.op("qcc.lut", [b, g.const(g.rng.integers(-128, 128, 256).astype(np.int8), DType.int8)])
    conv(g, t, 8, 5, x_zp=0, y_zp=-2, pads=[2, 2, 2, 2], output=True)
    return g


@pytest.mark.parametrize("graph,name", [("block", "default"), ("block", "os"),
                                        ("block", "long latency"), ("strided", "default"),
                                        ("strided", "no chain"), ("strided", "dram only")])
def test_no_layer_beats_its_latency_floor_on_other_graphs(graph, name, tmp_path):
    """A residual block (its add fused into a STORE) and a strided conv with ALU and LUT
    passes between convs: every layer's span >= its floor."""
    from test_accel_radd import _block
    g = _block() if graph == "block" else _strided()
    _, prof = _profile(g, tmp_path, CONFIGS[name])
    assert len(prof["layers"]) >= 4
    for r in prof["layers"]:
        assert r["span_cycles"] >= r["floor_cycles"] > 0, (r["node"], r["floor_terms"])


def test_a_long_layers_floor_is_its_roofline_bound_within_a_few_percent(tmp_path):
    g = G(5)
    x = g.input((1, 32, 16, 16))
    conv(g, x, 32, 3, x_zp=1, y_zp=2, pads=[1, 1, 1, 1], output=True)
    hw = HwConfig()
    _, prof = _profile(g, tmp_path, hw)
    (r,) = prof["layers"]
    assert r["bound"] == "compute" and r["roofline_cycles"] == 32 * 32 * 9 * 256 // hw.pe
    assert r["roofline_cycles"] < r["floor_cycles"] <= 1.03 * r["roofline_cycles"]
    assert r["cycles"] >= r["floor_cycles"]


def test_the_floor_follows_the_latencies_of_the_hardware_description(tmp_path):
    """A compute-bound layer that loads its input from DRAM and stores its output there has
    two DMA latencies in its floor (the first load's, the last store's): raising
    ``dma_latency`` by L raises the floor by 2 L."""
    g = G(6)
    x = g.input((1, 32, 8, 8))
    conv(g, x, 32, 3, x_zp=1, y_zp=2, pads=[1, 1, 1, 1], output=True)
    floors = []
    for k, lat in enumerate((0, 64, 500)):
        sub = tmp_path / str(k)
        sub.mkdir()
        _, prof = _profile(g, sub, replace(HwConfig(), dma_latency=lat))
        (r,) = prof["layers"]
        assert max(r["floor_terms"], key=r["floor_terms"].get) == "compute"
        floors.append(r["floor_cycles"])
    assert floors[1] - floors[0] == 2 * 64 and floors[2] - floors[0] == 2 * 500


def test_cycles_partition_the_total_and_count_in_the_issuing_layer(tmp_path):
    """Attribution (§4): each instruction counts in the layer whose range holds it (the layer
    that issues it, also a LOAD of a later layer's parameters or padding), a layer's cycles
    are its last ready time minus the latest one of the layers before it, so the cycles sum
    to the segment's total; with ``param_prefetch`` the first conv issues the parameter LOADs
    of the later convs, and their ready times count in its cycles."""
    art, prof = _profile(_chain(), tmp_path, HW)
    (k,) = [k for k, s in enumerate(art.segments) if s["kind"] == "accel"]
    seg, sched = art.segments[k], art.schedule(k)
    assert sum(r["cycles"] for r in prof["layers"]) == sched.total == prof["total"]["cycles"]
    by_name = {ly["name"]: ly for ly in art.info["layers"]}
    done = 0
    for r in prof["layers"]:
        ly = by_name[r["node"]]
        fin = max(sched.ready[i - seg["first"]] for i in range(ly["first"], ly["last"]))
        assert r["cycles"] == max(fin, done) - done
        done = max(done, fin)
    stem = by_name[prof["layers"][0]["node"]]
    params = [i for i in range(stem["first"], stem["last"])
              if art.instrs[i].op == "LOAD" and art.instrs[i]["buf"] == "PARAM"]
    assert len(params) > 1   # its own and later layers' parameters, all issued by the stem
    assert prof["layers"][0]["cycles"] >= max(sched.ready[i - seg["first"]] for i in params)
