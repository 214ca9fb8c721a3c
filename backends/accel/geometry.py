"""Which rows an instruction touches: the address generators shared by the functional
simulator (``funcsim``), which moves the data, and the stream checker (``check``), which
proves every access in bounds before anything runs (docs/target_accel.md §3-§4). Each
helper checks its CONFIG register and raises ``SimError`` naming the instruction."""

from __future__ import annotations

import numpy as np

from .isa import IsaError


class SimError(IsaError):
    """An instruction accessed memory out of bounds or used a bad value (a compiler bug)."""



def gemm_input_offsets(f: dict, rows_reg: tuple, taps_reg: tuple, what: str):
    """(offset per K block [kblocks], offset per row [rows]) of a GEMM's input rows: input row
    ``inp + koff[kb] + roff[i]``.  Plain GEMM: ``kb * inp_kstride`` and ``i``.  ISA v3
    ``loop2d``: the two-level address generator of CONFIG GEMM_ROWS ``(div, outer, inner)``
    and GEMM_TAPS ``(div, outer)``: ``roff[i] = (i // div) * outer + (i % div) * inner``,
    ``koff[kb] = (kb // div) * outer + (kb % div) * inp_kstride``."""
    kb, rows = np.arange(f["kblocks"]), np.arange(f["rows"])
    if not f.get("loop2d"):
        return kb * f["inp_kstride"], rows
    (rd, ro, ri), (kd, ko) = rows_reg, taps_reg
    if rd < 1 or kd < 1 or ro < 0 or ri < 0 or ko < 0:
        raise SimError(f"{what}: loop2d GEMM with GEMM_ROWS {rows_reg} / GEMM_TAPS {taps_reg} "
                       f"(divisors >= 1 and strides >= 0 needed: set both registers first)")
    return (kb // kd) * ko + (kb % kd) * f["inp_kstride"], (rows // rd) * ro + (rows % rd) * ri


def load_copies(f: dict, outer_reg: tuple, what: str) -> list[tuple[int, int]]:
    """(sram, dram) of each copy of a LOAD: one, or with ISA v4 ``outer`` the CONFIG
    LOAD_OUTER loop ``(count, dram stride, sram stride)``: copy ``k`` reads
    ``dram + k * dram stride`` into rows from ``sram + k * sram stride``."""
    if not f.get("outer"):
        return [(f["sram"], f["dram"])]
    n, db, ds = outer_reg[:3]
    if f["buf"] not in ("INP", "WGT"):
        raise SimError(f"{what}: only LD-engine loads (INP, WGT) take the outer loop")
    if n < 1 or db < 0 or ds < 0:
        raise SimError(f"{what}: outer LOAD with LOAD_OUTER {outer_reg} (count >= 1 and strides "
                       f">= 0 needed: set the register first)")
    return [(f["sram"] + k * ds, f["dram"] + k * db) for k in range(n)]


def store_copies(f: dict, outer_reg: tuple, what: str) -> list[tuple[int, int]]:
    """(sram, dram) of each copy of a STORE: one, or with ISA v7 ``outer`` the CONFIG
    STORE_OUTER loop ``(count, destination stride, accumulator-row stride)``: copy ``k``
    stores the rows from ``sram + k * acc stride`` to ``dram + k * destination stride``
    (bytes in DRAM; input-buffer rows with ``inp = 1``)."""
    if not f.get("outer"):
        return [(f["sram"], f["dram"])]
    n, db, ds = outer_reg
    if n < 1 or db < 0 or ds < 0:
        raise SimError(f"{what}: outer STORE with STORE_OUTER {outer_reg} (count >= 1 and strides "
                       f">= 0 needed: set the register first)")
    return [(f["sram"] + k * ds, f["dram"] + k * db) for k in range(n)]


def lane_error(buf: str, lane: int, cols: int, dim: int, what: str) -> None:
    """v6: the first lane (CONFIG LOAD_OUTER ``c``) of an outer LOAD's data: INP loads only,
    and the data must fit the row."""
    if lane and (buf != "INP" or lane + cols > dim):
        raise SimError(f"{what}: an outer LOAD from lane {lane} (CONFIG LOAD_OUTER c) needs an "
                       f"INP load with {lane} + cols <= {dim}, not {buf} with cols {cols}")


def im2col_rows(f: dict, reg: tuple, d: int, what: str) -> int:
    """v9: the buffer rows an ``im2col`` LOAD writes under CONFIG IM2COL ``(n, step, pw, off)``
    (``n`` pieces of ``pw`` lanes per window, consecutive rows ``step`` pieces apart; v10: a row
    is lanes ``off .. off+d-1`` of the window), checked: every piece must reach the row
    (``off < pw`` and ``(n-1)*pw < off + d``; with ``off = 0`` every v9 window, ``n*pw <= d``)."""
    n, step, pw, off = reg
    total = f["pad_before"] + f["rows"] + f["pad_after"]
    if f["buf"] != "INP" or n < 1 or step < 1 or pw < 1 or not 0 <= off < pw \
            or (n - 1) * pw >= off + d or total < n:
        raise SimError(f"{what}: im2col LOAD with IM2COL {reg} needs an INP load, n, step, pw >= 1, "
                       f"0 <= off < pw, (n-1)*pw < off + {d} and at least n = {n} piece rows "
                       f"(has {total})")
    return (total - n) // step + 1


def inp_store_rows(f: dict, inp_rows: int, what: str) -> np.ndarray:
    """INP rows written by a v5 STORE with ``inp = 1``: row ``r`` goes to ``dram + r * stride``
    (``dram`` and ``stride`` count input-buffer rows), bounds-checked."""
    rows = f["rows"]
    last = f["dram"] + (rows - 1) * f["stride"] if rows else f["dram"]
    if rows and (f["dram"] < 0 or last >= inp_rows):
        raise SimError(f"{what}: INP rows [{f['dram']}, {last + 1}) outside [0, {inp_rows})")
    return f["dram"] + np.arange(rows) * f["stride"]
