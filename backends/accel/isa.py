"""qcc-accel ISA version 10: instruction fields, binary encoding and text form.

Every instruction is one 128-bit little-endian word.  Bits 0-3 hold the opcode,
bits 4-7 the dependency flags (pop_prev, pop_next, push_prev, push_next); the
opcode's fields follow LSB-first in the order of ``LAYOUT`` (docs/target_accel.md
§2 is the normative table, generated from ``LAYOUT``).  Signed fields are two's
complement.  ``encode``/``decode`` convert between ``Instr`` and bytes;
``format_instr``/``parse_instr`` between ``Instr`` and one line of assembly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcc.errors import QccError

ISA_VERSION = 10
WORD_BYTES = 16
DEPS = ("pop_prev", "pop_next", "push_prev", "push_next")

OPCODES = {"LOAD": 0, "STORE": 1, "GEMM": 2, "ALU": 3, "LUT": 4, "CONFIG": 5, "FINISH": 6,
           "REDUCE": 7, "LOADX": 8}
MNEMONIC = {v: k for k, v in OPCODES.items()}

BUFS = ("INP", "WGT", "ACC", "PARAM", "LUT")
DTYPES = ("i8", "u8", "i16", "i32")
DTYPE_BYTES = {"i8": 1, "u8": 1, "i16": 2, "i32": 4}
STORE_MODES = ("tensor", "channel", "raw")
ALU_OPS = ("ADD", "MUL", "MIN", "MAX", "SHR", "SHL", "MOV", "DYADD",
           # v2: integer division, reciprocal, 64-bit multiply-shift, floor shift, unary ops
           "DIV", "RDIV", "MULSHR", "ASR", "BITLEN", "ISQRT", "ABS")
UNARY_ALU_OPS = ("BITLEN", "ISQRT", "ABS")
ITERATIVE_ALU_OPS = ("DIV", "RDIV", "ISQRT")   # cost hw.div_ii cycles per row
CONFIG_REGS = ("CLAMP", "SCALE", "ALU_SCALE", "VERSION", "GATHER",
               # v3: the two-level input address generator of GEMM ``loop2d``
               "GEMM_ROWS", "GEMM_TAPS",
               # v4: the outer loop of LOAD ``outer`` (LD engine)
               "LOAD_OUTER",
               # v7: the outer loop of STORE ``outer`` (ST engine)
               "STORE_OUTER",
               # v8: the residual add of STORE ``radd`` (ST engine)
               "RADD", "RADD_ZP", "RADD_CLAMP",
               # v9: the im2col row builder of LOAD ``im2col`` (LD engine)
               "IM2COL")
EX_CONFIG_REGS = ("ALU_SCALE", "VERSION", "GATHER", "GEMM_ROWS", "GEMM_TAPS")
REDUCE_OPS = ("SUM", "MAX", "MIN")

# (name, bits, signed); enum fields are stored as their index
LAYOUT: dict[str, list[tuple[str, int, bool]]] = {
    "LOAD": [("buf", 3, False), ("dtype", 2, False), ("sram", 16, False), ("dram", 32, False),
             ("rows", 10, False), ("cols", 8, False), ("stride", 22, False),
             ("pad_before", 8, False), ("pad_after", 8, False), ("pad_val", 8, True),
             # v4: repeated by the CONFIG LOAD_OUTER loop
             ("outer", 1, False),
             # v6: a WGT load of partial blocks: the first ``cols`` K-rows of each block
             ("part", 1, False),
             # v9: build each buffer row from CONFIG IM2COL pieces (an im2col gather)
             ("im2col", 1, False)],
    "STORE": [("dtype", 2, False), ("mode", 2, False), ("sram", 16, False), ("dram", 32, False),
              ("rows", 10, False), ("cols", 8, False), ("stride", 22, False),
              ("param", 12, False),
              # v5: write the requantized rows into the input buffer (on-chip residency):
              # ``dram`` is then the first INP row and ``stride`` the INP row step
              ("inp", 1, False),
              # v5: then map each value through LUT table ``table`` (an activation fused
              # into the epilogue): y = T[y + 128]
              ("lut", 1, False), ("table", 6, False),
              # v7: repeated by the CONFIG STORE_OUTER loop
              ("outer", 1, False),
              # v8: then add an int8 operand from the input buffer (a residual add fused
              # into the epilogue; CONFIG RADD / RADD_ZP / RADD_CLAMP)
              ("radd", 1, False),
              # v10: the radd operand is int16, each value two int8 lanes (low byte first)
              # of the operand rows: channels < DIM/2 from base + row, the others from
              # base + CONFIG RADD_ZP d + row
              ("rwide", 1, False)],
    "GEMM": [("reset", 1, False), ("acc", 16, False), ("inp", 16, False), ("wgt", 16, False),
             ("rows", 12, False), ("kblocks", 12, False), ("inp_kstride", 16, False),
             ("wgt_kstride", 10, False),
             # v3: input rows through the GEMM_ROWS / GEMM_TAPS address generator
             ("loop2d", 1, False)],
    "ALU": [("alu_op", 4, False), ("use_imm", 1, False), ("dst", 16, False), ("src", 16, False),
            ("rows", 12, False), ("dst_inc", 1, False), ("src_inc", 1, False), ("imm", 32, True),
            # v2 (zero in every v1 word, so v1 streams decode unchanged)
            ("shift", 6, False), ("src_div", 12, False), ("src_mod", 1, False)],
    "LUT": [("dst", 16, False), ("src", 16, False), ("rows", 12, False), ("table", 12, False),
            ("offset", 16, True)],
    "CONFIG": [("reg", 4, False), ("a", 32, True), ("b", 32, True), ("c", 8, False),
               ("d", 32, True)],
    "FINISH": [],
    # v2: a reduction across the lanes of a group of accumulator rows
    "REDUCE": [("red_op", 2, False), ("dst", 16, False), ("src", 16, False), ("rows", 12, False),
               ("gstride", 12, False), ("members", 8, False), ("mstride", 12, False),
               ("lanes", 8, False)],
    # v2: an indexed (gather) load into the accumulator, the row address from a loaded index
    "LOADX": [("dtype", 2, False), ("dst", 16, False), ("idx", 16, False), ("rows", 10, False),
              ("dram", 32, False), ("stride", 22, False), ("cols", 8, False), ("wide", 1, False)],
}
ENUMS = {"buf": BUFS, "dtype": DTYPES, "mode": STORE_MODES, "alu_op": ALU_OPS, "reg": CONFIG_REGS,
         "red_op": REDUCE_OPS}

for _op, _fs in LAYOUT.items():  # every layout fits the 120 bits after the header
    assert sum(b for _, b, _ in _fs) <= 120, _op


class IsaError(QccError):
    """An instruction field is out of range or a word/line does not decode."""


@dataclass
class Instr:
    op: str
    f: dict = field(default_factory=dict)   # field name -> int or enum string
    deps: tuple = ()                        # subset of DEPS
    note: str = ""                          # comment for the disassembly (not encoded)

    def __getitem__(self, k):
        return self.f[k]

    def dep(self, name: str) -> bool:
        return name in self.deps

    @property
    def engine(self) -> str:
        """'ld', 'ex' or 'st': the engine whose queue runs this instruction."""
        if self.op == "LOAD":
            return "ld" if self.f["buf"] in ("INP", "WGT") else "ex"
        if self.op == "STORE":
            return "st"
        if self.op == "CONFIG":
            if self.f["reg"] in ("LOAD_OUTER", "IM2COL"):
                return "ld"
            return "ex" if self.f["reg"] in EX_CONFIG_REGS else "st"
        return "ex"

    def key(self):
        return (self.op, tuple(sorted(self.f.items())), tuple(d for d in DEPS if d in self.deps))


def make(op: str, deps=(), note: str = "", **fields) -> Instr:
    """An ``Instr`` with every field of ``op`` (missing ones default to 0 / the first enum)."""
    if op not in LAYOUT:
        raise IsaError(f"unknown opcode '{op}'")
    f = {}
    for name, _, _ in LAYOUT[op]:
        v = fields.pop(name, None)
        if v is None:
            v = ENUMS[name][0] if name in ENUMS else 0
        f[name] = v
    if fields:
        raise IsaError(f"{op} has no field(s) {sorted(fields)}")
    bad = [d for d in deps if d not in DEPS]
    if bad:
        raise IsaError(f"unknown dependency flag(s) {bad}")
    return Instr(op, f, tuple(d for d in DEPS if d in deps), note)


def _field_int(op: str, name: str, bits: int, signed: bool, v) -> int:
    if name in ENUMS:
        if v not in ENUMS[name]:
            raise IsaError(f"{op}.{name}: '{v}' not in {ENUMS[name]}")
        v = ENUMS[name].index(v)
    if isinstance(v, bool) or not isinstance(v, int):
        v = int(v)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not lo <= v <= hi:
        raise IsaError(f"{op}.{name}={v} does not fit {bits} {'signed ' if signed else ''}bits "
                       f"[{lo}, {hi}]")
    return v & ((1 << bits) - 1)


def encode(ins: Instr) -> bytes:
    word = OPCODES[ins.op]
    for i, d in enumerate(DEPS):
        if d in ins.deps:
            word |= 1 << (4 + i)
    pos = 8
    for name, bits, signed in LAYOUT[ins.op]:
        word |= _field_int(ins.op, name, bits, signed, ins.f[name]) << pos
        pos += bits
    return word.to_bytes(WORD_BYTES, "little")


def decode(b: bytes) -> Instr:
    if len(b) != WORD_BYTES:
        raise IsaError(f"instruction word must be {WORD_BYTES} bytes, got {len(b)}")
    word = int.from_bytes(b, "little")
    code = word & 0xF
    if code not in MNEMONIC:
        raise IsaError(f"unknown opcode {code} in word {b.hex()}")
    op = MNEMONIC[code]
    deps = tuple(d for i, d in enumerate(DEPS) if word >> (4 + i) & 1)
    pos, f = 8, {}
    for name, bits, signed in LAYOUT[op]:
        v = (word >> pos) & ((1 << bits) - 1)
        if signed and v >> (bits - 1):
            v -= 1 << bits
        if name in ENUMS:
            if v >= len(ENUMS[name]):
                raise IsaError(f"{op}.{name}: enum index {v} out of range in word {b.hex()}")
            v = ENUMS[name][v]
        f[name] = v
        pos += bits
    if word >> pos:
        raise IsaError(f"{op}: reserved bits set in word {b.hex()}")
    return Instr(op, f, deps)


def assemble(prog: list[Instr]) -> bytes:
    return b"".join(encode(i) for i in prog)


def disassemble(blob: bytes) -> list[Instr]:
    if len(blob) % WORD_BYTES:
        raise IsaError(f"instruction stream of {len(blob)} bytes is not a multiple of {WORD_BYTES}")
    return [decode(blob[i:i + WORD_BYTES]) for i in range(0, len(blob), WORD_BYTES)]


# -- text form -------------------------------------------------------------------------------
def format_instr(ins: Instr) -> str:
    parts = [f"{ins.op:<6s}"]
    for name, _, _ in LAYOUT[ins.op]:
        v = ins.f[name]
        parts.append(f"{name}={v:#x}" if name == "dram" else f"{name}={v}")
    if ins.deps:
        parts.append("deps=" + ",".join(ins.deps))
    line = " ".join(parts)
    return f"{line:<100s} ; {ins.note}" if ins.note else line


def parse_instr(line: str) -> Instr:
    text, _, note = line.partition(";")
    toks = text.split()
    if not toks:
        raise IsaError("empty instruction line")
    op = toks[0].upper()
    if op not in LAYOUT:
        raise IsaError(f"unknown mnemonic '{toks[0]}' in line: {line.strip()}")
    kinds = {n: n in ENUMS for n, _, _ in LAYOUT[op]}
    f, deps = {}, ()
    for t in toks[1:]:
        k, eq, v = t.partition("=")
        if not eq:
            raise IsaError(f"expected key=value, got '{t}' in line: {line.strip()}")
        if k == "deps":
            deps = tuple(x for x in v.split(",") if x)
            continue
        if k not in kinds:
            raise IsaError(f"{op} has no field '{k}'")
        try:
            f[k] = v if kinds[k] else int(v, 0)
        except ValueError:
            raise IsaError(f"{op}.{k}: '{v}' is not an integer") from None
    ins = make(op, deps=deps, note=note.strip(), **f)
    encode(ins)  # range check
    return ins


def parse_program(text: str) -> list[Instr]:
    out = []
    for ln in text.splitlines():
        s = ln.strip()
        if s and not s.startswith(";") and not s.startswith("#"):
            out.append(parse_instr(s))
    return out
