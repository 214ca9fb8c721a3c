"""The packed-taps schedule (backends/accel/gemm_pack.py): convolutions with fewer than
DIM/2 input channels put several kernel taps of one kernel row into one weight block.
Forced onto that schedule, they are bit-exact with the reference interpreter at every
border case (rotated blocks on the left, cut rows on the right, pad columns, pad rows,
strides, tiles split in both directions), in both orders (``pack``: one DMA row per
kernel row and position; ``pkw``: each input row of a column window once, read by a
two-level GEMM), and the packed stem needs fewer array cycles than the tap-by-tap gather."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.backends.accel import gemm_emit
from qcc.backends.accel.gemm_pack import rotations, tap_groups
from qcc.backends.accel.hw import HwConfig

from accel_testlib import HW, G, compile_and_compare


def _only_pack(monkeypatch, size=None, order="pack"):
    orig = gemm_emit.candidates

    def pick(ly, hw):
        ts = [t for t in orig(ly, hw) if t.order == order]
        if size is not None:
            ts = [t for t in ts if (t.th, t.tw) == size(ly)] or ts
        return ts or orig(ly, hw)
    monkeypatch.setattr(gemm_emit, "candidates", pick)


@pytest.mark.parametrize("c,m,k,stride,pads,hw_in", [
    (1, 12, 3, 1, [1, 1, 1, 1], (9, 10)),     # one group per kernel row, rotation 1, two blocks of M
    (3, 8, 3, 2, [1, 1, 1, 1], (9, 8)),       # DIM 8: 2 taps per block, groups (0,2) (2,1)
    (2, 5, 5, 2, [2, 1, 0, 2], (8, 9)),       # 4 taps per block, asymmetric pads
    (4, 9, 3, 1, [0, 2, 1, 0], (5, 6)),       # pad left 2 = a whole group: pad columns
    (1, 6, 7, 3, [3, 3, 3, 3], (6, 4)),       # 7 taps in one block, missing on both sides
])
@pytest.mark.parametrize("order", ["pack", "pkw"])
def test_packed_taps_bit_exact(c, m, k, stride, pads, hw_in, order, tmp_path, monkeypatch):
    _only_pack(monkeypatch, order=order)
    g = G(21)
    x = g.input((1, c) + hw_in)
    w = g.const(g.rand((m, c, k, k)))
    b = g.const(g.rng.integers(-500, 500, m).astype(np.int32))
    g.op("qcc.conv2d", [x, w, b, *g.mult(m)], dict(strides=[stride, stride], pads=pads, group=1,
                                                  x_zp=-7, y_zp=2), output=True)
    acc = compile_and_compare(g, tmp_path)
    assert acc["host_ops"] == []
    assert f"order={order}" in acc["layers"][0]["tiling"]


@pytest.mark.parametrize("tile,order", [((1, 11), "pack"), ((2, 8), "pack"), ((4, 8), "pack"),
                                        ((1, 11), "pkw"), ((4, 8), "pkw"), ((2, 8), "pkw"),
                                        ((4, 4), "pack"), ((2, 4), "pkw")])
def test_packed_taps_split_tiles(tile, order, tmp_path, monkeypatch):
    """Tiles of one output row (row-major stores), and tiles cut in both directions (the
    ``pkw`` order re-configures its row generator for the shorter last tile; 4-wide tiles
    over 11 columns: a border on each side and a 3-wide last tile)."""
    _only_pack(monkeypatch, size=lambda ly: (min(tile[0], ly.oh), min(tile[1], ly.ow)), order=order)
    g = G(5)
    x = g.input((1, 3, 7, 11))
    g.conv(x, 10, 3, pads=[1, 1, 1, 1], x_zp=4)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    acc = compile_and_compare(g, tmp_path)
    t = acc["layers"][0]["tiling"]
    assert f"th={min(tile[0], 7)} tw={min(tile[1], 11)}" in t and f"order={order}" in t


@pytest.mark.parametrize("stride", [1, 2])
def test_column_windows_move_fewer_dma_rows(stride, tmp_path, monkeypatch):
    """The same 1-channel 3x3 stem tiling in both orders: ``pkw`` loads each input row of a
    column once, so its input LOADs move fewer rows ((th-1)*s + 3 per column instead of
    3*th), and both are bit-exact."""
    from qcc.backends.accel.isa import disassemble
    from qcc.backends.accel.timing import copies
    rows = {}
    for order in ("pack", "pkw"):
        g = G(9)
        x = g.input((1, 1, 12, 12))
        g.conv(x, 8, 3, pads=[1, 1, 1, 1], x_zp=3, strides=[stride, stride])
        g.g.outputs.append(g.g.nodes[-1].outputs[0])
        with monkeypatch.context() as mp:
            _only_pack(mp, size=lambda ly: (ly.oh, min(8, ly.ow)), order=order)
            (tmp_path / order).mkdir()
            acc = compile_and_compare(g, tmp_path / order)
        assert f"order={order}" in acc["layers"][0]["tiling"]
        prog = disassemble((tmp_path / order / "accel" / "m.bin").read_bytes())
        rows[order] = sum(i.f["rows"] * n for i, n in zip(prog, copies(prog))
                          if i.op == "LOAD" and i.f["buf"] == "INP")
    assert rows["pkw"] == (12 // stride) * 12   # every column: each of the 12 input rows once
    assert rows["pkw"] < rows["pack"]


def test_rotations_and_groups():
    """A 7x7 stride-2 stem over 3 channels on a 16-lane array: groups of 5 and 2 taps; the
    first group needs rotations for the two left columns, the second none."""
    from types import SimpleNamespace
    ly = SimpleNamespace(c=3, kw=7, w=224, ow=112, stride=(2, 2), pads=(3, 3, 3, 3))
    assert tap_groups(ly, 16) == [(0, 5), (5, 2)]
    assert rotations(ly, 0, 5) == [0, 1, 3]
    assert rotations(ly, 5, 2) == [0]


def test_packed_stem_needs_fewer_array_cycles():
    """The 3-channel 3x3 stem: the schedule chosen by the timing model is a packed one,
    and its array (GEMM) cycles are under half those of the best tap-by-tap gather."""
    from qcc.bench.accel_scalesim import ConvShape, qcc_layer_cycles
    s = ConvShape("stem", 16, 16, 3, 16, 3, 1, 1)
    best = qcc_layer_cycles(s, HwConfig())                       # fewest total cycles
    gather = qcc_layer_cycles(s, HwConfig(), objective="compute")  # basic folds only
    assert best["tiling"].endswith(("order=pack", "order=pkw"))
    assert best["compute"] < 0.5 * gather["compute"], (best, gather)
    assert best["total"] < gather["total"]


@pytest.mark.parametrize("k,stride", [(3, 1), (5, 2)])
def test_depthwise_weights_are_diagonals(k, stride, tmp_path):
    """A depthwise conv stores only the diagonals of its weight blocks (DIM bytes each, not
    DIM*DIM), loads them with diagonal WGT loads, and stays bit-exact."""
    g = G(3)
    c = 12
    x = g.input((1, c, 7, 6))
    w = g.const(g.rand((c, 1, k, k)))
    b = g.const(g.rng.integers(-500, 500, c).astype(np.int32))
    g.op("qcc.conv2d", [x, w, b, *g.mult(c)], dict(strides=[stride, stride], pads=[k // 2] * 4,
                                                  group=c, x_zp=5, y_zp=-1), output=True)
    acc = compile_and_compare(g, tmp_path)
    d = HW.dim
    blocks = -(-c // d) * k * k
    assert acc["dram"]["const_bytes"] < blocks * d * d  # the dense blocks alone would not fit
    from qcc.backends.accel.isa import disassemble
    prog = disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    wl = [i for i in prog if i.op == "LOAD" and i.f["buf"] == "WGT"]
    assert wl and all(i.f["cols"] == d and i.f["stride"] == d for i in wl)
