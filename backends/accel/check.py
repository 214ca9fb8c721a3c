"""The stream checker run on every compiled program.

* Bounds: no address in the stream depends on data, so computing every
  instruction's buffer-row and DRAM-byte ranges from its fields proves all
  accesses in bounds (LUT indices: the input dtype's range plus the offset).
* Deadlock freedom, proved statically (``check_tokens``): executed one instruction at
  a time in program order, every pop finds a token and no FIFO ever holds more than
  ``fifo_depth``; then no timing can deadlock the engines (the first unexecuted
  instruction in program order can always issue), and every token is popped.  The
  timing model then executes each segment; it too raises ``DeadlockError`` if the
  tokens can never all be satisfied, or if a token is left unpopped.
* Every segment ends in FINISH and every instruction encodes (field ranges).
* Race freedom (``races.check_races``): every two conflicting accesses (buffer rows, arena
  bytes) from different engines are ordered by program order and the tokens, for every
  timing (vector clocks over the engines; docs/target_accel.md §9).
"""

from __future__ import annotations

from .geometry import (SimError, gemm_input_offsets, im2col_rows, lane_error, load_copies,
                       store_copies)
from .hw import HwConfig
from .isa import DTYPE_BYTES, UNARY_ALU_OPS, Instr, encode
from .timing import FIFOS, DeadlockError, load_row_bytes, simulate, token_fifos


def _sizes(hw: HwConfig) -> dict:
    return {"INP": hw.inp_rows, "WGT": hw.wgt_blocks, "ACC": hw.acc_rows, "PARAM": hw.param_rows,
            "LUT": hw.lut_rows}


def _rng(sizes, buf, lo, n, i, ins):
    if n <= 0:
        return
    if lo < 0 or lo + n > sizes[buf]:
        raise SimError(f"instruction {i} ({ins.op}): {buf} rows [{lo}, {lo + n}) outside "
                       f"[0, {sizes[buf]})")


def _dram(image_size, addr, rows, stride, nbytes, i, ins):
    if rows == 0 or nbytes == 0:
        return
    end = addr + (rows - 1) * stride + nbytes
    if addr < 0 or end > image_size:
        raise SimError(f"instruction {i} ({ins.op}): DRAM bytes [{addr}, {end}) outside the "
                       f"{image_size}-byte image")


def _store_bounds(sz, hw: HwConfig, image_size: int, outer: tuple, i: int, ins,
                  radd_base: int = -1, hoff: int = 0) -> None:
    """A STORE's accumulator rows and destination (the first and last copy of a v7 outer
    STORE bound every copy: the strides are not negative)."""
    copies = store_copies(ins.f, outer, f"instruction {i} (STORE)")
    for sram, dram in {copies[0], copies[-1]}:
        _store_one_bounds(sz, hw, image_size, i, Instr(ins.op, dict(ins.f, sram=sram, dram=dram)),
                          radd_base, hoff)


def _store_one_bounds(sz, hw: HwConfig, image_size: int, i: int, ins, radd_base: int,
                      hoff: int = 0) -> None:
    f = ins.f
    _rng(sz, "ACC", f["sram"], f["rows"], i, ins)
    if f["rwide"] and not f["radd"]:
        raise SimError(f"instruction {i} (STORE): rwide (v10) without radd")
    if f["radd"] and f["rows"]:  # v8: the operand rows base + sram .. (CONFIG RADD d)
        if radd_base < 0:
            raise SimError(f"instruction {i} (STORE): radd before CONFIG RADD set an offset >= 0")
        _rng(sz, "INP", radd_base + f["sram"], f["rows"], i, ins)
        if f["rwide"] and (hoff < 0 or hw.dim % 2):
            raise SimError(f"instruction {i} (STORE): rwide needs an even DIM and CONFIG "
                           f"RADD_ZP d >= 0")
        if f["rwide"] and f["cols"] > hw.dim // 2:   # v10: the upper channels' rows
            _rng(sz, "INP", radd_base + hoff + f["sram"], f["rows"], i, ins)
    if f["mode"] != "tensor" and f["rows"]:
        _rng(sz, "PARAM", f["param"], 3 if f["mode"] == "channel" else 1, i, ins)
    if f["lut"] and f["rows"]:  # v5: the epilogue's table
        _rng(sz, "LUT", f["table"] * hw.lut_rows_per_table, hw.lut_rows_per_table, i, ins)
    if not f["inp"]:
        _dram(image_size, f["dram"], f["rows"], f["stride"], f["cols"] * DTYPE_BYTES[f["dtype"]],
              i, ins)
        return
    # v5: INP rows dram, dram + stride, ..., int8 only
    if f["dtype"] != "i8":
        raise SimError(f"instruction {i} (STORE): a STORE into the input buffer writes int8, "
                       f"not {f['dtype']}")
    if f["cols"] > hw.dim:
        raise SimError(f"instruction {i} (STORE): cols {f['cols']} > {hw.dim}")
    if f["rows"]:
        _rng(sz, "INP", f["dram"], (f["rows"] - 1) * f["stride"] + 1, i, ins)


def _load_bounds(sz, d: int, image_size: int, outer: tuple, i: int, ins,
                 im2col: tuple = (0, 0, 0, 0)) -> None:
    """A LOAD's buffer rows and DRAM bytes (the first and last copy of an outer LOAD bound
    every copy: the strides are not negative), its lanes and its v6 fields."""
    f = ins.f
    copies = load_copies(f, outer, f"instruction {i} (LOAD)")
    n = f["pad_before"] + f["rows"] + f["pad_after"]
    if f["im2col"]:  # v9: the rows built from CONFIG IM2COL pieces
        n = im2col_rows(f, im2col, d, f"instruction {i} (LOAD)")
        lane = outer[3] if f["outer"] else 0
        if f["dtype"] != "i8" or f["part"] or lane + f["cols"] > im2col[2]:
            raise SimError(f"instruction {i} (LOAD): an im2col LOAD needs int8, part=0 and "
                           f"{lane} + cols <= pw = {im2col[2]}")
    if f["cols"] > d and not f["im2col"]:   # v10: an im2col piece may be wider than a row
        raise SimError(f"instruction {i} (LOAD): cols {f['cols']} > {d}")
    if f["outer"] and not f["im2col"]:   # v6: the data from lane LOAD_OUTER c (im2col: in a piece)
        lane_error(f["buf"], outer[3], f["cols"], d, f"instruction {i} (LOAD)")
    if f["part"] and (f["buf"] != "WGT" or not f["cols"]):  # v6
        raise SimError(f"instruction {i} (LOAD): part=1 needs a WGT load of cols >= 1 K-rows")
    rb = load_row_bytes(f, d)
    for sram, dram in {copies[0], copies[-1]}:
        _rng(sz, f["buf"], sram, n, i, ins)
        _dram(image_size, dram, f["rows"], f["stride"], rb, i, ins)


# CONFIG registers whose fields later instructions read (in their engine's program order):
# register -> (fields kept, value before any CONFIG); one field is kept as a scalar
_CONFIG_REGS = {
    "GATHER": ("a", 0),                       # v2: a LOADX reads table rows [0, a)
    "GEMM_ROWS": ("abc", (0, 0, 0)),          # v3 (EX engine)
    "GEMM_TAPS": ("ab", (0, 0)),              # v3 (EX engine)
    "LOAD_OUTER": ("abdc", (0, 0, 0, 0)),     # v4, v6 (LD engine)
    "IM2COL": ("abcd", (0, 0, 0, 0)),         # v9, v10 (LD engine)
    "STORE_OUTER": ("abd", (0, 0, 0)),        # v7 (ST engine)
    "RADD": ("d", -1), "RADD_ZP": ("d", 0),   # v8, v10 (ST engine)
}


def _config(regs: dict, f: dict) -> None:
    keys = _CONFIG_REGS.get(f["reg"], ("",))[0]
    if keys:
        v = tuple(f[k] for k in keys)
        regs[f["reg"]] = v if len(v) > 1 else v[0]


def _gemm_bounds(sz, regs: dict, i: int, ins) -> None:
    f = ins.f
    _rng(sz, "ACC", f["acc"], f["rows"], i, ins)
    k = max(f["kblocks"], 1)
    koff, roff = gemm_input_offsets(dict(f, kblocks=k), regs["GEMM_ROWS"], regs["GEMM_TAPS"],
                                    f"instruction {i} (GEMM)")
    _rng(sz, "INP", f["inp"], int(koff.max()) + int(roff.max()) + 1, i, ins)
    _rng(sz, "WGT", f["wgt"], (k - 1) * f["wgt_kstride"] + 1, i, ins)


def _acc_bounds(sz, hw: HwConfig, image_size: int, gather: int, i: int, ins) -> None:
    """ALU, LOADX, REDUCE and LUT: their accumulator rows (and table, DRAM rows)."""
    f, d = ins.f, hw.dim
    n = f["rows"]
    if ins.op == "ALU":
        _rng(sz, "ACC", f["dst"], n if f["dst_inc"] else 1, i, ins)
        if not f["use_imm"] and f["alu_op"] not in UNARY_ALU_OPS:
            q = n if not f["src_div"] else (min(n, f["src_div"]) if f["src_mod"]
                                            else -(-n // f["src_div"]))
            _rng(sz, "ACC", f["src"], q if f["src_inc"] else 1, i, ins)
        return
    _rng(sz, "ACC", f["dst"], n, i, ins)
    if ins.op == "LOADX":
        _rng(sz, "ACC", f["idx"], n, i, ins)
        if f["cols"] > d:
            raise SimError(f"instruction {i} (LOADX): cols {f['cols']} > {d}")
        _dram(image_size, f["dram"], gather, f["stride"], f["cols"] * DTYPE_BYTES[f["dtype"]],
              i, ins)
    elif ins.op == "REDUCE":
        span = (n - 1) * f["gstride"] + (max(f["members"], 1) - 1) * f["mstride"] + 1
        _rng(sz, "ACC", f["src"], span, i, ins)
        if not 1 <= f["members"] or f["lanes"] > d:
            raise SimError(f"instruction {i} (REDUCE): members {f['members']} < 1 or lanes "
                           f"{f['lanes']} > {d}")
    else:   # LUT
        _rng(sz, "ACC", f["src"], n, i, ins)
        _rng(sz, "LUT", f["table"], hw.lut_rows_per_table, i, ins)
        lo, hi = (-128, 127) if f["offset"] == 128 else (0, 255)
        if not (0 <= lo + f["offset"] and hi + f["offset"] <= 255):
            raise SimError(f"instruction {i} (LUT): offset {f['offset']} maps inputs outside "
                           f"the 256-entry table")


def check_bounds(prog, hw: HwConfig, image_size: int, lut_inputs=None) -> None:
    sz = _sizes(hw)
    regs = {k: init for k, (_, init) in _CONFIG_REGS.items()}
    for i, ins in enumerate(prog):
        encode(ins)
        f = ins.f
        if ins.op == "LOAD":
            _load_bounds(sz, hw.dim, image_size, regs["LOAD_OUTER"], i, ins, regs["IM2COL"])
        elif ins.op == "STORE":
            _store_bounds(sz, hw, image_size, regs["STORE_OUTER"], i, ins, regs["RADD"],
                          regs["RADD_ZP"])
        elif ins.op == "GEMM" and f["rows"]:
            _gemm_bounds(sz, regs, i, ins)
        elif ins.op in ("ALU", "LOADX", "REDUCE", "LUT") and f["rows"]:
            _acc_bounds(sz, hw, image_size, regs["GATHER"], i, ins)
        elif ins.op == "CONFIG":
            _config(regs, f)


def check_tokens(prog, depth: int) -> None:
    """Prove a segment deadlock-free for every timing: in program order (a valid
    interleaving of the three in-order engines if it is one at all) each instruction's pops
    find a token, its pushes find a free slot of the ``depth``-deep FIFO, and no token is
    left at the end.  Raises ``DeadlockError`` naming the first instruction that breaks it."""
    held = dict.fromkeys(FIFOS, 0)
    for i, ins in enumerate(prog):
        pops, pushes = token_fifos(ins)
        for f in pops:
            if held[f] == 0:
                raise DeadlockError(f"instruction {i} ({ins.op}) pops {f} before any token "
                                    f"was pushed to it in program order")
            held[f] -= 1
        for f in pushes:
            if held[f] >= depth:
                raise DeadlockError(f"instruction {i} ({ins.op}) pushes a token {depth + 1} "
                                    f"deep into {f} in program order (fifo_depth {depth})")
            held[f] += 1
    left = {f: n for f, n in held.items() if n}
    if left:
        raise DeadlockError(f"tokens pushed but never popped: {left}")


def check_stream(ap) -> dict:
    """Check every segment of an ``AccelProgram``; returns {segment index: cycles}."""
    from .races import check_races   # races imports this module's CONFIG tracking
    check_bounds(ap.instrs, ap.hw, ap.plan.const_base + ap.plan.const_size)
    out = {}
    for k, seg in enumerate(ap.segments):
        if seg["kind"] != "accel":
            continue
        prog = ap.instrs[seg["first"]:seg["last"]]
        if not prog or prog[-1].op != "FINISH":
            raise SimError(f"segment {k} does not end in FINISH")
        check_tokens(prog, ap.hw.fifo_depth)
        out[k] = simulate(prog, ap.hw).total
    check_races(ap)
    return out
