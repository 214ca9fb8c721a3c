"""The tile search of a conv/linear layer simulates each candidate behind the conv/linear that
produced its input (program.py, docs/target_accel.md §6): the chosen tiling is the one that
overlaps that producer best, which is never slower as a pair than the tiling chosen alone;
compiled chains stay bit-exact."""

from __future__ import annotations

from dataclasses import replace

from qcc.backends.accel import program
from qcc.backends.accel.gemm_emit import choose_tiling, emit_gemm
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.layout import DramPlan, Region
from qcc.backends.accel.lower_gemm import prepare
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import simulate
from qcc.bench.accel_scalesim import ConvShape, _fake_conv

from accel_testlib import HW, G, compile_and_compare


def _layer(s: ConvShape, hw, plan, base):
    ly = prepare(_fake_conv(s), plan, hw)
    xb, yb = s.h * s.w * s.c, s.oh * s.ow * s.m
    xr = Region("x" + s.name, base, xb, "i8", (1, s.c, s.h, s.w), s.h * s.w, s.c)
    yr = Region("y" + s.name, base + xb, yb, "i8", (1, s.m, s.oh, s.ow), s.oh * s.ow, s.m)
    return ly, xr, yr


def test_searched_behind_its_producer_is_never_slower_as_a_pair():
    hw = HwConfig()
    a, b = ConvShape("a", 16, 16, 16, 64, 1), ConvShape("b", 16, 16, 64, 64, 3, 2, 1)
    plan = DramPlan()
    plan.arena_size = 1 << 16
    la, xa, ya = _layer(a, hw, plan, 0)
    lb, _, yb = _layer(b, hw, plan, xa.nbytes)
    ta, _, _ = choose_tiling(la, xa, ya, hw)

    def before(bld):
        emit_gemm(la, ta, xa, ya, hw, bld, ("DRAM", "w"), ("DRAM", "x"))

    def pair(t):
        bld = Builder(inp_half=hw.inp_rows // 2, fifo_depth=hw.fifo_depth)
        before(bld)
        emit_gemm(lb, t, ya, yb, hw, bld, ("DRAM", "x"), ("DRAM", "y"))
        return simulate(bld.finalize()[0], hw).total
    alone, _, _ = choose_tiling(lb, ya, yb, hw)
    behind, cyc, _ = choose_tiling(lb, ya, yb, hw, before=before)
    assert cyc == pair(behind) <= pair(alone)


def test_compiled_chain_uses_the_producer_and_stays_bit_exact(tmp_path, monkeypatch):
    seen = []
    orig = program.choose_tiling

    def spy(ly, *a, **k):
        seen.append((ly.name, k.get("before") is not None))
        return orig(ly, *a, **k)
    monkeypatch.setattr(program, "choose_tiling", spy)
    g = G(9)
    x = g.input((1, 8, 10, 10))
    y = g.conv(x, 16, 1, x_zp=2)
    z = g.conv(y, 16, 3, pads=[1, 1, 1, 1], x_zp=-1)
    g.conv(z, 8, 1, x_zp=4)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    for lat in (0, 5000):
        d = tmp_path / f"l{lat}"
        d.mkdir()
        seen.clear()
        compile_and_compare(g, d, replace(HW, dma_latency=lat))
        assert [s[1] for s in seen] == [False, True, True]
