"""Functional simulator: executes an instruction stream on a DRAM image (numpy).

The semantics are those of docs/target_accel.md §3; the requantization epilogue
of STORE and the DYADD/SHR ALU ops call ``qcc.arith`` so they are the
arithmetic contract itself.  Instructions run in a given order (the timing
model's issue order, a valid interleaving of the three engines).
"""

from __future__ import annotations

import numpy as np

from qcc import arith

from .hw import HwConfig
from .geometry import (SimError, gemm_input_offsets, im2col_rows, inp_store_rows, lane_error,
                       load_copies, store_copies)
from .isa import DTYPE_BYTES, ISA_VERSION, UNARY_ALU_OPS, Instr

_NP = {"i8": np.int8, "u8": np.uint8, "i16": np.int16, "i32": np.int32}
_RANGE = {k: (int(np.iinfo(v).min), int(np.iinfo(v).max)) for k, v in _NP.items()}


def _wrap32(x: np.ndarray) -> np.ndarray:
    return x.astype(np.int64).astype(np.uint32).view(np.int32).astype(np.int64) \
        if x.dtype != np.int32 else x


def _sat32(x: np.ndarray) -> np.ndarray:
    return np.clip(x, arith.INT32_MIN, arith.INT32_MAX)


def _need(ok, what: str, msg: str) -> None:
    if np.size(ok) and not np.all(ok):
        raise SimError(f"{what}: {msg}")


def _div(d, o, shift, what):
    _need(o > 0, what, "DIV by a divisor <= 0")
    return d // o


def _rdiv(d, o, shift, what):
    num = np.int64(1 << shift) + o               # < 2^63 for shift <= 62 and 32-bit o
    return np.where(d > 0, num // np.maximum(d, 1), 0)


def _mulshr(d, o, shift, what):
    if shift == 0:
        return d * o                               # |d * o| <= 2^62: exact in int64
    return arith.rshift_round(d * o, shift)


def _asr(d, o, shift, what):
    _need((o >= 0) & (o <= 62), what, "shift amount outside [0, 62]")
    return d >> o


def _bitlen(d, o, shift, what):
    return np.frexp(np.abs(d).astype(np.float64))[1].astype(np.int64)   # exact below 2^53


def _isqrt(d, o, shift, what):
    _need(d >= 0, what, "ISQRT of a negative value")
    return arith.isqrt(d)


# ISA v2 ALU ops: f(ACC[d], operand, shift field, what), all in int64, then saturated to int32
_ALU_V2 = {"DIV": _div, "RDIV": _rdiv, "MULSHR": _mulshr, "ASR": _asr, "BITLEN": _bitlen,
           "ISQRT": _isqrt, "ABS": lambda d, o, shift, what: np.abs(d)}


class Machine:
    def __init__(self, hw: HwConfig, dram: np.ndarray):
        d = hw.dim
        self.hw = hw
        self.dram = dram  # uint8, modified in place
        self.inp = np.zeros((hw.inp_rows, d), np.int8)
        self.wgt = np.zeros((hw.wgt_blocks, d, d), np.int8)
        self.acc = np.zeros((hw.acc_rows, d), np.int64)   # int32 values, held in int64
        self.param = np.zeros((hw.param_rows, d), np.int64)
        self.lut = np.zeros((hw.lut_rows, d), np.int64)
        self.clamp = (0, -128, 127)          # zp, lo, hi
        self.scale = (1 << 30, 30, 0)        # m, s, bias
        self.alu_scale = (1 << 30, 1 << 30, 30)
        self.gather_bound = 0                # CONFIG GATHER: rows of the indexed table
        self.gemm_rows = (0, 0, 0)           # v3 CONFIG GEMM_ROWS: div, outer, inner stride
        self.gemm_taps = (0, 0)              # v3 CONFIG GEMM_TAPS: div, outer stride
        self.store_outer = (0, 0, 0)         # v7 CONFIG STORE_OUTER: count, dst, acc stride
        self.im2col = (0, 0, 0, 0)           # v9 CONFIG IM2COL: pieces, step, piece lanes;
        #                                      v10: the row's first lane in the window
        self.load_outer = (0, 0, 0, 0)       # v4 CONFIG LOAD_OUTER: count, dram, sram stride,
        #                                      v6: first lane of an outer INP load's data
        self.radd = (0, 0, 0, -1)            # v8 CONFIG RADD: m_y, m_o, shift, operand INP row offset
        self.radd_zp = (0, 0, 0)             # v8 CONFIG RADD_ZP: z_y, z_o; v10 d: the row
        #                                      offset of an int16 operand's upper channels
        self.radd_clamp = (0, -128, 127)     # v8 CONFIG RADD_CLAMP: zp, lo, hi

    # -- helpers -------------------------------------------------------------------
    def _buf(self, name: str) -> np.ndarray:
        return {"INP": self.inp, "WGT": self.wgt, "ACC": self.acc, "PARAM": self.param,
                "LUT": self.lut}[name]

    def _rows(self, buf: str, start: int, n: int, what: str) -> slice:
        size = self._buf(buf).shape[0]
        if start < 0 or start + n > size:
            raise SimError(f"{what}: {buf} rows [{start}, {start + n}) outside [0, {size})")
        return slice(start, start + n)

    def _dram_rows(self, addr: int, rows: int, stride: int, nbytes: int, what: str) -> np.ndarray:
        """Byte indices [rows, nbytes] of a strided DRAM access (bounds-checked)."""
        if rows == 0 or nbytes == 0:
            return np.zeros((rows, nbytes), np.int64)
        last = addr + (rows - 1) * stride + nbytes
        if addr < 0 or last > self.dram.size:
            raise SimError(f"{what}: DRAM bytes [{addr}, {last}) outside the image "
                           f"of {self.dram.size} bytes")
        return addr + np.arange(rows)[:, None] * stride + np.arange(nbytes)[None, :]

    # -- instructions --------------------------------------------------------------
    def run(self, prog: list[Instr], order=None) -> None:
        for i in (range(len(prog)) if order is None else order):
            ins = prog[i]
            getattr(self, "_" + ins.op.lower())(ins, f"instruction {i} ({ins.op})")

    def _load(self, ins: Instr, what: str) -> None:
        lane = self.load_outer[3] if ins.f.get("outer") else 0
        for sram, dram in load_copies(ins.f, self.load_outer, what):
            if ins.f.get("im2col"):
                self._load_im2col(dict(ins.f, sram=sram, dram=dram), what, lane)
            else:
                self._load_one(dict(ins.f, sram=sram, dram=dram), what, lane)

    def _load_im2col(self, f: dict, what: str, lane: int) -> None:
        """v9: the piece rows a plain LOAD would write, each ``pw`` lanes wide (data from lane
        ``lane``, the pad value elsewhere); the window of buffer row ``i`` = pieces ``i*step ..
        i*step+n-1`` side by side, lanes ``n*pw..`` the pad value; the row = the window's lanes
        ``off .. off+DIM-1`` (v10; ``off = 0`` in v9)."""
        d = self.hw.dim
        n, step, pw, off = self.im2col
        m = im2col_rows(f, self.im2col, d, what)
        rows, pb, cols = f["rows"], f["pad_before"], f["cols"]
        if f["dtype"] != "i8" or f.get("part") or lane + cols > pw:
            raise SimError(f"{what}: an im2col LOAD needs int8, part=0 and {lane} + cols <= pw = {pw}")
        idx = self._dram_rows(f["dram"], rows, f["stride"], cols, what)
        pieces = np.full((pb + rows + f["pad_after"], pw), f["pad_val"], np.int64)
        pieces[pb:pb + rows, lane:lane + cols] = self.dram[idx].view(np.int8).reshape(rows, cols)
        win = np.full((m, max(n * pw, off + d)), f["pad_val"], np.int64)
        for p in range(n):
            win[:, p * pw:(p + 1) * pw] = pieces[p:p + (m - 1) * step + 1:step]
        self.inp[self._rows("INP", f["sram"], m, what)] = win[:, off:off + d]

    def _load_one(self, f: dict, what: str, lane: int = 0) -> None:
        d = self.hw.dim
        buf, rows, pb, pa = f["buf"], f["rows"], f["pad_before"], f["pad_after"]
        dst = self._buf(buf)
        sl = self._rows(buf, f["sram"], pb + rows + pa, what)
        if buf == "WGT":
            lane_error(buf, lane, f["cols"], d, what)
            if pb or pa:
                raise SimError(f"{what}: WGT loads take no padding")
            if f["cols"] > d:
                raise SimError(f"{what}: cols={f['cols']} > {d} lanes")
            if f.get("part"):  # v6: the first cols K-rows of each block, zeros below
                if not f["cols"]:
                    raise SimError(f"{what}: a partial WGT load needs cols >= 1 K-rows")
                c = f["cols"]
                idx = self._dram_rows(f["dram"], rows, f["stride"], c * d, what)
                blocks = np.zeros((rows, d, d), np.int8)
                blocks[:, :c, :] = self.dram[idx].view(np.int8).reshape(rows, c, d)
                dst[sl] = blocks
                return
            if f["cols"]:  # diagonal blocks: cols int8 values on the diagonal, zeros elsewhere
                c = f["cols"]
                idx = self._dram_rows(f["dram"], rows, f["stride"], c, what)
                blocks = np.zeros((rows, d, d), np.int8)
                blocks[:, np.arange(c), np.arange(c)] = self.dram[idx].view(np.int8)
                dst[sl] = blocks
                return
            idx = self._dram_rows(f["dram"], rows, f["stride"], d * d, what)
            dst[sl] = self.dram[idx].view(np.int8).reshape(rows, d, d)
            return
        cols, dt = f["cols"], f["dtype"]
        if cols > d:
            raise SimError(f"{what}: cols={cols} > {d} lanes")
        lane_error(buf, lane, cols, d, what)
        if f.get("part"):
            raise SimError(f"{what}: only WGT loads take part=1")
        if buf == "INP" and dt != "i8":
            raise SimError(f"{what}: the input buffer holds int8 only (dtype {dt})")
        eb = DTYPE_BYTES[dt]
        idx = self._dram_rows(f["dram"], rows, f["stride"], cols * eb, what)
        vals = np.ascontiguousarray(self.dram[idx]).view(_NP[dt]).reshape(rows, cols)
        block = np.full((pb + rows + pa, d), f["pad_val"], np.int64)
        block[pb:pb + rows, lane:lane + cols] = vals
        dst[sl] = block

    def _epilogue_params(self, f: dict, cols: int, what: str):
        if f["mode"] == "tensor":
            m, s, b = self.scale
            return np.int64(b), np.int64(m), np.int64(s)
        p = self._rows("PARAM", f["param"], 3 if f["mode"] == "channel" else 1, what)
        rows = self.param[p, :cols]
        if f["mode"] == "raw":
            return rows[0], None, None
        return rows[0], rows[1], rows[2]

    def _store(self, ins: Instr, what: str) -> None:
        for sram, dram in store_copies(ins.f, self.store_outer, what):
            self._store_one(dict(ins.f, sram=sram, dram=dram), what)

    def _store_one(self, f: dict, what: str) -> None:
        d = self.hw.dim
        rows, cols, dt = f["rows"], f["cols"], f["dtype"]
        if cols > d:
            raise SimError(f"{what}: cols={cols} > {d} lanes")
        acc = self.acc[self._rows("ACC", f["sram"], rows, what), :cols]
        bias, m, s = self._epilogue_params(f, cols, what)
        zp, lo, hi = self.clamp
        tlo, thi = _RANGE["i8" if f.get("lut") else dt]   # v5 lut: the clamp bounds the index
        if not tlo <= lo <= hi <= thi:
            raise SimError(f"{what}: clamp [{lo}, {hi}] outside {'the table index' if f.get('lut') else dt}")
        total = _wrap32(acc + bias)
        if m is None:
            y = np.clip(total, lo, hi)
        else:
            if np.any((s < arith.SHIFT_MIN) | (s > arith.SHIFT_MAX)) or np.any((m < 0) | (m >= arith.M_LIMIT)):
                raise SimError(f"{what}: requantization multiplier/shift out of range")
            y = np.clip(arith.rshift_round(total * m, s) + zp, lo, hi)
        if f.get("lut"):  # v5: an activation in the epilogue, y = T[y + 128] (and the fill)
            t = self._store_table(f["table"], dt, what)
            y, zp = t[y + 128], t[zp + 128] if -128 <= zp <= 127 else zp
        if f.get("rwide") and not f.get("radd"):
            raise SimError(f"{what}: rwide (v10) without radd")
        if f.get("radd"):  # v8: a residual add with an int8 (v10 rwide: int16) operand
            y, zp = self._radd(y, f, dt, what)
        if f.get("inp"):  # v5: into the input buffer, lanes past cols = the zero point
            if dt != "i8":
                raise SimError(f"{what}: a STORE into the input buffer writes int8 (dtype {dt})")
            dst = inp_store_rows(f, self.hw.inp_rows, what)
            if rows:
                block = np.full((rows, d), zp, np.int64)
                block[:, :cols] = y
                self.inp[dst] = block
            return
        idx = self._dram_rows(f["dram"], rows, f["stride"], cols * DTYPE_BYTES[dt], what)
        self.dram[idx] = np.ascontiguousarray(y.astype(_NP[dt])).view(np.uint8).reshape(idx.shape)

    def _radd(self, y: np.ndarray, f: dict, dt: str, what: str) -> tuple[np.ndarray, int]:
        """v8 STORE ``radd``: ``clamp(rshift_round((y - z_y) m_y + (o - z_o) m_o, s) + zp, lo,
        hi)`` in int64, ``o`` the operand in INP row ``base + sram + r`` (the same lanes); the
        fill of an ``inp = 1`` STORE becomes the RADD_CLAMP zero point."""
        my, mo, s, base = self.radd
        zy, zo, hoff = self.radd_zp
        zp, lo, hi = self.radd_clamp
        tlo, thi = _RANGE[dt]
        if base < 0 or not arith.SHIFT_MIN <= s <= arith.SHIFT_MAX or not tlo <= lo <= hi <= thi:
            raise SimError(f"{what}: radd needs CONFIG RADD (offset >= 0, shift in [1, 62]) and a "
                           f"RADD_CLAMP inside {dt} (set the registers first)")
        rows, cols = f["rows"], f["cols"]
        if f.get("rwide"):   # v10: an int16 operand, two int8 lanes per value
            o = self._wide_operand(base, hoff, f["sram"], rows, cols, what)
        else:
            o = self.inp[self._rows("INP", base + f["sram"], rows, what), :cols].astype(np.int64)
        t = (y - zy) * np.int64(my) + (o - zo) * np.int64(mo)
        return np.clip(arith.rshift_round(t, s) + zp, lo, hi), zp

    def _wide_operand(self, base: int, hoff: int, sram: int, rows: int, cols: int,
                      what: str) -> np.ndarray:
        """v10 STORE ``rwide``: the int16 operand of each row's ``cols`` lanes: lane ``j < h =
        DIM/2`` from the int8 lanes ``2j`` (low byte) and ``2j + 1`` (high byte) of INP row
        ``base + sram + r``, lane ``j >= h`` from lanes ``2(j-h)``, ``2(j-h) + 1`` of row
        ``base + hoff + sram + r`` (``hoff`` = CONFIG RADD_ZP d)."""
        h = self.hw.dim // 2
        if hoff < 0 or self.hw.dim % 2:
            raise SimError(f"{what}: rwide needs an even DIM and CONFIG RADD_ZP d >= 0")
        parts = []
        for off, n in ((0, min(cols, h)), (hoff, cols - h)):
            if n > 0:
                b = self.inp[self._rows("INP", base + off + sram, rows, what), :2 * n]
                b = b.astype(np.int64)
                parts.append((b[:, 0::2] & 0xFF) + 256 * b[:, 1::2])
        return np.concatenate(parts, axis=1) if parts else np.zeros((rows, 0), np.int64)

    def _store_table(self, k: int, dt: str, what: str) -> np.ndarray:
        """The 256 entries of LUT table ``k`` that a v5 STORE with ``lut = 1`` applies; each
        must fit the STORE's dtype."""
        n = self.hw.lut_rows_per_table
        t = self.lut[self._rows("LUT", k * n, n, what)].ravel()[:256]
        lo, hi = _RANGE[dt]
        if t.min() < lo or t.max() > hi:
            raise SimError(f"{what}: LUT table {k} holds values outside {dt}")
        return t

    def _gemm(self, ins: Instr, what: str) -> None:
        f = ins.f
        rows, kb = f["rows"], f["kblocks"]
        a = self._rows("ACC", f["acc"], rows, what)
        if f["reset"]:
            self.acc[a] = 0
        if kb == 0 or rows == 0:
            return
        koff, roff = gemm_input_offsets(f, self.gemm_rows, self.gemm_taps, what)
        last_w = f["wgt"] + (kb - 1) * f["wgt_kstride"]
        lo = f["inp"] + int(koff.min()) + int(roff.min())
        self._rows("INP", lo, f["inp"] + int(koff.max()) + int(roff.max()) + 1 - lo, what)
        self._rows("WGT", f["wgt"], last_w - f["wgt"] + 1, what)
        ii = f["inp"] + koff[:, None] + roff[None, :]
        x = self.inp[ii].astype(np.float64)                       # [kb, rows, D]
        w = self.wgt[f["wgt"] + np.arange(kb) * f["wgt_kstride"]].astype(np.float64)  # [kb, D, D]
        # exact: |sum| <= kb * D * 128 * 128 < 2^53
        part = np.matmul(x, w).sum(axis=0).astype(np.int64)
        self.acc[a] = _wrap32(self.acc[a] + part)

    def _alu(self, ins: Instr, what: str) -> None:
        f = ins.f
        rows, op = f["rows"], f["alu_op"]
        if rows == 0:
            return
        i = np.arange(rows)
        q = i if not f["src_div"] else (i % f["src_div"] if f["src_mod"] else i // f["src_div"])
        dst = f["dst"] + (i if f["dst_inc"] else np.zeros(rows, np.int64))
        src = f["src"] + (q if f["src_inc"] else np.zeros(rows, np.int64))
        self._rows("ACC", int(dst.min()), int(dst.max() - dst.min()) + 1, what)
        reads = not f["use_imm"] and op not in UNARY_ALU_OPS
        if reads:
            self._rows("ACC", int(src.min()), int(src.max() - src.min()) + 1, what)
        if f["dst_inc"] and (not reads or np.array_equal(src, dst)
                             or not np.intersect1d(src, dst).size):
            opnd = self.acc[src] if reads else np.int64(f["imm"])
            self.acc[dst] = self._alu_op(op, self.acc[dst], opnd, f["shift"], what)
            return
        for r in range(rows):  # general case: row by row, in order
            opnd = self.acc[src[r]] if reads else np.int64(f["imm"])
            self.acc[dst[r]] = self._alu_op(op, self.acc[dst[r]], opnd, f["shift"], what)

    def _alu_op(self, op: str, d: np.ndarray, o, shift: int, what: str) -> np.ndarray:
        if op in _ALU_V2:
            if shift > 62:
                raise SimError(f"{what}: ALU shift field {shift} outside [0, 62]")
            return _sat32(_ALU_V2[op](d, np.broadcast_to(np.asarray(o, np.int64), d.shape),
                                      shift, what))
        if op == "ADD":
            r = d + o
        elif op == "MUL":
            r = d * o
        elif op == "MIN":
            r = np.minimum(d, o)
        elif op == "MAX":
            r = np.maximum(d, o)
        elif op in ("SHR", "SHL"):
            sh = np.broadcast_to(np.asarray(o, np.int64), d.shape)
            if sh.size and (sh.min() < 0 or sh.max() > 62):
                raise SimError(f"{what}: shift amount outside [0, 62]")
            if op == "SHL":
                r = _sat32(d) << np.minimum(sh, 31)
            else:
                safe = np.maximum(sh, 1)
                r = np.where(sh == 0, d, arith.rshift_round(d, safe))
        elif op == "MOV":
            r = np.broadcast_to(np.asarray(o, np.int64), d.shape).copy()
        else:  # DYADD
            m0, m1, s = self.alu_scale
            r = arith.rshift_round(d * np.int64(m0) + np.asarray(o, np.int64) * np.int64(m1), s)
        return _sat32(r)

    def _loadx(self, ins: Instr, what: str) -> None:
        """Indexed load: row i from DRAM row j of a table, j the index in ACC[idx + i] (lane 0,
        or lanes 0/1 as the low/high words of a 64-bit index); negative j counts from the
        end (ONNX Gather); j outside [0, bound) is an error, as in the reference."""
        f, d = ins.f, self.hw.dim
        rows, cols, dt = f["rows"], f["cols"], f["dtype"]
        if rows == 0:
            return
        if cols > d or (f["wide"] and d < 2):
            raise SimError(f"{what}: cols={cols} > {d} lanes")
        ix = self.acc[self._rows("ACC", f["idx"], rows, what)]
        j = ix[:, 0].copy()
        if f["wide"]:
            j = (ix[:, 1] << 32) + (ix[:, 0] & 0xFFFFFFFF)
        bound = self.gather_bound
        j = np.where(j < 0, j + bound, j)
        if j.size and (j.min() < 0 or j.max() >= bound):
            raise SimError(f"{what}: gather index outside [-{bound}, {bound})")
        sl = self._rows("ACC", f["dst"], rows, what)
        eb = DTYPE_BYTES[dt]
        self._dram_rows(f["dram"], 1, 0, (bound - 1) * f["stride"] + cols * eb if bound else 0,
                        what)
        idx = f["dram"] + j[:, None] * f["stride"] + np.arange(cols * eb)[None, :]
        vals = np.ascontiguousarray(self.dram[idx]).view(_NP[dt]).reshape(rows, cols)
        block = np.zeros((rows, d), np.int64)
        block[:, :cols] = vals
        self.acc[sl] = block

    def _reduce(self, ins: Instr, what: str) -> None:
        f, d = ins.f, self.hw.dim
        rows, n, lanes = f["rows"], f["members"], f["lanes"] or d
        if rows == 0:
            return
        if n < 1 or lanes > d:
            raise SimError(f"{what}: members={n} must be >= 1 and lanes={lanes} <= {d}")
        first = f["src"] + np.arange(rows)[:, None] * f["gstride"] \
            + np.arange(n)[None, :] * f["mstride"]                        # [rows, members]
        self._rows("ACC", int(first.min()), int(first.max() - first.min()) + 1, what)
        dst = self._rows("ACC", f["dst"], rows, what)
        vals = self.acc[first]                                            # [rows, members, D]
        valid = np.ones((n, d), bool)
        valid[n - 1, lanes:] = False
        op = f["red_op"]
        if op == "SUM":
            r = np.where(valid, vals, 0).sum(axis=(1, 2))
        elif op == "MAX":
            r = np.where(valid, vals, np.iinfo(np.int64).min).max(axis=(1, 2))
        else:
            r = np.where(valid, vals, np.iinfo(np.int64).max).min(axis=(1, 2))
        self.acc[dst] = _sat32(r)[:, None]

    def _lut(self, ins: Instr, what: str) -> None:
        f = ins.f
        rows = f["rows"]
        n = self.hw.lut_rows_per_table
        t = self.lut[self._rows("LUT", f["table"], n, what)].ravel()[:256]
        a = self.acc[self._rows("ACC", f["src"], rows, what)] + f["offset"]
        if a.size and (a.min() < 0 or a.max() > 255):
            raise SimError(f"{what}: table index outside [0, 255]")
        self.acc[self._rows("ACC", f["dst"], rows, what)] = t[a]

    def _config(self, ins: Instr, what: str) -> None:
        f = ins.f
        if f["reg"] == "GATHER":
            if f["a"] < 0:
                raise SimError(f"{what}: negative gather bound {f['a']}")
            self.gather_bound = f["a"]
        elif f["reg"] == "VERSION":
            if not 1 <= f["a"] <= ISA_VERSION:
                raise SimError(f"{what}: the stream needs ISA version {f['a']}; this simulator "
                               f"implements versions 1..{ISA_VERSION}")
        elif f["reg"] == "CLAMP":
            self.clamp = (f["a"], f["b"], f["d"])
        elif f["reg"] == "SCALE":
            self.scale = (f["a"], f["c"], f["b"])
        elif f["reg"] == "GEMM_ROWS":
            self.gemm_rows = (f["a"], f["b"], f["c"])
        elif f["reg"] == "GEMM_TAPS":
            self.gemm_taps = (f["a"], f["b"])
        elif f["reg"] == "LOAD_OUTER":
            self.load_outer = (f["a"], f["b"], f["d"], f["c"])
        elif f["reg"] == "IM2COL":
            self.im2col = (f["a"], f["b"], f["c"], f["d"])
        elif f["reg"] == "STORE_OUTER":
            self.store_outer = (f["a"], f["b"], f["d"])
        elif f["reg"] == "RADD":
            self.radd = (f["a"], f["b"], f["c"], f["d"])
        elif f["reg"] == "RADD_ZP":
            self.radd_zp = (f["a"], f["b"], f["d"])
        elif f["reg"] == "RADD_CLAMP":
            self.radd_clamp = (f["a"], f["b"], f["d"])
        else:
            self.alu_scale = (f["a"], f["b"], f["c"])
            if not arith.SHIFT_MIN <= f["c"] <= arith.SHIFT_MAX:
                raise SimError(f"{what}: ALU_SCALE shift {f['c']} outside [1, 62]")

    def _finish(self, ins: Instr, what: str) -> None:
        pass
