"""ISA v4: the outer loop of LOAD (``outer`` with CONFIG LOAD_OUTER on the LD engine) and the
stream builder's merging of LOAD runs into it.  An outer LOAD writes exactly what its copies
written one by one write; the checker bounds every copy; the timing model charges one DMA
issue for all copies; compiled streams use it and stay bit-exact (test_accel_models)."""

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
from qcc.backends.accel.timing import copies, cost, simulate

from accel_testlib import HW, G, compile_and_compare

IMG = np.random.default_rng(0).integers(0, 256, 4096).astype(np.uint8)


def _run(prog):
    m = Machine(HW, IMG.copy())
    m.run(prog)
    return m


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 6), db=st.integers(0, 200), ds=st.integers(1, 20), rows=st.integers(0, 5),
       cols=st.integers(1, HW.dim), stride=st.integers(0, 40), pb=st.integers(0, 3), pa=st.integers(0, 3),
       wgt=st.booleans())
def test_outer_load_equals_its_copies(n, db, ds, rows, cols, stride, pb, pa, wgt):
    if wgt:
        base = make("LOAD", buf="WGT", sram=1, dram=5, rows=rows, cols=cols, stride=stride)
    else:
        base = make("LOAD", buf="INP", sram=3, dram=7, rows=rows, cols=cols, stride=stride,
                    pad_before=pb, pad_after=pa, pad_val=-9)
    one_by_one = [replace(base, f=dict(base.f, sram=base["sram"] + k * ds, dram=base["dram"] + k * db))
                  for k in range(n)]
    outer = [make("CONFIG", reg="LOAD_OUTER", a=n, b=db, d=ds), replace(base, f=dict(base.f, outer=1))]
    a, b = _run(one_by_one), _run(outer)
    assert np.array_equal(a.inp, b.inp) and np.array_equal(a.wgt, b.wgt)
    hw = HwConfig()
    assert copies(outer) == [1, n]
    busy, lat = cost(outer[1], hw, n)
    assert busy - hw.dma_overhead == n * (cost(base, hw)[0] - hw.dma_overhead) and lat == hw.dma_latency


def test_merge_outer_merges_runs_at_constant_steps_only():
    runs = [make("LOAD", buf="INP", sram=8 * k, dram=100 + 2 * k, rows=8, cols=3, stride=64) for k in range(5)]
    odd = make("LOAD", buf="INP", sram=41, dram=111, rows=8, cols=3, stride=64)      # other step
    other = make("LOAD", buf="INP", sram=60, dram=200, rows=7, cols=3, stride=64)     # other rows
    waits = make("LOAD", buf="INP", sram=70, dram=300, rows=7, cols=3, stride=64, deps=("pop_prev",))
    merged = merge_outer(runs + [odd, other, waits])
    assert [i.op for i in merged] == ["CONFIG", "LOAD", "LOAD", "LOAD", "LOAD"]
    assert (merged[0]["a"], merged[0]["b"], merged[0]["d"]) == (5, 2, 8) and merged[1]["outer"] == 1
    assert merged[2:] == [odd, other, waits]
    plain = runs + [odd, other]
    assert np.array_equal(_run(plain).inp, _run(merge_outer(plain)).inp)
    assert sum(cost(i, HW, n)[0] for i, n in zip(merged, copies(merged))) < sum(cost(i, HW)[0] for i in plain + [waits])


def test_outer_needs_its_register_and_an_ld_load_and_the_checker_bounds_every_copy():
    ld = make("LOAD", buf="INP", sram=0, rows=2, cols=4, stride=4, outer=1)
    with pytest.raises(SimError, match="LOAD_OUTER"):
        _run([ld])
    acc = make("LOAD", buf="ACC", dtype="i32", rows=1, cols=4, stride=16, outer=1)
    with pytest.raises(SimError, match="LD-engine"):
        _run([make("CONFIG", reg="LOAD_OUTER", a=2, b=0, d=1), acc])
    far = HW.inp_rows // 2
    with pytest.raises(SimError, match="INP rows"):        # only the third copy is outside
        check_bounds([make("CONFIG", reg="LOAD_OUTER", a=3, b=0, d=far), ld], HW, 64)
    with pytest.raises(SimError, match="DRAM bytes"):
        check_bounds([make("CONFIG", reg="LOAD_OUTER", a=3, b=30, d=2), ld], HW, 64)
    check_bounds([make("CONFIG", reg="LOAD_OUTER", a=3, b=20, d=2), ld], HW, 64)


def test_v3_load_words_decode_unchanged_and_the_register_is_on_ld():
    ld = make("LOAD", buf="WGT", dtype="i32", sram=65535, dram=2 ** 32 - 1, rows=1023, cols=255,
              stride=2 ** 22 - 1, pad_before=255, pad_after=255, pad_val=-128)
    assert int.from_bytes(encode(ld), "little") >> 125 == 0 and decode(encode(ld))["outer"] == 0
    for ins in (replace(ld, f=dict(ld.f, outer=1)), make("CONFIG", reg="LOAD_OUTER", a=9, b=-1, d=3)):
        assert decode(encode(ins)).key() == ins.key() == parse_instr(format_instr(ins)).key()
    assert make("CONFIG", reg="LOAD_OUTER").engine == "ld" and isa.ISA_VERSION >= 4
    small = make("LOAD", buf="INP", rows=3, cols=4, stride=4, outer=1)
    s = simulate([make("CONFIG", reg="LOAD_OUTER", a=2, b=0, d=1), small], HW)
    assert s.start[1] == 1 and s.end[1] == 1 + cost(small, HW, 2)[0]   # CONFIG: 1 cycle on LD


def test_compiled_strided_conv_uses_outer_loads(tmp_path):
    g = G(4)
    x = g.input((1, 2, 11, 11))
    g.conv(x, 8, 3, strides=[2, 2], pads=[1, 1, 1, 1], x_zp=3)
    g.g.outputs.append(g.g.nodes[-1].outputs[0])
    for lat in (0, 5000):
        d = tmp_path / f"l{lat}"
        d.mkdir()
        compile_and_compare(g, d, replace(HW, dma_latency=lat))
    prog = isa.disassemble((tmp_path / "l0" / "accel" / "m.bin").read_bytes())
    assert any(i.op == "LOAD" and i["outer"] for i in prog)
