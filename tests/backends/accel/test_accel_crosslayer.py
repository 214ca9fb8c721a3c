"""Cross-layer overlap: the ST -> LD and LD -> ST token FIFOs (LD's *_prev and ST's *_next
flags) and row-interval dependencies on DRAM tensors (stream.py), so a convolution's first
tiles load while the previous convolution still stores its last ones; bit-exact under very
different interleavings."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from qcc.backends.accel.check import check_tokens

from qcc.backends.accel.isa import disassemble, make
from qcc.backends.accel.stream import Builder, _bound_tokens
from qcc.backends.accel.timing import DeadlockError, simulate

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


def _branches(size: int) -> G:
    """A conv with many small tiles (8x8 array, 8 KiB accumulator) read by two branches
    whose outputs a concat joins: each consumer tile waits for a different producer store."""
    g = G(4)
    x = g.input((1, 8, size, size))
    c1 = g.conv(x, 8, 3, pads=[1, 1, 1, 1], x_zp=3)
    a = g.conv(c1, 8, 1, x_zp=-2)
    b = g.conv(c1, 8, 3, pads=[1, 1, 1, 1], x_zp=-2)
    g.op("qcc.concat", [a, b, g.const(np.array([1 << 30, 1 << 29], np.int32)),
                        g.const(np.array([30, 30], np.int32))], {"axis": 1, "zps": [0, 0]},
         output=True)
    return g


@pytest.mark.parametrize("size,onchip", [(24, False), (40, True)])
def test_unbounded_tokens_deadlock_this_graph(monkeypatch, size, onchip):
    """Without the render-time bound the cross-layer row tokens of ``_branches`` overfill
    the 16-deep FIFOs: the tile search's stream deadlocks, through DRAM and (with more
    tiles) with on-chip residency (the graph reproduces the bug)."""
    from qcc.backends.accel import program, stream
    from qcc.backends.accel.timing import DeadlockError

    monkeypatch.setattr(stream, "_bound_tokens", lambda pairs, depth: pairs)
    with pytest.raises(DeadlockError, match="deadlock"):
        program.build_program(_branches(size).g, replace(HW, onchip_store=onchip), 4, "m")


@pytest.mark.parametrize("depth,onchip", [(16, False), (2, False), (16, True)])
def test_many_tiles_and_branches_compile_bit_exact_with_bounded_tokens(tmp_path, depth, onchip):
    """The same graph compiles with the FIFO bound (no fallback), the checker proves every
    segment deadlock-free in program order, and through DRAM the consumers still load
    their first rows before the producer's last store (cross-layer overlap kept)."""
    hw = replace(HW, fifo_depth=depth, dma_latency=5000, onchip_store=onchip)
    acc = compile_and_compare(_branches(40 if onchip else 24), tmp_path, hw)
    prog = disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    for seg in acc["segments"]:
        if seg["kind"] == "accel":
            check_tokens(prog[seg["first"]:seg["last"]], depth)
    if onchip:
        return
    s = simulate(prog, hw)
    l1, l2 = acc["layers"][:2]
    last_store = max(s.ready[i] for i in range(l1["first"], l1["last"]) if prog[i].op == "STORE")
    first_in = min(s.start[i] for i in range(l2["first"], l2["last"])
                   if prog[i].op == "LOAD" and prog[i].f["buf"] == "INP" and prog[i].f["rows"])
    assert first_in < last_store


def test_check_tokens_proves_or_names_the_instruction():
    st = make("STORE", dtype="i8", mode="raw", rows=1, cols=8, stride=8, deps=("push_next",))
    ld = make("LOAD", buf="INP", rows=1, cols=8, stride=8, deps=("pop_prev",))
    check_tokens([st, st, ld, ld, make("FINISH")], 2)
    with pytest.raises(DeadlockError, match=r"instruction 2 \(STORE\) pushes a token 3 deep into s2l"):
        check_tokens([st, st, st, ld, ld, ld, make("FINISH")], 2)
    with pytest.raises(DeadlockError, match="instruction 0 .* pops s2l before"):
        check_tokens([ld, st], 2)
    with pytest.raises(DeadlockError, match="never popped"):
        check_tokens([st, make("FINISH")], 2)


def _sweep(pairs):
    """Most tokens in flight in each FIFO when the groups run one by one in order."""
    most = {}
    for key, lst in pairs.items():
        ev = sorted([(w, 0) for _, w in lst] + [(h, 1) for h, _ in lst])
        n = m = 0
        for _, push in ev:
            n += 1 if push else -1
            m = max(m, n)
        most[key] = m
    return most


@st_.composite
def _pairs(draw):
    """Token pairs of one FIFO as finalize makes them: the k-th push before the k-th pop,
    pushes and pops each in order (groups numbered by a random push/pop sequence)."""
    events = draw(st_.lists(st_.booleans(), max_size=80))   # True: a push, False: a pop
    hs, ws = [], []
    for seq, push in enumerate(events):
        if push:
            hs.append(seq)
        elif len(ws) < len(hs):
            ws.append(seq)
    return list(zip(hs, ws))


@given(_pairs(), st_.integers(1, 6))
@settings(max_examples=200, deadline=None)
def test_bound_tokens_keeps_every_wait_and_the_bound(lst, depth):
    key = ("ld", "st")
    out = _bound_tokens({key: lst}, depth)[key]
    assert _sweep({key: out})[key] <= depth
    for a, b in zip(out, out[1:]):  # still one FIFO: pushes and pops in order
        assert a[0] < b[0] and a[1] < b[1]
    assert all(h < w for h, w in out)
    for h, w in lst:  # every wait implied: an earlier-or-same pop waits for a later-or-same push
        assert any(h2 >= h and w2 <= w for h2, w2 in out), (h, w)
    if _sweep({key: lst})[key] <= depth:
        assert out == lst  # nothing changes where the bound already holds
