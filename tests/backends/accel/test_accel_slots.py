"""Four input and accumulator slots (``Tiling.bufs = 4``) and the producer tiling chosen with
its consumer in view (``lookahead.py``).  Quarter slots are row intervals that the stream
builder orders against every overlapping half of other layers, so streams stay bit-exact;
a producer chosen with its consumer behind it never makes a small two-layer pair slower."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qcc.backends.accel import gemm_emit, lookahead
from qcc.backends.accel.isa import disassemble
from qcc.backends.accel.lower_gemm import _Slots
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import simulate

from accel_testlib import HW, G, compile_and_compare


def test_quarter_accumulator_slot_waits_for_the_half_it_overlaps():
    """A STORE group reading accumulator half 0 and a later GEMM group writing the quarter
    ``("ACC", 0, H/2)`` inside it: the write waits for that reader (write-after-read)."""
    h = HW.acc_rows // 2
    b = Builder(inp_half=HW.inp_rows // 2, acc_half=h)
    st = b.group("st", reads=[("ACC", 0)])
    other = b.group("ex", writes=[("ACC", h, h + h // 2)])     # the other half: no wait
    quarter = b.group("ex", writes=[("ACC", 0, h // 2)])
    assert st in quarter.waits and st not in other.waits
    nohalf = Builder()   # without the half size the halves are opaque names (as before)
    nohalf.group("st", reads=[("ACC", 0)])
    assert not nohalf.group("ex", writes=[("ACC", 0, h // 2)]).waits


def test_slots_rotate_through_quarters_and_hand_the_other_half_on():
    s = _Slots(HW, None, bufs=4, phase={"INP": 1, "ACC": 0})
    inp = [s.next("INP")[0] for _ in range(5)]
    acc = [s.next("ACC")[1] for _ in range(3)]
    q = HW.inp_rows // 4
    assert inp == [2 * q, 3 * q, 0, q, 2 * q]          # from the half phase names
    qa = HW.acc_rows // 4
    assert acc == [("ACC", 0, qa), ("ACC", qa, 2 * qa), ("ACC", 2 * qa, 3 * qa)]
    assert s.next_phase()["INP"] == 0 and s.next_phase()["ACC"] == 0   # last: halves 1, 1
    two = _Slots(HW, None)
    two.next("INP")
    assert two.next_phase()["INP"] == 1


def _stem(seed=3):
    """A 1-channel 3x3 stem, then a depthwise 3x3 conv."""
    g = G(seed)
    x = g.input((1, 1, 12, 10))
    a = g.conv(x, 8, 3, pads=[1, 1, 1, 1], x_zp=-3, y_zp=2)
    w = g.const(g.rand((8, 1, 3, 3)))
    bias = g.const(g.rng.integers(-500, 500, 8).astype(np.int32))
    g.op("qcc.conv2d", [a, w, bias, *g.mult(8)],
         dict(strides=[1, 1], pads=[1, 1, 1, 1], group=8, x_zp=2), output=True)
    return g


@pytest.mark.parametrize("th", [1, 2, 4])
def test_four_slots_bit_exact(th, tmp_path, monkeypatch):
    """A 1-channel stem forced onto the column windows with four slots (several tiles, so
    the quarters wrap), then a depthwise conv whose first slots follow the stem's phase."""
    orig = gemm_emit.candidates

    def pick(ly, hw):
        ts = orig(ly, hw)
        if ly.c == 1:
            ts = [t for t in ts if t.order == "pkw" and t.bufs == 4 and t.th == th] or ts
        return ts
    monkeypatch.setattr(gemm_emit, "candidates", pick)
    acc = compile_and_compare(_stem(), tmp_path)
    assert acc["layers"][0]["tiling"].endswith("bufs=4") and f"th={th} " in acc["layers"][0]["tiling"]


def test_lookahead_never_slows_a_small_pair(tmp_path, monkeypatch):
    """Stem -> depthwise: the producer tiling taken with the consumer searched behind it
    gives a stream no slower than the producer's fastest tiling alone (ALTERNATIVES = 1)."""
    acc = compile_and_compare(_stem(5), tmp_path, samples=1)
    with_look = simulate(disassemble((tmp_path / "accel" / "m.bin").read_bytes()), HW).total
    monkeypatch.setattr(lookahead, "ALTERNATIVES", 1)
    alone = tmp_path / "alone"
    alone.mkdir()
    base = compile_and_compare(_stem(5), alone, samples=1)
    greedy = simulate(disassemble((alone / "accel" / "m.bin").read_bytes()), HW).total
    assert with_look <= greedy
    for a, chosen in ((acc, None), (base, "fastest")):   # the manifest states the own cycles
        ly = a["layers"][0]
        tried = dict(a["tiling_search"][ly["name"]])
        assert ly["est_cycles"] == tried[ly["tiling"]]
        if chosen:
            assert ly["est_cycles"] == min(tried.values())


def test_shallow_fifos(tmp_path):
    """The default search (four-slot candidates among them) with token FIFOs of depth 2 stays
    bit-exact."""
    compile_and_compare(_stem(7), tmp_path, replace(HW, fifo_depth=2), samples=1)
