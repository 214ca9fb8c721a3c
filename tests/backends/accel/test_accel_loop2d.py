"""ISA v3: the two-level input address generator of GEMM (``loop2d`` with CONFIG GEMM_ROWS /
GEMM_TAPS) and the two-level window schedule that uses it (backends/accel/gemm_loop2d.py).
The simulator's GEMM is checked against loops written from the documented formula; the
encoding keeps v2 words unchanged; the checker bounds the two-level extent; convolutions
forced onto the schedule (depthwise and dense, strides, dilation, asymmetric pads, split
tiles) are bit-exact with the reference interpreter under two very different DMA latencies;
and depthwise layers run in fewer cycles than under the best schedule without it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.accel import gemm_emit, isa
from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import decode, encode, format_instr, make, parse_instr

from accel_testlib import HW, G, compile_and_compare

D = HW.dim


def _gemm_ref(inp, wgt, f, rows_reg, taps_reg):
    """ACC rows of one loop2d GEMM, from the formula of docs/target_accel.md §3."""
    rd, ro, ri = rows_reg
    kd, ko = taps_reg
    out = np.zeros((f["rows"], D), np.int64)
    for kb in range(f["kblocks"]):
        w = wgt[f["wgt"] + kb * f["wgt_kstride"]].astype(np.int64)
        for i in range(f["rows"]):
            r = f["inp"] + (kb // kd) * ko + (kb % kd) * f["inp_kstride"] + (i // rd) * ro + (i % rd) * ri
            out[i] += inp[r].astype(np.int64) @ w
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_loop2d_gemm_matches_the_formula(data):
    rd, ri = data.draw(st.integers(1, 6)), data.draw(st.integers(0, 3))
    ro = data.draw(st.integers(0, 20))
    kd, ks, ko = data.draw(st.integers(1, 5)), data.draw(st.integers(0, 3)), data.draw(st.integers(0, 30))
    rows, kblocks = data.draw(st.integers(1, 20)), data.draw(st.integers(1, 12))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    m = Machine(HW, np.zeros(64, np.uint8))
    m.inp[:] = rng.integers(-128, 128, m.inp.shape)
    m.wgt[:] = rng.integers(-128, 128, m.wgt.shape)
    m.acc[:rows] = rng.integers(-1000, 1000, (rows, D))
    before = m.acc[:rows].copy()
    g = make("GEMM", reset=0, acc=0, inp=3, wgt=1, rows=rows, kblocks=kblocks, inp_kstride=ks,
             wgt_kstride=2, loop2d=1)
    m.run([make("CONFIG", reg="GEMM_ROWS", a=rd, b=ro, c=ri), make("CONFIG", reg="GEMM_TAPS", a=kd, b=ko), g])
    want = before + _gemm_ref(m.inp, m.wgt, g.f, (rd, ro, ri), (kd, ko))
    assert np.array_equal(m.acc[:rows], want)


def test_plain_gemm_ignores_the_loop_registers():
    rng = np.random.default_rng(1)
    m = Machine(HW, np.zeros(64, np.uint8))
    m.inp[:] = rng.integers(-128, 128, m.inp.shape)
    m.wgt[:] = rng.integers(-128, 128, m.wgt.shape)
    g = make("GEMM", reset=1, acc=0, inp=2, wgt=0, rows=5, kblocks=3, inp_kstride=7, wgt_kstride=1)
    m.run([make("CONFIG", reg="GEMM_ROWS", a=2, b=9, c=3), make("CONFIG", reg="GEMM_TAPS", a=2, b=5), g])
    want = sum(m.inp[2 + 7 * k:2 + 7 * k + 5].astype(np.int64) @ m.wgt[k].astype(np.int64) for k in range(3))
    assert np.array_equal(m.acc[:5], want)


def test_loop2d_needs_its_registers_and_the_checker_bounds_its_extent():
    g = make("GEMM", acc=0, inp=0, wgt=0, rows=4, kblocks=2, inp_kstride=1, loop2d=1)
    with pytest.raises(SimError, match="GEMM_ROWS"):
        Machine(HW, np.zeros(64, np.uint8)).run([g])
    # 1-D the GEMM reads INP rows [0, 5); two-level with outer stride inp_rows/2 it reads
    # past the buffer, which only the two-level extent shows
    half = HW.inp_rows // 2
    far = [make("CONFIG", reg="GEMM_ROWS", a=2, b=half, c=1), make("CONFIG", reg="GEMM_TAPS", a=1, b=half), g]
    with pytest.raises(SimError, match="INP rows"):
        check_bounds(far, HW, 64)
    ok = [make("CONFIG", reg="GEMM_ROWS", a=2, b=half // 2, c=1), make("CONFIG", reg="GEMM_TAPS", a=1, b=8), g]
    check_bounds(ok, HW, 64)
    with pytest.raises(SimError, match="strides >= 0"):
        check_bounds([make("CONFIG", reg="GEMM_ROWS", a=2, b=-1, c=1),
                      make("CONFIG", reg="GEMM_TAPS", a=1, b=1), g], HW, 64)


def test_v2_gemm_words_decode_unchanged():
    """``loop2d`` takes the bit above v2's last GEMM field: a v2 word decodes with it 0; the
    new bit and the new CONFIG registers round-trip through binary and text."""
    g = make("GEMM", reset=1, acc=5, inp=6, wgt=7, rows=4095, kblocks=4095, inp_kstride=65535,
             wgt_kstride=1023)
    word = int.from_bytes(encode(g), "little")
    assert word >> 107 == 0 and decode(encode(g))["loop2d"] == 0
    for ins in (replace(g, f=dict(g.f, loop2d=1)), make("CONFIG", reg="GEMM_ROWS", a=7, b=-3, c=255),
                make("CONFIG", reg="GEMM_TAPS", a=5, b=2 ** 31 - 1)):
        assert decode(encode(ins)).key() == ins.key()
        assert parse_instr(format_instr(ins)).key() == ins.key()
        assert ins.engine == "ex"
    assert int.from_bytes(encode(replace(g, f=dict(g.f, loop2d=1))), "little") >> 107 == 1
    assert isa.ISA_VERSION >= 3


def _only_loop2d(monkeypatch, th=None):
    orig = gemm_emit.candidates

    def pick(ly, hw):
        ts = [t for t in orig(ly, hw) if t.order == "w2d" and (th is None or t.th == min(th, ly.oh))]
        assert ts, f"no w2d tiling for {ly.name}"
        return ts
    monkeypatch.setattr(gemm_emit, "candidates", pick)


@pytest.mark.parametrize("c,m,group,k,stride,dil,pads,hw_in,th", [
    (12, 12, 12, 3, 1, 1, [1, 1, 1, 1], (9, 10), None),    # depthwise, 2 channel blocks
    (10, 10, 10, 5, 2, 1, [2, 2, 2, 2], (9, 8), None),     # depthwise 5x5 stride 2
    (8, 8, 8, 3, 1, 1, [0, 2, 1, 0], (7, 6), 2),           # asymmetric pads, split tiles
    (12, 20, 1, 3, 2, 1, [1, 1, 1, 1], (9, 9), None),      # dense, 2x3 blocks, stride 2
    (6, 5, 1, 3, 1, 2, [2, 2, 2, 2], (8, 7), 4),           # dilation 2
    (8, 16, 2, 3, (2, 1), 1, [1, 0, 1, 0], (8, 9), None),  # grouped, unequal strides
])
def test_loop2d_schedule_bit_exact(c, m, group, k, stride, dil, pads, hw_in, th, tmp_path, monkeypatch):
    _only_loop2d(monkeypatch, th)
    g = G(7)
    x = g.input((1, c) + hw_in)
    w = g.const(g.rand((m, c // group, k, k)))
    b = g.const(g.rng.integers(-500, 500, m).astype(np.int32))
    s = list(stride) if isinstance(stride, tuple) else [stride, stride]
    g.op("qcc.conv2d", [x, w, b, *g.mult(m)], dict(strides=s, pads=pads, group=group, dilations=[dil, dil],
                                                  x_zp=-5, y_zp=3), output=True)
    for lat in (0, 5000):   # two very different interleavings of the same tokens
        d = tmp_path / f"l{lat}"
        d.mkdir()
        acc = compile_and_compare(g, d, replace(HW, dma_latency=lat))
        assert acc["host_ops"] == [] and "order=w2d" in acc["layers"][0]["tiling"]
    prog = isa.disassemble((tmp_path / "l0" / "accel" / "m.bin").read_bytes())
    assert any(i.op == "GEMM" and i["loop2d"] for i in prog)


def _dw_cycles(tmp_path, hw) -> tuple[int, int, str]:
    """(total cycles, GEMM array cycles, tiling) of a 5x5 depthwise layer on ``hw``."""
    from qcc.backends.accel.timing import gemm_cycles, simulate
    g = G(3)
    x = g.input((1, 48, 6, 6))
    w = g.const(g.rand((48, 1, 5, 5)))
    b = g.const(g.rng.integers(-500, 500, 48).astype(np.int32))
    g.op("qcc.conv2d", [x, w, b, *g.mult(48)], dict(strides=[1, 1], pads=[2, 2, 2, 2], group=48,
                                                    x_zp=1, y_zp=0), output=True)
    acc = compile_and_compare(g, tmp_path, hw, samples=1)
    prog = isa.disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    gemm = sum(gemm_cycles(i["rows"], i["kblocks"], hw) for i in prog if i.op == "GEMM")
    return simulate(prog, hw).total, gemm, acc["layers"][0]["tiling"]


def test_depthwise_runs_faster_with_the_two_level_window(tmp_path, monkeypatch):
    """A 5x5 depthwise layer on the default 16x16 array: the tile search picks the two-level
    window, which runs in fewer cycles than the best schedule without it; the array is
    still bound by the depthwise ceiling of DIM MACs per cycle (one diagonal block per tap)."""
    hw = HwConfig()
    (tmp_path / "a").mkdir()
    total, gemm, tiling = _dw_cycles(tmp_path / "a", hw)
    assert "order=w2d" in tiling
    orig = gemm_emit.candidates
    monkeypatch.setattr(gemm_emit, "candidates",
                        lambda ly, h: [t for t in orig(ly, h) if t.order != "w2d"])
    (tmp_path / "b").mkdir()
    total_without, _, tiling_without = _dw_cycles(tmp_path / "b", hw)
    assert "w2d" not in tiling_without
    assert total < 0.85 * total_without, (total, total_without)
    macs = 6 * 6 * 48 * 25
    assert gemm >= macs / hw.dim


_CANDIDATES = gemm_emit.candidates


def _only_split(monkeypatch, split=True):
    orig = _CANDIDATES

    def pick(ly, hw):
        ts = [t for t in orig(ly, hw) if t.order == "w2d" and t.split == split]
        assert ts, f"no w2d tiling for {ly.name}"
        return ts
    monkeypatch.setattr(gemm_emit, "candidates", pick)


@pytest.mark.parametrize("c,m,group,k,stride,dil,pads,hw_in", [
    (12, 20, 1, 3, 2, 1, [1, 1, 1, 1], (9, 9)),        # dense, 2x3 blocks, stride 2
    (10, 10, 10, 5, 2, 1, [2, 2, 2, 2], (9, 8)),       # depthwise 5x5 stride 2
    (6, 5, 1, 3, 1, 2, [2, 2, 2, 2], (8, 7)),          # dilation 2
    (8, 16, 2, 3, (2, 1), 1, [1, 0, 1, 0], (8, 9)),    # grouped, unequal strides
])
def test_loop2d_k_split_by_kernel_rows_bit_exact(c, m, group, k, stride, dil, pads, hw_in, tmp_path,
                                                 monkeypatch):
    """``w2d`` tilings with K in chunks of kernel rows (``split``): one weight LOAD and one GEMM
    group per chunk, accumulating into the same rows; bit-exact under two very different DMA
    latencies, the chunks' weights in intervals of one weight half."""
    _only_split(monkeypatch)
    g = G(8)
    x = g.input((1, c) + hw_in)
    w = g.const(g.rand((m, c // group, k, k)))
    b = g.const(g.rng.integers(-500, 500, m).astype(np.int32))
    s = list(stride) if isinstance(stride, tuple) else [stride, stride]
    g.op("qcc.conv2d", [x, w, b, *g.mult(m)], dict(strides=s, pads=pads, group=group, dilations=[dil, dil],
                                                  x_zp=-5, y_zp=3), output=True)
    for lat in (0, 5000):
        d = tmp_path / f"l{lat}"
        d.mkdir()
        acc = compile_and_compare(g, d, replace(HW, dma_latency=lat), samples=1)
        assert "order=w2d" in acc["layers"][0]["tiling"]
    prog = isa.disassemble((tmp_path / "l0" / "accel" / "m.bin").read_bytes())
    gemms = [i for i in prog if i.op == "GEMM"]
    assert gemms and all(i["loop2d"] for i in gemms) and any(i["kblocks"] < k * k for i in gemms)


def test_loop2d_k_split_loads_run_ahead_of_the_gemms(tmp_path, monkeypatch):
    """A weight-bound stride-2 conv (18 dense blocks, input window small) on the default array:
    each K chunk's weights land in their own interval of the weight half, so the later chunks'
    LOADs wait for no GEMM, the first GEMM starts before the last weights have arrived, and
    the layer runs in fewer cycles than with all of K in one chunk."""
    from qcc.backends.accel.timing import simulate
    hw = HwConfig()
    g = G(9)
    x = g.input((1, 16, 9, 9))
    w = g.const(g.rand((32, 16, 3, 3)))
    b = g.const(g.rng.integers(-500, 500, 32).astype(np.int32))
    g.op("qcc.conv2d", [x, w, b, *g.mult(32)], dict(strides=[2, 2], pads=[1, 1, 1, 1], group=1,
                                                   x_zp=1, y_zp=0), output=True)
    cycles = {}
    for split in (True, False):
        _only_split(monkeypatch, split)
        d = tmp_path / str(split)
        d.mkdir()
        compile_and_compare(g, d, hw, samples=1)
        prog = isa.disassemble((d / "accel" / "m.bin").read_bytes())
        s = simulate(prog, hw)
        cycles[split] = s.total
        if split:
            wl = [i for i, ins in enumerate(prog) if ins.op == "LOAD" and ins["buf"] == "WGT"]
            assert len(wl) > 2 and not any(prog[i].deps and "pop_next" in prog[i].deps for i in wl[1:])
            first_gemm = min(i for i, ins in enumerate(prog) if ins.op == "GEMM")
            assert s.start[first_gemm] < max(s.end[i] for i in wl)
    assert cycles[True] < cycles[False], cycles
