"""qcc-accel ISA v2: the ALU ops and the REDUCE instruction that integer softmax and LayerNorm
need, their simulator semantics against int64 numpy/Python formulas at the int32 edges, the
new addressing fields, version compatibility with v1 words and the documented timing costs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.backends.accel import isa
from qcc.backends.accel.funcsim import Machine, SimError
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.isa import decode, encode, make
from qcc.backends.accel.timing import cost

HW = HwConfig()
D = HW.dim
I32 = st.integers(arith.INT32_MIN, arith.INT32_MAX)
EDGES = st.sampled_from([arith.INT32_MIN, arith.INT32_MIN + 1, -1, 0, 1, arith.INT32_MAX])
VAL = st.one_of(I32, EDGES)


def _machine(rows):
    m = Machine(HW, np.zeros(64, np.uint8))
    if len(rows):
        m.acc[:len(rows)] = np.asarray(rows, np.int64)
    return m


def _sat(v: int) -> int:
    return max(arith.INT32_MIN, min(arith.INT32_MAX, v))


def _floordiv(a: int, b: int) -> int:
    return a // b   # Python ints: exact floor division


def _run_alu(op, d, o, shift=0):
    """ALU op on one row of lanes d with a register operand row o; returns row 0."""
    m = _machine([d, o])
    m.run([make("ALU", alu_op=op, dst=0, src=1, rows=1, dst_inc=1, src_inc=1, shift=shift)])
    return [int(v) for v in m.acc[0]]


def _lanes(draw, strat):
    return [draw(strat) for _ in range(D)]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_div_and_asr_are_floor(data):
    d = _lanes(data.draw, VAL)
    o = _lanes(data.draw, st.one_of(st.integers(1, arith.INT32_MAX), st.sampled_from([1, 3, 2**31 - 1])))
    assert _run_alu("DIV", d, o) == [_sat(_floordiv(a, b)) for a, b in zip(d, o)]
    s = _lanes(data.draw, st.integers(0, 62))
    assert _run_alu("ASR", d, s) == [a >> b for a, b in zip(d, s)]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mulshr_is_the_64_bit_product_rounded(data):
    d, o = _lanes(data.draw, VAL), _lanes(data.draw, VAL)
    shift = data.draw(st.integers(0, 62))
    want = [_sat(a * b if shift == 0 else (a * b + (1 << (shift - 1))) >> shift)
            for a, b in zip(d, o)]
    assert _run_alu("MULSHR", d, o, shift) == want


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_rdiv_bitlen_isqrt_abs(data):
    d = _lanes(data.draw, VAL)
    o = _lanes(data.draw, VAL)
    shift = data.draw(st.sampled_from([0, 1, 31, 40, 62]))
    want = [_sat(((1 << shift) + b) // a) if a > 0 else 0 for a, b in zip(d, o)]
    assert _run_alu("RDIV", d, o, shift) == want
    assert _run_alu("BITLEN", d, o) == [abs(a).bit_length() for a in d]
    assert _run_alu("ABS", d, o) == [_sat(abs(a)) for a in d]
    nonneg = [abs(a) if a != arith.INT32_MIN else 0 for a in d]
    assert _run_alu("ISQRT", nonneg, o) == [math.isqrt(a) for a in nonneg]


def test_bad_operands_are_errors():
    with pytest.raises(SimError, match="divisor"):
        _run_alu("DIV", [5] * D, [0] * D)
    with pytest.raises(SimError, match="negative"):
        _run_alu("ISQRT", [-1] * D, [0] * D)
    with pytest.raises(SimError, match="shift"):
        _run_alu("ASR", [5] * D, [63] * D)
    with pytest.raises(SimError, match="shift field"):
        _run_alu("MULSHR", [5] * D, [1] * D, shift=63)


def test_src_div_and_src_mod_address_groups():
    """Row i reads src + i // div (a statistic per group) or src + i % div (a parameter per
    member)."""
    m = _machine([[10 * r] * D for r in range(6)] + [[1000 + r] * D for r in range(3)])
    m.run([make("ALU", alu_op="ADD", dst=0, src=6, rows=6, dst_inc=1, src_inc=1, src_div=2)])
    assert [int(m.acc[r, 0]) for r in range(6)] == [10 * r + 1000 + r // 2 for r in range(6)]
    m = _machine([[10 * r] * D for r in range(6)] + [[1000 + r] * D for r in range(3)])
    m.run([make("ALU", alu_op="ADD", dst=0, src=6, rows=6, dst_inc=1, src_inc=1, src_div=3,
                src_mod=1)])
    assert [int(m.acc[r, 0]) for r in range(6)] == [10 * r + 1000 + r % 3 for r in range(6)]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_reduce_over_planes_and_contiguous_groups(data):
    groups = data.draw(st.integers(1, 4))
    members = data.draw(st.integers(1, 3))
    lanes = data.draw(st.integers(1, D))
    vals = np.array([[data.draw(VAL) for _ in range(D)] for _ in range(groups * members)], np.int64)
    for op, fn in (("SUM", np.sum), ("MAX", np.max), ("MIN", np.min)):
        for planes in (True, False):
            m = _machine(vals)
            gstride, mstride = (1, groups) if planes else (members, 1)
            dst = groups * members
            m.run([make("REDUCE", red_op=op, dst=dst, src=0, rows=groups, gstride=gstride,
                        members=members, mstride=mstride, lanes=lanes % D)])
            for g in range(groups):
                rows = [g * gstride + b * mstride for b in range(members)]
                flat = np.concatenate([vals[r] for r in rows[:-1]] + [vals[rows[-1], :lanes]])
                want = _sat(int(fn(flat)))
                assert (m.acc[dst + g] == want).all(), (op, planes, g)


def test_reduce_may_overwrite_its_source():
    m = _machine([[1] * D, [2] * D])
    m.run([make("REDUCE", red_op="SUM", dst=0, src=0, rows=1, gstride=1, members=2, mstride=1)])
    assert (m.acc[0] == 3 * D).all()


def test_v1_words_decode_unchanged_and_version_is_checked():
    """The v2 fields sit above v1's last ALU bit: a v1 ALU word (new fields zero) decodes to
    the v1 behaviour; a stream needing a newer ISA is refused."""
    v1_word = encode(make("ALU", alu_op="DYADD", dst=3, src=4, rows=5, dst_inc=1, src_inc=1,
                          imm=-7))
    assert int.from_bytes(v1_word, "little") >> 91 == 0
    ins = decode(v1_word)
    assert (ins["shift"], ins["src_div"], ins["src_mod"]) == (0, 0, 0)
    m = _machine([])
    m.run([make("CONFIG", reg="VERSION", a=isa.ISA_VERSION)])
    with pytest.raises(SimError, match="ISA version"):
        m.run([make("CONFIG", reg="VERSION", a=isa.ISA_VERSION + 1)])
    assert make("CONFIG", reg="VERSION").engine == "ex"
    assert make("REDUCE").engine == "ex"


def test_timing_costs_are_the_documented_ones():
    hw = HwConfig()
    assert cost(make("ALU", alu_op="DIV", rows=8), hw) == (hw.div_ii * 8 + 1, 0)
    assert cost(make("ALU", alu_op="ISQRT", rows=3), hw) == (hw.div_ii * 3 + 1, 0)
    assert cost(make("ALU", alu_op="MULSHR", rows=8), hw) == (hw.alu_ii * 8 + 1, 0)
    assert cost(make("REDUCE", rows=4, members=3), hw) == (hw.alu_ii * 12 + 4 + 1, 0)


def test_compiled_streams_start_with_their_version(tmp_path):
    from accel_testlib import G, compile_and_compare  # noqa: PLC0415 (the accel tests' helpers)

    g = G()
    x = g.input((1, 4, 8))
    g.op("qcc.requant", [x, *g.mult(1, 0.5)], {"x_zp": 3}, output=True)
    compile_and_compare(g, tmp_path, samples=1)
    first = isa.disassemble((tmp_path / "accel" / "m.bin").read_bytes())[0]
    assert (first.op, first["reg"], first["a"]) == ("CONFIG", "VERSION", isa.ISA_VERSION)
