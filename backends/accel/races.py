"""Static race check of an accelerator stream (docs/target_accel.md §9).

The three engines run in parallel, ordered only by program order within each engine and by
the dependency tokens.  This module proves that every pair of conflicting accesses (two
writes, or a write and a read, of the same buffer row or writable DRAM byte) from different
engines is ordered by that happens-before relation, whatever the timing.

* Happens-before: vector clocks over the three engines' issue order (an instruction reads
  while it is busy) and four landing components, since a token is ready only at its pusher's
  start + busy + latency (§4): XL, the EX engine's own pipelined loads (LOAD into
  ACC/PARAM/LUT, LOADX), which land after later EX instructions issue (a scoreboard makes
  ALU/LUT/REDUCE/LOADX/FINISH wait for them, a token EX pushes carries them, a GEMM does not
  wait); LD's LOADs; ST's DRAM STOREs; ST's on-chip STOREs.  A token pushed on LD or ST
  carries an earlier DMA of its engine only once that DMA has surely landed (the busy cycles
  since its end plus the pusher's latency reach its latency).  The k-th pop of a FIFO takes the
  clock of its k-th push (FIFO order, ``timing.token_fifos``: the ring flags).
* Accesses: the rows of each on-chip buffer and the bytes of DRAM below the constants (the
  activation arena and the input/output buffers; constants are read-only), from the same
  address generators as the simulator and the bounds check (``geometry``).  Exact, except
  where a docstring below says conservative (a larger set: a false report, never a missed
  race).
* The walk: program order (``check.check_tokens`` proves it a valid execution), with each
  location's last write epoch and, per component, its last read epoch (FastTrack: reads of
  one component are totally ordered, so the last one suffices); one vectorised numpy
  operation per range.  ``RaceError`` names the first unordered pair.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque

import numpy as np

from .check import _CONFIG_REGS, _config
from .geometry import (SimError, gemm_input_offsets, im2col_rows, inp_store_rows, load_copies,
                       store_copies)
from .hw import HwConfig
from .isa import DTYPE_BYTES, UNARY_ALU_OPS, Instr
from .timing import _READS_EX_LOADS, FIFOS, cost, load_row_bytes, token_fifos

COMP = {"ld": 0, "ex": 1, "st": 2}
# landing components: EX's pipelined loads, LD's DMAs, ST's DRAM and on-chip STOREs
XL, LDL, STD, STS = 3, 4, 5, 6
NCOMP, NREAD = 7, 4
OWN = {0: (LDL,), 2: (STD, STS)}


class RaceError(SimError):
    """Two accesses of the same location from different engines that no token orders."""


def _span(lo: int, n: int):
    return slice(lo, lo + n) if n > 0 else None


def _strided(base: int, rows: int, stride: int, nbytes: int):
    """The locations ``base + r*stride + b`` (r < rows, b < nbytes): a slice when dense."""
    if rows <= 0 or nbytes <= 0:
        return None
    if rows == 1 or 0 <= stride <= nbytes:   # dense, or overlapping rows: the hull is exact
        return slice(base, base + (rows - 1) * stride + nbytes)
    return (base + np.arange(rows)[:, None] * stride + np.arange(nbytes)[None, :]).ravel()


class Accesses:
    """The read and write sets of one instruction: lists of (buffer, slice or index array);
    buffer "DRAM" counts bytes."""

    def __init__(self):
        self.reads, self.writes = [], []

    def r(self, buf, ix):
        if ix is not None:
            self.reads.append((buf, ix))

    def w(self, buf, ix):
        if ix is not None:
            self.writes.append((buf, ix))


def _load(a: Accesses, f: dict, regs: dict, d: int) -> None:
    """A LOAD: every copy's buffer rows and DRAM rows.  An im2col LOAD (v9) reads its piece
    rows; a WGT block row is ``load_row_bytes``."""
    outer = regs["LOAD_OUTER"]
    n = f["pad_before"] + f["rows"] + f["pad_after"]
    if f["im2col"]:
        n = im2col_rows(f, regs["IM2COL"], d, "LOAD")
    rb = load_row_bytes(f, d)
    for sram, dram in load_copies(f, outer, "LOAD"):
        a.w(f["buf"], _span(sram, n))
        a.r("DRAM", _strided(dram, f["rows"], f["stride"], rb))


def _store(a: Accesses, f: dict, regs: dict, hw: HwConfig) -> None:
    """A STORE: accumulator rows, epilogue parameters and table, the v8 radd operand rows
    (both halves with v10 rwide), and its destination (DRAM bytes or v5 input-buffer rows)."""
    if not f["rows"]:
        return
    nbytes = f["cols"] * DTYPE_BYTES[f["dtype"]]
    if f["mode"] != "tensor":
        a.r("PARAM", _span(f["param"], 3 if f["mode"] == "channel" else 1))
    if f["lut"]:
        a.r("LUT", _span(f["table"] * hw.lut_rows_per_table, hw.lut_rows_per_table))
    for sram, dram in store_copies(f, regs["STORE_OUTER"], "STORE"):
        a.r("ACC", _span(sram, f["rows"]))
        if f["radd"]:
            base = regs["RADD"]
            a.r("INP", _span(base + sram, f["rows"]))
            if f["rwide"] and f["cols"] > hw.dim // 2:
                a.r("INP", _span(base + regs["RADD_ZP"] + sram, f["rows"]))
        if f["inp"]:
            rows = inp_store_rows(dict(f, dram=dram), hw.inp_rows, "STORE")
            a.w("INP", _span(int(rows[0]), 1) if len(rows) == 1 else
                (slice(int(rows[0]), int(rows[-1]) + 1) if f["stride"] == 1 else rows))
        else:
            a.w("DRAM", _strided(dram, f["rows"], f["stride"], nbytes))


def _gemm(a: Accesses, f: dict, regs: dict) -> None:
    """A GEMM: its input rows (the loop2d address generator), weight blocks, and the
    accumulator rows it writes (and, without reset, reads: a write covers both)."""
    if not f["rows"]:
        return
    k = max(f["kblocks"], 1)
    koff, roff = gemm_input_offsets(dict(f, kblocks=k), regs["GEMM_ROWS"], regs["GEMM_TAPS"],
                                    "GEMM")
    if not f["loop2d"] and (k == 1 or f["inp_kstride"] <= f["rows"]):
        a.r("INP", _span(f["inp"], (k - 1) * f["inp_kstride"] + f["rows"]))
    else:
        rows = np.unique(np.add.outer(koff, roff)) + f["inp"]
        a.r("INP", slice(int(rows[0]), int(rows[-1]) + 1)
            if rows[-1] - rows[0] + 1 == len(rows) else rows)
    ws = f["wgt_kstride"]
    a.r("WGT", _span(f["wgt"], (k - 1) * ws + 1) if ws <= 1 or k == 1
        else f["wgt"] + np.arange(k) * ws)
    a.w("ACC", _span(f["acc"], f["rows"]))


def _ex(a: Accesses, ins: Instr, regs: dict, hw: HwConfig) -> None:
    """ALU, LUT, REDUCE, LOADX (the rows ``check._acc_bounds`` bounds).  Conservative: a
    REDUCE reads the hull of its groups; a LOADX reads its whole table (the index is data)."""
    f, n = ins.f, ins.f["rows"]
    if not n:
        return
    if ins.op == "ALU":
        a.w("ACC", _span(f["dst"], n if f["dst_inc"] else 1))
        if not f["use_imm"] and f["alu_op"] not in UNARY_ALU_OPS:
            q = n if not f["src_div"] else (min(n, f["src_div"]) if f["src_mod"]
                                            else -(-n // f["src_div"]))
            a.r("ACC", _span(f["src"], q if f["src_inc"] else 1))
        return
    a.w("ACC", _span(f["dst"], n))
    if ins.op == "REDUCE":
        a.r("ACC", _span(f["src"], (n - 1) * f["gstride"]
                         + (max(f["members"], 1) - 1) * f["mstride"] + 1))
    elif ins.op == "LUT":
        a.r("ACC", _span(f["src"], n))
        a.r("LUT", _span(f["table"], hw.lut_rows_per_table))
    elif ins.op == "LOADX":
        a.r("ACC", _span(f["idx"], n))
        eb = DTYPE_BYTES[f["dtype"]]
        a.r("DRAM", _span(f["dram"], (regs["GATHER"] - 1) * f["stride"] + f["cols"] * eb
                          if regs["GATHER"] else 0))


def accesses(ins: Instr, regs: dict, hw: HwConfig) -> Accesses:
    """The read and write sets of ``ins`` under the CONFIG registers ``regs`` (its engine's,
    as ``check.check_bounds`` tracks them)."""
    a = Accesses()
    if ins.op == "LOAD":
        _load(a, ins.f, regs, hw.dim)
    elif ins.op == "STORE":
        _store(a, ins.f, regs, hw)
    elif ins.op == "GEMM":
        _gemm(a, ins.f, regs)
    elif ins.op in ("ALU", "LUT", "REDUCE", "LOADX"):
        _ex(a, ins, regs, hw)
    return a


class _Shadow:
    """Per location of one buffer: the last write (component, count, instruction) and, per
    component, the last read (count, instruction); count 0 = none."""

    def __init__(self, n: int):
        self.wc = np.full(n, -1, np.int8)
        self.wn = np.zeros(n, np.int32)
        self.wi = np.full(n, -1, np.int32)
        self.rn = np.zeros((NREAD, n), np.int32)    # reads: at issue (LD, EX, ST) or XL
        self.ri = np.full((NREAD, n), -1, np.int32)


def _first(bad, ix) -> int:
    """The location of the first True of ``bad`` over ``ix``."""
    k = int(np.flatnonzero(bad)[0])
    return ix.start + k if isinstance(ix, slice) else int(ix[k])


class RaceWalker:
    """Walks one segment in program order with vector clocks (see the module docstring)."""

    def __init__(self, prog: list[Instr], hw: HwConfig, dram_limit: int, names=None,
                 base: int = 0):
        self.prog, self.hw, self.names, self.base = prog, hw, names or {}, base
        self.limit = dram_limit
        sizes = {"INP": hw.inp_rows, "WGT": hw.wgt_blocks, "ACC": hw.acc_rows,
                 "PARAM": hw.param_rows, "LUT": hw.lut_rows, "DRAM": dram_limit}
        self.mem = {b: _Shadow(n) for b, n in sizes.items()}
        self.lat = {LDL: hw.dma_latency, STD: hw.dma_latency, STS: hw.sram_latency}

    def _clip(self, buf, ix):
        """DRAM: only the bytes below the constants (which nothing writes)."""
        if buf != "DRAM":
            return ix
        if isinstance(ix, slice):
            return slice(ix.start, min(ix.stop, self.limit)) if ix.start < self.limit else None
        ix = ix[ix < self.limit]
        return ix if len(ix) else None

    def _check(self, i: int, vc: np.ndarray, buf: str, ix, write: bool) -> None:
        sh = self.mem[buf]
        wc = sh.wc[ix]
        bad = (wc >= 0) & (vc[np.maximum(wc, 0)] < sh.wn[ix])
        if bad.any():
            loc = _first(bad, ix)
            self._report(i, int(sh.wi[loc]), buf, ix, bad, write, True)
        if not write:
            return
        for c in range(NREAD):
            bad = sh.rn[c][ix] > vc[c]
            if bad.any():
                loc = _first(bad, ix)
                self._report(i, int(sh.ri[c][loc]), buf, ix, bad, True, False)

    def _record(self, i: int, comp: int, cnt: int, buf: str, ix, write: bool) -> None:
        sh = self.mem[buf]
        if write:
            sh.wc[ix], sh.wn[ix], sh.wi[ix] = comp, cnt, i
        else:
            sh.rn[comp][ix], sh.ri[comp][ix] = cnt, i

    def _describe(self, i: int) -> str:
        ins = self.prog[i]
        name = self.names.get(i) or ins.note
        return f"instruction {self.base + i} ({ins.op} on {ins.engine.upper()}" + \
            (f", {name})" if name else ")")

    def _report(self, i, j, buf, ix, bad, write_i, write_j) -> None:
        locs = np.arange(ix.start, ix.stop)[bad] if isinstance(ix, slice) else ix[bad]
        unit = "bytes" if buf == "DRAM" else "rows"
        what = f"{buf} {unit} {int(locs.min())}..{int(locs.max())} ({len(locs)} of them)"
        raise RaceError(f"race: {self._describe(j)} {'writes' if write_j else 'reads'} {what} "
                        f"that {self._describe(i)} {'writes' if write_i else 'reads'}, and no "
                        f"dependency token orders the two")

    def _land(self, ins: Instr, regs: dict) -> tuple[int, int, int]:
        """(landing component or -1, busy cycles, latency) of an instruction (``timing.cost``;
        an outer copy count from its engine's register)."""
        f = ins.f
        n = 1
        if ins.op in ("LOAD", "STORE") and f.get("outer"):
            n = max(regs["LOAD_OUTER" if ins.op == "LOAD" else "STORE_OUTER"][0], 1)
        busy, lat = cost(ins, self.hw, n)
        c = -1
        if ins.op == "LOAD":
            c = LDL if ins.engine == "ld" else XL
        elif ins.op == "LOADX":
            c = XL
        elif ins.op == "STORE":
            c = STS if f["inp"] else STD
        return c, busy, lat

    def _token(self, e: int, vc: np.ndarray, lat: int, st: dict) -> np.ndarray:
        """The clock a token pushed now carries: EX's carries its loads (the scoreboard); LD's
        and ST's carry an earlier DMA of their engine only if it has surely landed when the
        token is ready (start + busy + latency, §4): the busy cycles since its end plus the
        pusher's latency reach its own latency."""
        tok = vc.copy()
        if e == 1:
            tok[XL] = max(tok[XL], st["n"][XL])
            return tok
        for c in OWN[e]:
            ends = st["ends"][c]
            k = bisect_right(ends, st["cum"][e] + lat - self.lat[c])
            tok[c] = max(st["ext"][e][c], k)
        return tok

    def _clocks(self, ins: Instr, regs: dict, st: dict):
        """(the clock of the instruction's issue, of its landing, the landing component)."""
        e = COMP[ins.engine]
        pops, pushes = token_fifos(ins)
        vc = st["eng"][e].copy()
        for f in pops:
            tok = st["fifos"][f].popleft()
            vc = np.maximum(vc, tok)
            st["ext"][e] = np.maximum(st["ext"][e], tok)
        if e == 1 and ins.op in _READS_EX_LOADS:   # the scoreboard: earlier EX loads landed
            vc[XL] = max(vc[XL], st["n"][XL])
        vc[e] += 1
        c, busy, lat = self._land(ins, regs)
        st["cum"][e] += busy
        avc, comp = vc, e
        if c >= 0:
            st["n"][c] += 1
            st["ends"][c].append(st["cum"][e])
            if c != XL:   # the engine's own later accesses follow its DMAs (program order)
                vc[c] = st["n"][c]
            else:
                avc = vc.copy()
                avc[XL] = st["n"][XL]
            comp = c
        st["eng"][e] = vc
        for f in pushes:
            st["fifos"][f].append(self._token(e, vc, lat, st))
        return vc, avc, comp

    def run(self) -> None:
        z = np.zeros(NCOMP, np.int64)
        st = {"eng": [z.copy() for _ in range(3)], "ext": [z.copy() for _ in range(3)],
              "n": [0] * NCOMP, "ends": [[] for _ in range(NCOMP)], "cum": [0, 0, 0],
              "fifos": {f: deque() for f in FIFOS}}
        regs = {k: init for k, (_, init) in _CONFIG_REGS.items()}
        for i, ins in enumerate(self.prog):
            if ins.op == "CONFIG":
                _config(regs, ins.f)
            vc, avc, comp = self._clocks(ins, regs, st)
            if ins.op in ("CONFIG", "FINISH"):
                continue
            a = accesses(ins, regs, self.hw)
            e = COMP[ins.engine]
            todo = []
            for write, lst in ((False, a.reads), (True, a.writes)):
                for buf, ix in lst:
                    ix = self._clip(buf, ix)
                    if ix is None:
                        continue
                    # writes land; reads happen at issue (an EX load's DRAM reads: counted
                    # at its landing, conservative)
                    at_issue = not write and (comp != XL or buf == "ACC")
                    c, v = (e, vc) if at_issue else (comp, avc)
                    self._check(i, v, buf, ix, write)
                    todo.append((c, int(v[c]), buf, ix, write))
            for c, cnt, buf, ix, write in todo:
                self._record(i, c, cnt, buf, ix, write)


def layer_names(ap) -> dict:
    """Absolute instruction index -> the name of the layer whose range holds it."""
    out = {}
    for ly in ap.layers:
        for j in range(ly.get("first", 0), ly.get("last", 0)):
            out[j] = ly["name"]
    return out


def check_races(ap, names: dict | None = None) -> None:
    """Prove every segment of an ``AccelProgram`` race-free (raises ``RaceError``)."""
    names = layer_names(ap) if names is None else names
    for seg in ap.segments:
        if seg["kind"] != "accel":
            continue
        first = seg["first"]
        prog = ap.instrs[first:seg["last"]]
        local = {j - first: n for j, n in names.items() if first <= j < seg["last"]}
        RaceWalker(prog, ap.hw, ap.plan.const_base, local, first).run()


def check_segment(prog: list[Instr], hw: HwConfig, dram_limit: int) -> None:
    """Prove one segment race-free; ``dram_limit``: the first byte of the read-only
    constants."""
    RaceWalker(prog, hw, dram_limit).run()
