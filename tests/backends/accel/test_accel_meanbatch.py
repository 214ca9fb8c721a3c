"""The global mean (GlobalAveragePool, ReduceMean over H, W) loads the channel blocks that fit
one accumulator slot together, every LOAD before the first ADD, so their DMA latencies overlap
(docs/target_accel.md §6): bit-exact with the reference interpreter, including the blocks over
several slots, several images and rows longer than a slot (one block at a time)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qcc.backends.accel.isa import disassemble
from qcc.backends.accel.timing import simulate

from accel_testlib import HW, G, compile_and_compare


def _mean_graph(n, c, h, w, zp, seed=3):
    g = G(seed)
    x = g.input((n, 3, h, w))
    cv = g.conv(x, c, 1)                                  # channels-last [n, c, h, w]
    g.op("qcc.global_avgpool", [cv, *g.mult(1, 0.05)], {"x_zp": zp, "y_zp": 2}, output=True)
    return g




# c=20: 3 blocks in one slot; c=72 over 6x6: 37 rows a block, 3 blocks a slot, 3 slots;
# 12x12 = 144 rows: longer than the 8-lane test array's 128-row slot, one block at a time
@pytest.mark.parametrize("n,c,h,w,zp", [(1, 20, 5, 5, -3), (2, 72, 6, 6, 4), (1, 12, 12, 12, 0)])
def test_mean_over_channel_blocks_bit_exact(n, c, h, w, zp, tmp_path):
    # the mean reading DRAM (with its input on chip it loads nothing: test_accel_boundary.py)
    acc = compile_and_compare(_mean_graph(n, c, h, w, zp), tmp_path, replace(HW, onchip_store=False))
    assert acc["host_ops"] == []
    prog = disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    loads = [k for k, i in enumerate(prog) if i.op == "LOAD" and i.f["buf"] == "ACC"]
    adds = [k for k, i in enumerate(prog) if i.op == "ALU" and i.f["alu_op"] == "ADD"
            and not i.f["use_imm"]]
    per_slot = (HW.acc_rows // 2) // (h * w + 1)
    nb = -(-c // HW.dim)
    if h * w < HW.acc_rows // 2 and per_slot > 1 and nb > 1:
        # the first batch: all of its blocks' LOADs before its first ADD
        assert sum(k < adds[0] for k in loads) == min(nb, per_slot)
    else:
        assert loads[0] < adds[0] < loads[1]


def test_mean_pays_one_dma_latency_for_its_blocks(tmp_path):
    """Raising the DMA latency by L raises the total of conv -> mean by at most 5 L, not by
    one L per channel block of the mean (6 blocks here, all in one slot; 10 L when the blocks
    loaded one after another)."""
    g = _mean_graph(1, 48, 4, 4, 1)
    compile_and_compare(g, tmp_path, samples=1)
    prog = disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    lat = 200
    delta = simulate(prog, replace(HW, dma_latency=HW.dma_latency + lat)).total \
        - simulate(prog, HW).total
    assert delta <= 5 * lat, delta
