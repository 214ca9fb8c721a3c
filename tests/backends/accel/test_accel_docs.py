"""docs/target_accel.md states the encoding that isa.LAYOUT implements (one row per opcode)."""

from __future__ import annotations

from pathlib import Path

from qcc.backends.accel.isa import ISA_VERSION, LAYOUT, OPCODES

DOC = Path(__file__).resolve().parents[3] / "docs" / "target_accel.md"


def test_encoding_table_matches_the_code():
    text = DOC.read_text()
    assert f"ISA version {ISA_VERSION}" in text
    for op, fields in LAYOUT.items():
        pos, cells = 8, []
        for name, bits, signed in fields:
            cells.append(f"`{name}` {pos}-{pos + bits - 1}{' s' if signed else ''}")
            pos += bits
        row = f"| {op} | {OPCODES[op]} | {', '.join(cells) or '—'} | {pos} |"
        assert row in text, f"docs/target_accel.md lacks or misstates: {row}"
