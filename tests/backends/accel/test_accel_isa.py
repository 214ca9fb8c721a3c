"""qcc-accel ISA (v1 fields and the v2 additions): every field of every opcode round-trips through the binary encoding and
the assembly text, at its limits too; values outside a field and malformed words are errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.backends.accel import isa
from qcc.backends.accel.isa import (DEPS, ENUMS, LAYOUT, IsaError, assemble, decode, disassemble,
                                    encode, format_instr, make, parse_instr, parse_program)


def _field(name, bits, signed):
    if name in ENUMS:
        return st.sampled_from(ENUMS[name])
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi]))


@st.composite
def instrs(draw):
    op = draw(st.sampled_from(sorted(LAYOUT)))
    f = {n: draw(_field(n, b, s)) for n, b, s in LAYOUT[op]}
    deps = tuple(d for d in DEPS if draw(st.booleans()))
    return make(op, deps=deps, **f)


@settings(max_examples=400, deadline=None)
@given(instrs())
def test_binary_and_text_round_trip(ins):
    word = encode(ins)
    assert len(word) == isa.WORD_BYTES
    assert decode(word).key() == ins.key()
    assert parse_instr(format_instr(ins)).key() == ins.key()


@settings(max_examples=50, deadline=None)
@given(st.lists(instrs(), min_size=1, max_size=20))
def test_program_round_trip(prog):
    blob = assemble(prog)
    assert [i.key() for i in disassemble(blob)] == [i.key() for i in prog]
    text = "\n".join(format_instr(i) for i in prog)
    assert [i.key() for i in parse_program(text)] == [i.key() for i in prog]


@pytest.mark.parametrize("op", sorted(LAYOUT))
def test_every_field_at_and_beyond_its_limits(op):
    for name, bits, signed in LAYOUT[op]:
        if name in ENUMS:
            for v in ENUMS[name]:
                assert decode(encode(make(op, **{name: v}))).f[name] == v
            with pytest.raises(IsaError, match=name):
                encode(make(op, **{name: "bogus"}))
            continue
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        for v in (lo, hi):
            assert decode(encode(make(op, **{name: v}))).f[name] == v
        for v in (lo - 1, hi + 1):
            with pytest.raises(IsaError, match=f"{op}.{name}"):
                encode(make(op, **{name: v}))


def test_fields_are_disjoint_bits():
    """Setting one field to all ones sets no bit of any other field."""
    for op, fields in LAYOUT.items():
        pos = 8
        for name, bits, signed in fields:
            v = -1 if signed else (1 << bits) - 1
            if name in ENUMS:
                v = ENUMS[name][-1]
            word = int.from_bytes(encode(make(op, **{name: v})), "little")
            expect_mask = ((1 << bits) - 1) << pos
            assert word & ~0xF == word & expect_mask, (op, name)
            pos += bits


def test_bad_words_and_lines():
    with pytest.raises(IsaError, match="opcode"):
        decode(bytes([15]) + bytes(15))
    with pytest.raises(IsaError, match="reserved"):
        decode(bytes([6]) + bytes(14) + bytes([0x80]))  # FINISH with a high bit set
    with pytest.raises(IsaError, match="multiple"):
        disassemble(bytes(17))
    with pytest.raises(IsaError, match="mnemonic"):
        parse_instr("JUMP x=1")
    with pytest.raises(IsaError, match="no field"):
        parse_instr("GEMM nope=3")
    with pytest.raises(IsaError, match="integer"):
        parse_instr("GEMM rows=abc")
    with pytest.raises(IsaError, match="dependency"):
        make("GEMM", deps=("pop_sideways",))


def test_engines():
    assert make("LOAD", buf="INP").engine == "ld"
    assert make("LOAD", buf="WGT").engine == "ld"
    assert make("LOAD", buf="ACC").engine == "ex"
    assert make("STORE").engine == "st"
    assert make("CONFIG", reg="CLAMP").engine == "st"
    assert make("CONFIG", reg="ALU_SCALE").engine == "ex"
    assert make("GEMM").engine == "ex"
