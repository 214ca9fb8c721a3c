"""ISA v7: the outer loop of STORE (``outer`` with CONFIG STORE_OUTER on the ST engine) and the
stream builder's merging of STORE runs into it.  An outer STORE writes exactly what its copies
written one by one write, to DRAM or (v5 ``inp``) into the input buffer; the checker bounds
every copy; the timing model charges one issue for all copies; compiled streams use it and
stay bit-exact."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.accel import isa
from qcc.backends.accel.check import check_bounds
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import decode, encode, format_instr, make, parse_instr
from qcc.backends.accel.stream import merge_outer
from qcc.backends.accel.timing import copies, cost, dma_bytes, simulate

from accel_testlib import HW, G, compile_and_compare

D = HW.dim


def _machine():
    m = Machine(HW, np.zeros(4096, np.uint8))
    rng = np.random.default_rng(3)
    m.acc[:64] = rng.integers(-2 ** 20, 2 ** 20, (64, D))
    m.param[0] = rng.integers(-1000, 1000, D)          # bias
    m.param[1] = rng.integers(1 << 29, 1 << 30, D)     # multiplier
    m.param[2] = rng.integers(12, 20, D)               # shift
    m.clamp = (-3, -128, 127)
    return m


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), db=st.integers(0, 60), ds=st.integers(0, 8), rows=st.integers(0, 5),
       cols=st.integers(1, D), stride=st.integers(0, 9), inp=st.booleans(),
       dt=st.sampled_from(["i8", "i16", "i32"]))
def test_outer_store_equals_its_copies(n, db, ds, rows, cols, stride, inp, dt):
    base = make("STORE", dtype="i8" if inp else dt, mode="channel", sram=2, dram=5, rows=rows,
                cols=cols, stride=stride, param=0, inp=int(inp))
    one_by_one = [replace(base, f=dict(base.f, sram=base["sram"] + k * ds, dram=base["dram"] + k * db))
                  for k in range(n)]
    outer = [make("CONFIG", reg="STORE_OUTER", a=n, b=db, d=ds), replace(base, f=dict(base.f, outer=1))]
    a, b = _machine(), _machine()
    a.run(one_by_one)
    b.run(outer)
    assert np.array_equal(a.dram, b.dram) and np.array_equal(a.inp, b.inp)
    hw = HwConfig()
    assert copies(outer) == [1, n]
    busy, lat = cost(outer[1], hw, n)
    assert busy - hw.dma_overhead == n * (cost(base, hw)[0] - hw.dma_overhead)
    assert lat == (hw.sram_latency if inp else hw.dma_latency)
    assert dma_bytes(outer[1], hw) * n == sum(dma_bytes(i, hw) for i in one_by_one)


def test_merge_outer_merges_store_runs_at_constant_steps_only():
    kw = dict(dtype="i8", mode="channel", rows=2, cols=D, stride=9, param=0, inp=1)
    runs = [make("STORE", sram=2 * k, dram=100 + k, **kw) for k in range(5)]
    odd = make("STORE", sram=11, dram=106, **kw)                               # other step
    other = make("STORE", sram=20, dram=200, **dict(kw, rows=1))                # other rows
    waits = make("STORE", sram=30, dram=300, deps=("push_prev",), **kw)
    merged = merge_outer(runs + [odd, other, waits], "STORE")
    assert [i.op for i in merged] == ["CONFIG", "STORE", "STORE", "STORE", "STORE"]
    assert merged[0]["reg"] == "STORE_OUTER" and merged[0].engine == "st"
    assert (merged[0]["a"], merged[0]["b"], merged[0]["d"]) == (5, 1, 2) and merged[1]["outer"] == 1
    assert merged[2:] == [odd, other, waits]
    plain = runs + [odd, other]
    a, b = _machine(), _machine()
    a.run(plain)
    b.run(merge_outer(plain, "STORE"))
    assert np.array_equal(a.inp, b.inp)
    assert sum(cost(i, HW, n)[0] for i, n in zip(merged, copies(merged))) \
        < sum(cost(i, HW)[0] for i in plain + [waits])
    loads = [make("LOAD", buf="INP", sram=8 * k, dram=2 * k, rows=8, cols=3, stride=64) for k in range(3)]
    assert merge_outer(loads, "STORE") == loads                  # only STOREs
    assert merge_outer(runs) == runs                             # and LOADs with the default


def test_outer_store_needs_its_register_and_the_checker_bounds_every_copy():
    st_ = make("STORE", dtype="i8", mode="tensor", sram=0, dram=0, rows=2, cols=4, stride=4, outer=1)
    with pytest.raises(SimError, match="STORE_OUTER"):
        _machine().run([st_])
    with pytest.raises(SimError, match="STORE_OUTER"):
        check_bounds([make("CONFIG", reg="STORE_OUTER", a=2, b=-1, d=0), st_], HW, 64)
    with pytest.raises(SimError, match="DRAM bytes"):            # only the third copy is outside
        check_bounds([make("CONFIG", reg="STORE_OUTER", a=3, b=30, d=2), st_], HW, 64)
    with pytest.raises(SimError, match="ACC rows"):
        check_bounds([make("CONFIG", reg="STORE_OUTER", a=3, b=0, d=HW.acc_rows // 2), st_], HW, 64)
    check_bounds([make("CONFIG", reg="STORE_OUTER", a=3, b=20, d=2), st_], HW, 64)
    on_chip = replace(st_, f=dict(st_.f, inp=1, dram=HW.inp_rows - 8))
    with pytest.raises(SimError, match="INP rows"):
        check_bounds([make("CONFIG", reg="STORE_OUTER", a=3, b=4, d=0), on_chip], HW, 64)
    check_bounds([make("CONFIG", reg="STORE_OUTER", a=2, b=2, d=0), on_chip], HW, 64)


def test_v6_store_words_decode_unchanged_and_the_register_is_on_st():
    v6 = make("STORE", dtype="i32", mode="raw", sram=65535, dram=2 ** 32 - 1, rows=1023, cols=255,
              stride=2 ** 22 - 1, param=4095, inp=1, lut=1, table=63)
    assert int.from_bytes(encode(v6), "little") >> 128 - 8 == 0 and decode(encode(v6))["outer"] == 0
    for ins in (replace(v6, f=dict(v6.f, outer=1)), make("CONFIG", reg="STORE_OUTER", a=9, b=-1, d=3)):
        assert decode(encode(ins)).key() == ins.key() == parse_instr(format_instr(ins)).key()
    assert make("CONFIG", reg="STORE_OUTER").engine == "st" and isa.ISA_VERSION >= 7
    small = make("STORE", dtype="i8", rows=3, cols=4, stride=4, outer=1)
    s = simulate([make("CONFIG", reg="STORE_OUTER", a=2, b=12, d=3), small], HW)
    assert s.start[1] == 1 and s.end[1] == 1 + cost(small, HW, 2)[0]   # CONFIG: 1 cycle on ST


def test_compiled_stem_uses_outer_stores(tmp_path):
    """A few-channel stem (one STORE per output column) and a 1x1 conv into a window region
    (one STORE per output row) store through outer STOREs, bit-exact with the reference."""
    g = G(6)
    x = g.input((1, 1, 8, 8))
    a = g.conv(x, D, 3, pads=[1, 1, 1, 1])
    b = g.conv(a, D, 1)
    g.g.outputs.append(g.conv(b, D, 3, pads=[1, 1, 1, 1]))
    compile_and_compare(g, tmp_path)
    prog = isa.disassemble((tmp_path / "accel" / "m.bin").read_bytes())
    assert any(i.op == "STORE" and i["outer"] for i in prog)
    assert any(i.op == "CONFIG" and i["reg"] == "STORE_OUTER" for i in prog)
