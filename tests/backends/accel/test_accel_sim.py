"""The functional simulator against the arithmetic contract (STORE epilogue, DYADD, GEMM with
int32 wrap-around), the stream checker (bounds, deadlock, unbalanced tokens) and the timing
model (double buffering overlaps engines, the token protocol is order-independent)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import make
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import DeadlockError, gemm_cycles, simulate

HW = HwConfig(inp_kib=4, wgt_kib=16, acc_kib=4, param_kib=1)
D = HW.dim
i32 = st.integers(arith.INT32_MIN, arith.INT32_MAX)


def _wrap(x: int) -> int:
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


@settings(max_examples=300, deadline=None)
@given(acc=st.lists(i32, min_size=D, max_size=D), bias=i32,
       m=st.one_of(st.integers(0, (1 << 31) - 1), st.sampled_from([0, 1 << 30, (1 << 31) - 1])),
       s=st.integers(1, 62), zp=st.integers(-128, 127))
def test_store_epilogue_is_the_contract(acc, bias, m, s, zp):
    """STORE(channel) = requantize(acc_true); the array holds acc_true - bias mod 2^32."""
    mach = Machine(HW, np.zeros(64, np.uint8))
    mach.acc[0] = [_wrap(a - bias) for a in acc]
    mach.param[0:3] = [[bias] * D, [m] * D, [s] * D]
    mach.clamp = (zp, -128, 127)
    mach.run([make("STORE", dtype="i8", mode="channel", sram=0, dram=0, rows=1, cols=D, stride=D,
                   param=0)])
    want = arith.requantize(np.array(acc, np.int64), m, s, zp, -128, 127)
    assert np.array_equal(mach.dram[:D].view(np.int8), want)


@settings(max_examples=300, deadline=None)
@given(a=st.lists(st.integers(-32768, 32767), min_size=D, max_size=D),
       b=st.lists(st.integers(-32768, 32767), min_size=D, max_size=D),
       m0=st.integers(0, (1 << 31) - 1), m1=st.integers(-(1 << 31) + 1, (1 << 31) - 1),
       s=st.integers(1, 62), zp=st.integers(-128, 127))
def test_dyadd_then_store_matches_qcc_add(a, b, m0, m1, s, zp):
    """DYADD + identity STORE == clamp(rshift_round(a*m0 + b*m1, s) + zp) (qcc.add/sub)."""
    mach = Machine(HW, np.zeros(64, np.uint8))
    mach.acc[0], mach.acc[1] = a, b
    mach.clamp = (zp, -128, 127)
    mach.run([make("CONFIG", reg="ALU_SCALE", a=m0, b=m1, c=s),
              make("ALU", alu_op="DYADD", dst=0, src=1, rows=1, dst_inc=1, src_inc=1),
              make("STORE", dtype="i8", mode="tensor", rows=1, cols=D, stride=D)])
    acc = np.array(a, np.int64) * m0 + np.array(b, np.int64) * m1
    want = np.clip(arith.rshift_round(acc, s) + zp, -128, 127)
    assert np.array_equal(mach.dram[:D].view(np.int8), want)


def test_gemm_micro_loop_and_wraparound():
    rng = np.random.default_rng(0)
    mach = Machine(HW, np.zeros(64, np.uint8))
    rows, kb, ks = 5, 3, 7
    mach.inp[:40] = rng.integers(-128, 128, (40, D))
    mach.wgt[2:5] = rng.integers(-128, 128, (3, D, D))
    mach.acc[10:15] = (1 << 31) - 1  # accumulate onto the int32 edge: wraps like hardware
    mach.run([make("GEMM", reset=0, acc=10, inp=1, wgt=2, rows=rows, kblocks=kb, inp_kstride=ks,
                   wgt_kstride=1)])
    want = sum(mach.inp[1 + k * ks:1 + k * ks + rows].astype(np.int64) @ mach.wgt[2 + k].astype(np.int64)
               for k in range(kb)) + (1 << 31) - 1
    assert np.array_equal(mach.acc[10:15], (want + (1 << 31)) % (1 << 32) - (1 << 31))
    mach.run([make("GEMM", reset=1, acc=10, rows=rows, kblocks=0)])
    assert not mach.acc[10:15].any()


def test_load_padding_and_strides():
    dram = np.arange(64, dtype=np.uint8)
    mach = Machine(HW, dram)
    mach.run([make("LOAD", buf="INP", sram=3, dram=4, rows=3, cols=2, stride=10, pad_before=2,
                   pad_after=1, pad_val=-7)])
    got = mach.inp[3:9]
    assert (got[:2] == -7).all() and (got[5] == -7).all()
    assert got[2:5, :2].tolist() == [[4, 5], [14, 15], [24, 25]] and (got[2:5, 2:] == -7).all()


def test_bounds_are_errors():
    with pytest.raises(SimError, match="INP rows"):
        check_bounds([make("LOAD", buf="INP", sram=HW.inp_rows - 1, rows=2, cols=1)], HW, 1 << 20)
    with pytest.raises(SimError, match="DRAM bytes"):
        check_bounds([make("STORE", rows=2, cols=16, stride=16, dram=40)], HW, 64)
    with pytest.raises(SimError, match="ACC rows"):
        Machine(HW, np.zeros(8, np.uint8)).run([make("ALU", dst=HW.acc_rows, rows=1, use_imm=1)])
    with pytest.raises(SimError, match="table index"):
        m = Machine(HW, np.zeros(8, np.uint8))
        m.acc[0] = 200
        m.run([make("LUT", dst=0, src=0, rows=1, offset=128)])


def test_deadlock_and_unbalanced_tokens_are_detected():
    with pytest.raises(DeadlockError, match="deadlock"):
        simulate([make("GEMM", deps=("pop_prev",)), make("FINISH")], HW)
    with pytest.raises(DeadlockError, match="never popped"):
        simulate([make("LOAD", buf="INP", deps=("push_next",)), make("FINISH")], HW)
    with pytest.raises(DeadlockError, match="deadlock"):  # circular wait LD <-> EX
        simulate([make("LOAD", buf="INP", deps=("pop_next", "push_next")),
                  make("GEMM", deps=("pop_prev", "push_prev"))], HW)


def _double_buffered(n_tiles: int, hw: HwConfig):
    b = Builder()
    b.group("ld", writes=[("WGT", 0)]).add(make("LOAD", buf="WGT", dram=12 * 1024, rows=1, stride=D * D))
    for t in range(n_tiles):
        k = t % 2
        g = b.group("ld", writes=[("INP", k)])
        g.add(make("LOAD", buf="INP", sram=k * 32, dram=t * 1024, rows=32, cols=D, stride=D))
        g = b.group("ex", reads=[("INP", k), ("WGT", 0)], writes=[("ACC", k)])
        g.add(make("GEMM", reset=1, acc=k * 32, inp=k * 32, rows=32, kblocks=1, inp_kstride=32))
        g = b.group("st", reads=[("ACC", k)], writes=[("DRAM", t)])
        g.add(make("STORE", dtype="i32", mode="raw", sram=k * 32, dram=(16 + t) * 4096, rows=32,
                   cols=D, stride=D * 4))
    g = b.group("ex", reads=[("DRAM", t) for t in range(n_tiles)])
    g.add(make("FINISH"))
    return b.finalize()[0]


def test_double_buffering_overlaps_and_is_order_independent():
    prog = _double_buffered(6, HW)
    sched = simulate(prog, HW)
    assert sched.total < sum(sched.busy.values())  # the engines overlap
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, 16 * 4096 + 6 * 4096, dtype=np.uint8)
    outs = []
    for lat in (0, 5000):  # very different interleavings, both allowed by the tokens
        hw = HwConfig(inp_kib=4, wgt_kib=16, acc_kib=4, param_kib=1, dma_latency=lat)
        dram = image.copy()
        Machine(hw, dram).run(prog, simulate(prog, hw).order)
        outs.append(dram)
    assert np.array_equal(outs[0], outs[1])
    for ins in prog:  # without the tokens the engines race and the result is wrong
        ins.deps = ()
    dram = image.copy()
    Machine(HW, dram).run(prog, simulate(prog, HW).order)
    assert not np.array_equal(dram, outs[0])


def test_gemm_cycles_reach_full_utilisation_on_long_streams():
    hw = HwConfig()
    cyc = gemm_cycles(4000, 8, hw)
    assert 4000 * 8 <= cyc <= 1.01 * 4000 * 8
    slow = HwConfig(gemm_overlap=False)
    assert gemm_cycles(4000, 8, slow) == 8 * (2 * 16 + 16 + 4000 - 2)


def test_diagonal_weight_load():
    """A WGT LOAD with cols = c > 0 reads c bytes per block and writes them on the diagonal
    (zeros elsewhere); the checker bounds it by c bytes per block and rejects c > DIM."""
    dram = (np.arange(64) * 7 % 251).astype(np.uint8)
    mach = Machine(HW, dram)
    mach.wgt[1:4] = 99
    mach.run([make("LOAD", buf="WGT", sram=1, dram=5, rows=3, cols=D - 2, stride=20)])
    for r in range(3):
        want = np.zeros((D, D), np.int64)
        idx = np.arange(D - 2)
        want[idx, idx] = dram[5 + 20 * r:5 + 20 * r + D - 2].view(np.int8)
        assert np.array_equal(mach.wgt[1 + r], want)
    check_bounds([make("LOAD", buf="WGT", sram=0, dram=64 - D, rows=1, cols=D)], HW, 64)
    with pytest.raises(SimError, match="DRAM bytes"):
        check_bounds([make("LOAD", buf="WGT", sram=0, dram=64 - D + 1, rows=1, cols=D)], HW, 64)
    with pytest.raises(SimError, match="cols"):
        check_bounds([make("LOAD", buf="WGT", sram=0, rows=1, cols=D + 1)], HW, 1 << 20)
    with pytest.raises(SimError, match="cols"):
        Machine(HW, dram).run([make("LOAD", buf="WGT", sram=0, rows=1, cols=D + 1)])
