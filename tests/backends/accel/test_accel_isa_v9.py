"""ISA v9.  The im2col LOAD (LOAD ``im2col`` + CONFIG IM2COL ``(n, step, pw)``): the piece rows a
plain LOAD would write, each ``pw`` lanes wide, are put side by side, ``n`` per buffer row,
consecutive buffer rows ``step`` pieces apart; the DMA fetches each piece once (the cost of
the plain LOAD), so a 1-channel 3x3 stem gets its whole window into one row and multiplies
one weight block per position (order ``pim``), bit-exact with the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import decode, disassemble, encode, format_instr, make, parse_instr
from qcc.backends.accel.timing import cost, dma_bytes

from accel_testlib import G, compile_and_compare

HW16 = HwConfig(rows=16, cols=16, inp_kib=16, wgt_kib=16, acc_kib=16, param_kib=1)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 4), step=st.integers(1, 3), pw=st.integers(1, 4), rows=st.integers(1, 6),
       pb=st.integers(0, 2), pa=st.integers(0, 2), lane=st.integers(0, 3), copies=st.integers(1, 2),
       seed=st.integers(0, 999))
def test_im2col_rows_are_the_pieces_of_the_plain_load_side_by_side(n, step, pw, rows, pb, pa, lane,
                                                                   copies, seed):
    d = HW16.dim
    lane = min(lane, pw - 1)
    cols = pw - lane
    total = pb + rows + pa
    if total < n:
        return
    img = np.random.default_rng(seed).integers(0, 256, 4096).astype(np.uint8)
    f = dict(buf="INP", dtype="i8", sram=3, dram=40, rows=rows, cols=cols, stride=11,
             pad_before=pb, pad_after=pa, pad_val=-7, outer=1)
    outer = make("CONFIG", reg="LOAD_OUTER", a=copies, b=200, c=lane, d=50)
    plain, im = Machine(HW16, img.copy()), Machine(HW16, img.copy())
    plain.run([outer, make("LOAD", **f)])
    im.run([outer, make("CONFIG", reg="IM2COL", a=n, b=step, c=pw), make("LOAD", im2col=1, **f)])
    m = (total - n) // step + 1
    want = np.zeros_like(im.inp)
    for k in range(copies):
        pieces = plain.inp[3 + 50 * k:3 + 50 * k + total, :pw]
        rows_k = np.full((m, d), -7, np.int8)
        for i in range(m):
            rows_k[i, :n * pw] = pieces[i * step:i * step + n].reshape(-1)
        want[3 + 50 * k:3 + 50 * k + m] = rows_k
    assert np.array_equal(im.inp, want)


def test_im2col_encoding_bytes_and_cost():
    hw = HwConfig()
    ins = make("LOAD", buf="INP", sram=0, dram=64, rows=6, cols=3, stride=8, pad_before=1,
               pad_after=1, im2col=1)
    plain = make("LOAD", **dict(ins.f, im2col=0))
    word = int.from_bytes(encode(ins), "little")
    assert word >> 127 == 1 and int.from_bytes(encode(plain), "little") >> 127 == 0
    assert decode(encode(ins)).key() == ins.key() == parse_instr(format_instr(ins)).key()
    cfg = make("CONFIG", reg="IM2COL", a=3, b=1, c=3)
    assert cfg.engine == "ld" and decode(encode(cfg)).key() == cfg.key()
    # the DMA fetches each piece once (a line buffer of n pieces builds the rows): the cost
    # and the bytes of the plain LOAD of the same pieces
    assert cost(ins, hw) == cost(plain, hw) and dma_bytes(ins, hw) == dma_bytes(plain, hw) == 18


@pytest.mark.parametrize("reg,f,match", [
    ((3, 1, 3), dict(buf="WGT", cols=3), "INP"),
    ((0, 1, 3), dict(cols=3), "IM2COL"),               # before CONFIG IM2COL
    ((7, 1, 3), dict(cols=3), "n-1"),                  # the 7th piece starts past lane 16
    #                                                    (v9: n*pw <= 16; v10: every piece reaches the row)
    ((3, 1, 3), dict(cols=3, rows=2), "piece rows"),   # 2 pieces, 3 needed
    ((3, 1, 2), dict(cols=3), "pw"),                   # the data is wider than a piece
])
def test_im2col_errors(reg, f, match):
    fields = dict(buf="INP", sram=0, dram=0, rows=4, stride=8)
    fields.update(f)
    prog = ([make("CONFIG", reg="IM2COL", a=reg[0], b=reg[1], c=reg[2])] if reg[0] else []) + \
        [make("LOAD", im2col=1, **fields)]
    with pytest.raises(SimError, match=match):
        Machine(HW16, np.zeros(4096, np.uint8)).run(prog)
    with pytest.raises(SimError, match=match):
        check_bounds(prog, HW16, 4096)


def test_im2col_bounds_count_the_rows_it_builds():
    rows = HW16.inp_rows
    cfg = make("CONFIG", reg="IM2COL", a=3, b=1, c=3)
    # 10 pieces -> 8 rows: fits at the end of the buffer although 10 plain rows would not
    ok = make("LOAD", buf="INP", sram=rows - 8, dram=0, rows=10, cols=3, stride=8, im2col=1)
    check_bounds([cfg, ok], HW16, 4096)
    Machine(HW16, np.zeros(4096, np.uint8)).run([cfg, ok])
    bad = make("LOAD", **dict(ok.f, sram=rows - 7))
    with pytest.raises(SimError, match="INP"):
        check_bounds([cfg, bad], HW16, 4096)


@pytest.mark.parametrize("shape,k,attrs", [
    ((1, 1, 9, 9), 3, dict(pads=[1, 1, 1, 1], x_zp=-3)),
    ((1, 1, 10, 7), 3, dict(pads=[0, 1, 2, 1], strides=[2, 2], x_zp=5)),
    ((1, 1, 6, 6), 3, dict()),
    ((1, 2, 6, 5), 2, dict(pads=[1, 0, 1, 1], x_zp=-1)),
])
def test_few_channel_stem_runs_one_block_per_position(tmp_path, shape, k, attrs):
    """The stem is lowered to im2col rows (the timing model prefers them to the packed
    schedules here): every GEMM multiplies one K block, and the result is bit-exact."""
    g = G(sum(shape) + k)
    x = g.input(shape)
    g.conv(x, 20, k, **attrs)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    acc = compile_and_compare(g, tmp_path, HW16)
    assert "order=pim" in acc["layers"][0]["tiling"]
    prog = disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    assert all(i.f["kblocks"] == 1 for i in prog if i.op == "GEMM")
    assert any(i.op == "LOAD" and i.f["im2col"] for i in prog)
    # not slower than the best schedule without the instruction
    (tmp_path / "v8").mkdir()
    old = compile_and_compare(g, tmp_path / "v8", HwConfig(**{**HW16.__dict__, "im2col_load": False}),
                              samples=1)
    assert "pim" not in old["layers"][0]["tiling"]
    assert acc["layers"][0]["est_cycles"] <= old["layers"][0]["est_cycles"]
