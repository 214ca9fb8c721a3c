"""The roofline and ideal bounds that bench.accel divides by are bounds of the timing model:
every engine's DMA (LD, EX, ST) has its own DRAM bandwidth (docs/target_accel.md §4), so the
busiest engine's bytes, not the sum over engines, bound a layer and a whole program."""

from __future__ import annotations

import math
from pathlib import Path

from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.runtime import load
from qcc.backends.accel.timing import copies, dma_bytes, roofline
from qcc.cli import main

EX = Path(__file__).resolve().parents[3] / "examples"


def test_the_busiest_engine_bounds_a_memory_bound_layer():
    hw = HwConfig()
    bw = hw.dram_bytes_per_cycle
    r = roofline(macs=256, nbytes=2000 * bw, cycles=1500, hw=hw, peak_bytes=1000 * bw)
    assert r["bound"] == "memory" and r["roofline_cycles"] == 1000
    assert abs(r["arith_intensity"] - 256 / (2000 * bw)) < 1e-12   # AI over both directions
    assert roofline(256, 2000 * bw, 1500, hw)["roofline_cycles"] == 2000   # default: all bytes
    big = roofline(macs=10**6, nbytes=10 * bw, cycles=5000, hw=hw, peak_bytes=10 * bw)
    assert big["bound"] == "compute" and big["roofline_cycles"] == math.ceil(10**6 / hw.pe)
    assert roofline(0, 64, 10, hw, peak_bytes=32)["roofline_cycles"] == 32 // bw


def test_no_program_beats_its_busiest_engine(tmp_path):
    """digits_cnn's whole stream: total cycles >= each engine's DRAM bytes / bandwidth and
    >= MACs / PEs (the per-layer rows may overlap their neighbours; the total may not)."""
    out = tmp_path / "out"
    assert main(["compile", str(EX / "digits_cnn" / "digits_cnn.onnx"), "--calib",
                 str(EX / "digits_cnn" / "calib.npz"), "--target", "accel", "-o", str(out),
                 "--quiet"]) == 0
    art = load(str(out))
    prof = art.profile()
    for k, seg in enumerate(art.segments):
        if seg["kind"] != "accel":
            continue
        prog = art.instrs[seg["first"]:seg["last"]]
        reps = copies(prog)
        per = {"ld": 0, "ex": 0, "st": 0}
        for ins, n in zip(prog, reps):
            per[ins.engine] += dma_bytes(ins, art.hw) * n
        total = art.schedule(k).total
        assert per["ld"] > 0 and per["st"] > 0
        assert total >= max(per.values()) / art.hw.dram_bytes_per_cycle
    assert prof["total"]["cycles"] >= prof["total"]["macs"] / art.hw.pe
    for r in prof["layers"]:   # the latency floor (§4) bounds every layer's span
        assert r["span_cycles"] >= r["floor_cycles"] > 0, (r["node"], r["floor_terms"])
    assert sum(r["roofline_cycles"] for r in prof["layers"]) > 0
