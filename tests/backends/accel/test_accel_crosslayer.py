"""Cross-layer overlap: the ST -> LD and LD -> ST token FIFOs (LD's *_prev and ST's *_next
flags) and row-interval dependencies on DRAM tensors (stream.py), so a convolution's first
tiles load while the previous convolution still stores its last ones; bit-exact under very
different interleavings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qcc.backends.accel.isa import disassemble, make
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import simulate

from accel_testlib import HW, G, compile_and_compare


def test_ring_fifos_order_ld_and_st():
    st = make("STORE", dtype="i8", mode="raw", rows=4, cols=8, stride=8, deps=("push_next",))
    ld = make("LOAD", buf="INP", rows=4, cols=8, stride=8, deps=("pop_prev",))
    s = simulate([st, ld, make("FINISH")], HW)
    assert s.start[1] >= s.ready[0] > 0
    ld2 = make("LOAD", buf="INP", rows=4, cols=8, stride=8, deps=("push_prev",))
    st2 = make("STORE", dtype="i8", mode="raw", rows=4, cols=8, stride=8, deps=("pop_next",))
    s = simulate([ld2, st2, make("FINISH")], HW)
    assert s.start[1] >= s.ready[0] > 0


def test_row_interval_reads_wait_for_the_overlapping_write_only():
    b = Builder()
    y = ("DRAM", "y")
    a = b.group("st", writes=[y], rows={y: (0, 32)})
    a.add(make("STORE", note="a"))
    c = b.group("st", writes=[y], rows={y: (32, 64)})
    c.add(make("STORE", note="c"))
    first = b.group("ld", reads=[y], rows={y: (8, 24)})
    first.add(make("LOAD", buf="INP", note="first"))
    whole = b.group("ex", reads=[y])
    whole.add(make("FINISH"))
    assert first.waits == [a] and whole.waits == [c]
    prog, _ = b.finalize()
    assert "push_next" in prog[0].deps and "pop_prev" in prog[2].deps  # a -> first via s2l
    assert "push_prev" in prog[1].deps and "pop_next" in prog[3].deps  # c -> FINISH via s2c
    simulate(prog, HW)


def _chain() -> G:
    g = G(4)
    x = g.input((1, 8, 20, 20))  # several tiles per layer under every schedule
    c1 = g.conv(x, 8, 3, pads=[1, 1, 1, 1], x_zp=3)
    g.conv(c1, 8, 3, pads=[1, 1, 1, 1], x_zp=-2)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    return g


def test_next_conv_loads_before_the_previous_one_finishes(tmp_path):
    """(Through DRAM: on-chip residency off; test_accel_resident.py has its own.)"""
    outs = []
    for lat in (0, 5000):   # both interleavings the tokens allow compute the reference
        d = tmp_path / f"l{lat}"
        d.mkdir()
        acc = compile_and_compare(_chain(), d, replace(HW, dma_latency=lat, onchip_store=False))
        outs.append(acc)
    acc = outs[1]
    prog = disassemble((tmp_path / "l5000" / "accel" / "m.bin").read_bytes())
    s = simulate(prog, replace(HW, dma_latency=5000, onchip_store=False))
    l1, l2 = acc["layers"]
    last_store = max(s.ready[i] for i in range(l1["first"], l1["last"]) if prog[i].op == "STORE")
    first_in = min(s.start[i] for i in range(l2["first"], l2["last"])
                   if prog[i].op == "LOAD" and prog[i].f["buf"] == "INP" and prog[i].f["rows"])
    assert "th=20" not in l1["tiling"] and first_in < last_store, (l1["tiling"], first_in, last_store)


def test_whole_tensor_waits_when_partial_is_off():
    """Builder.partial False (the deadlock fallback): a row-interval read waits for the
    tensor's last write, as a whole read does."""
    b = Builder()
    b.partial = False
    y = ("DRAM", "y")
    b.group("st", writes=[y], rows={y: (0, 32)}).add(make("STORE", note="a"))
    c = b.group("st", writes=[y], rows={y: (32, 64)})
    c.add(make("STORE", note="c"))
    first = b.group("ld", reads=[y], rows={y: (8, 24)})
    first.add(make("LOAD", buf="INP", note="first"))
    assert first.waits == [c]


def test_deadlocking_overlap_falls_back_to_whole_tensor_waits(tmp_path, monkeypatch):
    """A stream whose cross-layer row overlap deadlocks the bounded token FIFOs (a real
    torchvision Inception-v3 did at 16 deep) is rendered again with whole-tensor waits:
    it compiles, the manifest says why, and it stays bit-exact."""
    from qcc.backends.accel import program
    from qcc.backends.accel.timing import DeadlockError

    run = program._Lowering.run
    seen = []

    def forced(self):
        seen.append(self.partial)
        if self.partial:
            raise DeadlockError("instruction stream deadlocks; forced by the test")
        return run(self)

    monkeypatch.setattr(program._Lowering, "run", forced)
    acc = compile_and_compare(_chain(), tmp_path, replace(HW, dma_latency=5000))
    assert seen == [True, False]
    assert len(acc["schedule_notes"]) == 1 and "cross-layer row overlap off" in acc["schedule_notes"][0]
    assert "forced by the test" in acc["schedule_notes"][0]
