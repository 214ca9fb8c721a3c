"""ISA v6.  Partial weight-block loads (LOAD ``part``): a WGT LOAD with ``part = 1`` fills each
block's first ``cols`` K-rows from ``cols * DIM`` DRAM bytes and zeroes the others: it writes
exactly the block a dense load of the zero-padded block writes, moves ``cols/DIM`` of its
bytes, and the packed-taps stems store and load only the K-rows that hold taps (bit-exact in
test_accel_pack and test_accel_models).  Other buffers and ``cols = 0`` are errors.
The first lane of an outer INP LOAD (CONFIG LOAD_OUTER ``c``): the data goes to lanes
``c .. c+cols-1``, the lanes before and after get the pad value; the ``pkw`` stems load
their left-border columns so and need no rotated weight blocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import decode, encode, format_instr, make, parse_instr
from qcc.backends.accel.timing import cost, dma_bytes

from accel_testlib import HW, G, compile_and_compare


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 4), kr=st.integers(1, HW.dim), gap=st.integers(0, 64),
       seed=st.integers(0, 2**16))
def test_partial_load_equals_the_dense_load_of_the_padded_blocks(rows, kr, gap, seed):
    d = HW.dim
    rng = np.random.default_rng(seed)
    part = rng.integers(-128, 128, (rows, kr, d)).astype(np.int8)
    dense = np.zeros((rows, d, d), np.int8)
    dense[:, :kr] = part
    stride = kr * d + gap
    img = np.zeros(rows * stride + rows * d * d + 64, np.uint8)
    for r in range(rows):
        img[r * stride:r * stride + kr * d] = part[r].reshape(-1).view(np.uint8)
    off = rows * stride
    img[off:off + dense.size] = dense.reshape(-1).view(np.uint8)
    a, b = Machine(HW, img.copy()), Machine(HW, img.copy())
    a.wgt[:] = 7   # stale contents: the partial load must zero the K-rows past cols
    b.wgt[:] = 7
    a.run([make("LOAD", buf="WGT", sram=2, dram=0, rows=rows, cols=kr, stride=stride, part=1)])
    b.run([make("LOAD", buf="WGT", sram=2, dram=off, rows=rows, stride=d * d)])
    assert np.array_equal(a.wgt, b.wgt)


def test_partial_load_bytes_cost_and_encoding():
    hw = HwConfig()
    d = hw.dim
    ins = make("LOAD", buf="WGT", sram=0, dram=64, rows=6, cols=3, stride=3 * d, part=1)
    dense = make("LOAD", buf="WGT", sram=0, dram=64, rows=6, stride=d * d)
    assert dma_bytes(ins, hw) == 6 * 3 * d and dma_bytes(dense, hw) == 6 * d * d
    assert cost(ins, hw)[0] == hw.dma_overhead + -(-6 * 3 * d // hw.dram_bytes_per_cycle)
    word = int.from_bytes(encode(ins), "little")
    assert word >> 126 == 1     # bit 126, zero in every v5 word
    assert decode(encode(ins)).key() == ins.key() == parse_instr(format_instr(ins)).key()
    assert int.from_bytes(encode(dense), "little") >> 126 == 0


@pytest.mark.parametrize("bad", [
    dict(buf="INP", cols=4),         # only weight blocks are partial
    dict(buf="WGT", cols=0),         # no K-rows
])
def test_partial_load_errors(bad):
    ins = make("LOAD", sram=0, dram=0, rows=1, stride=64, part=1, **bad)
    with pytest.raises(SimError, match="part"):
        Machine(HW, np.zeros(4096, np.uint8)).run([ins])
    with pytest.raises(SimError, match="part"):
        check_bounds([ins], HW, 4096)


def test_partial_load_bounds_its_bytes():
    d = HW.dim
    ins = make("LOAD", buf="WGT", sram=0, dram=4096 - 2 * d, rows=1, cols=3, stride=0, part=1)
    with pytest.raises(SimError, match="DRAM"):
        check_bounds([ins], HW, 4096)
    check_bounds([make("LOAD", buf="WGT", sram=0, dram=4096 - 3 * d, rows=1, cols=3, part=1)],
                 HW, 4096)


def test_packed_stem_loads_partial_blocks(tmp_path):
    """A 1-channel 3x3 stem: its weight blocks are stored and loaded as the 3 K-rows of
    taps (3 * DIM bytes per block instead of DIM * DIM), bit-exact."""
    from qcc.backends.accel.isa import disassemble
    g = G(4)
    x = g.input((1, 1, 9, 9))
    g.conv(x, 8, 3, pads=[1, 1, 1, 1], x_zp=-2)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    acc = compile_and_compare(g, tmp_path)
    assert "order=pk" in acc["layers"][0]["tiling"]
    prog = disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    wl = [i for i in prog if i.op == "LOAD" and i.f["buf"] == "WGT"]
    assert wl and all(i.f["part"] == 1 and i.f["cols"] == 3 and i.f["stride"] == 3 * HW.dim
                      for i in wl)


@settings(max_examples=60, deadline=None)
@given(lane=st.integers(0, HW.dim - 1), cols=st.integers(1, HW.dim), rows=st.integers(1, 5),
       pb=st.integers(0, 2), pa=st.integers(0, 2), n=st.integers(1, 3), seed=st.integers(0, 99))
def test_lane_offset_moves_the_data_and_pads_around_it(lane, cols, rows, pb, pa, n, seed):
    d = HW.dim
    cols = min(cols, d - lane)
    img = np.random.default_rng(seed).integers(0, 256, 4096).astype(np.uint8)
    base = make("LOAD", buf="INP", sram=4, dram=16, rows=rows, cols=cols, stride=24,
                pad_before=pb, pad_after=pa, pad_val=-5)
    plain, shifted = Machine(HW, img.copy()), Machine(HW, img.copy())
    plain.run([make("CONFIG", reg="LOAD_OUTER", a=n, b=100, d=rows + pb + pa),
               make("LOAD", **dict(base.f, outer=1))])
    shifted.run([make("CONFIG", reg="LOAD_OUTER", a=n, b=100, c=lane, d=rows + pb + pa),
                 make("LOAD", **dict(base.f, outer=1))])
    want = np.full_like(plain.inp, 0)
    span = slice(4, 4 + n * (rows + pb + pa))
    want[span] = -5
    want[span, lane:lane + cols] = plain.inp[span, :cols]
    assert np.array_equal(shifted.inp, want)


@pytest.mark.parametrize("buf,lane,cols", [("INP", 5, HW.dim - 4), ("WGT", 1, 0)])
def test_lane_offset_errors(buf, lane, cols):
    prog = [make("CONFIG", reg="LOAD_OUTER", a=1, b=0, c=lane, d=0),
            make("LOAD", buf=buf, sram=0, dram=0, rows=1, cols=cols, stride=64, outer=1)]
    with pytest.raises(SimError, match="lane"):
        Machine(HW, np.zeros(4096, np.uint8)).run(prog)
    with pytest.raises(SimError, match="lane"):
        check_bounds(prog, HW, 4096)
    # a plain LOAD ignores the register
    Machine(HW, np.zeros(4096, np.uint8)).run(prog[:1] + [make("LOAD", buf="INP", rows=1, cols=4)])


def test_column_window_stem_needs_no_rotated_blocks(tmp_path, monkeypatch):
    """A 3x3 stem with a left pad in the ``pkw`` order: the left column's rows are loaded
    from lane C (v6), every GEMM covers all columns of its tile with the unrotated blocks
    (one GEMM per tile here), and the weight LOADs move only those blocks; bit-exact."""
    from qcc.backends.accel import gemm_emit
    from qcc.backends.accel.isa import disassemble
    orig = gemm_emit.candidates
    monkeypatch.setattr(gemm_emit, "candidates",
                        lambda ly, hw: [t for t in orig(ly, hw) if t.order == "pkw"] or orig(ly, hw))
    g = G(11)
    x = g.input((1, 2, 6, 7))
    g.conv(x, 8, 3, pads=[1, 1, 1, 1], x_zp=-6)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    acc = compile_and_compare(g, tmp_path)
    prog = disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    tiles = -(-6 // int(acc["layers"][0]["tiling"].split()[0][3:])) * \
        -(-7 // int(acc["layers"][0]["tiling"].split()[1][3:]))
    gemms = [i for i in prog if i.op == "GEMM"]
    assert len(gemms) == tiles and all(i.f["loop2d"] for i in gemms)
    lanes = [i for i in prog if i.op == "CONFIG" and i.f["reg"] == "LOAD_OUTER" and i.f["c"]]
    assert lanes and all(i.f["c"] == 2 for i in lanes)       # one tap of 2 channels missing
    wl = [i for i in prog if i.op == "LOAD" and i.f["buf"] == "WGT"]
    assert sum(i.f["rows"] for i in wl) == 3                 # 3 kernel rows, no rotations
