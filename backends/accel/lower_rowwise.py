"""Rendering of the row-wise transformer families with ISA v2: ``isoftmax`` and
``ilayernorm`` (docs/target_accel.md §7, the reference semantics in
``qcc.ops.integer_transformer``).

A chunk of ``n`` rows of a ``rows x L`` matrix sits in the accumulator as ``B = ceil(L/DIM)``
*planes* of ``n`` rows (plane ``b`` holds lanes ``b*DIM ..`` of every row: one LOAD per
plane).  A row's statistic (its maximum, sum, shift, ...) is one accumulator row of ``n``
with every lane equal: REDUCE over the ``B`` members ``r, r + n, ..`` writes it; an ALU op
with ``src_div = n, src_mod = 1`` applies it to every plane; per-position constants (gamma,
beta) are one row per plane (``src_div = n``).  Lanes past ``L`` in the last plane are
excluded by REDUCE's ``lanes`` and never stored.  Each step is the reference's integer step
(the bounds that make int32 saturation unreachable are checked here or in the comments).
"""

from __future__ import annotations

import numpy as np

from .elem_operands import Mat, mat
from .isa import make
from .layout import ESIZE
from .lower_elem import IDENTITY, MAX_ROWS

IMM_MIN, IMM_MAX = -(1 << 31), (1 << 31) - 1
LN_VAR_BITS, LN_N_BITS, LN_REFINE_BITS = 30, 15, 28


def _iexp0(call) -> int:
    """exp(0) of the i-exp: the value at each row's maximum (a lower bound of the sum)."""
    if call.variant == "ibert":
        return (int(call.q_b) ** 2 + int(call.q_c)) >> int(call.e_shift)
    return 1 << 16


def _rowwise_ok(ctx, call, length: int) -> str | None:
    for v in (call.x, call.y):
        r = ctx.region(v)
        if v.is_const or not r.compat or r.layout == "cl" or r.lanes != length:
            return f"'{v.name}' is not a row-major matrix with the normalized axis as lanes"
    return None


def check_rowwise(ctx, call) -> str | None:
    """Why a softmax/LayerNorm call cannot be rendered (None when it can)."""
    if call.family == "isoftmax":
        why = _rowwise_ok(ctx, call, call.length)
        if why or call.inner != 1:
            return why or "softmax over a strided axis"
        if call.mask is not None:
            # a constant mask (a causal mask folded at compile time) has no DRAM region
            rm = None if call.mask.is_const else ctx.region(call.mask)
            if rm is None or not rm.compat or rm.layout == "cl" or call.ml != 1 \
                    or ESIZE.get(rm.dtype) != 1:
                return "the mask is not a byte matrix with the softmax axis as lanes"
        imms = [call.d_clip, call.epi.mult.values[0], call.q_ln2, call.q_b, call.q_c,
                1 << max(0, 16 - call.frac_bits)]
        if call.variant != "ibert" and call.frac_bits > 16:
            return "shiftmax with more than 16 fraction bits"
        if any(not 0 <= int(v) <= IMM_MAX for v in imms) or call.z_max + call.e_shift > 62:
            return "softmax constants outside the 32-bit immediates"
        if (1 << 40) // max(_iexp0(call), 1) > IMM_MAX:
            return "exp(0) below 2^9: the reciprocal of the row sum can leave int32"
        return None if _chunk_rows(ctx, call.length, 6, 1) else "rows too long for the accumulator"
    why = _rowwise_ok(ctx, call, call.length)
    if why:
        return why
    if call.x.dtype.bits > 16 or 2 * call.length * (1 << call.x.dtype.bits) > IMM_MAX:
        return "the centred sums of 32-bit inputs can leave int32"
    g = np.abs(np.asarray(call.gamma.data, np.int64))
    b = np.abs(np.asarray(call.beta.data, np.int64))
    if int(g.max(initial=0)) * (1 << (LN_N_BITS + 1)) + int(b.max(initial=0)) > IMM_MAX:
        return "n * gamma + beta can leave int32"
    if (33 + call.cl) // 2 - max(call.sh_eps, -15) > 255:
        return "the epsilon table needs more than 256 entries"
    return None if _chunk_rows(ctx, call.length, 4, 12) else "rows too long for the accumulator"


def _chunk_rows(ctx, length: int, planes: int, stats: int) -> int:
    """Rows per chunk: ``planes`` plane sets of ``B`` rows and ``stats`` statistic rows per row
    in half of the accumulator (0: not even one row fits)."""
    nb = -(-length // ctx.hw.dim)
    half = ctx.hw.acc_rows // 2 - 2 * nb
    return max(0, min(MAX_ROWS, 4095 // nb, half // (planes * nb + stats)))


class RowwiseLowering:
    FAMILIES = ("isoftmax", "ilayernorm")

    def __init__(self, ctx, elem):
        self.ctx, self.elem = ctx, elem
        self.d = ctx.hw.dim
        self.half = ctx.hw.acc_rows // 2
        self.aslot = 0

    def lower(self, call) -> None:
        getattr(self, call.family)(call)

    def _slot(self):
        k = self.aslot % 2
        self.aslot += 1
        return k * self.half, ("ACC", k)

    # -- emitters -------------------------------------------------------------------------
    def _a(self, op, dst, rows, imm=None, src=None, per=0, mod=0, shift=0, note=""):
        """ALU over ``rows`` rows from ``dst``: immediate, or source rows (``per``: the row
        of group ``i // per`` / member ``i % per`` with ``mod``)."""
        if imm is not None or src is None:
            self.g.add(make("ALU", alu_op=op, use_imm=1, dst=dst, rows=rows, dst_inc=1,
                            imm=int(imm or 0), shift=shift, note=note))
        else:
            self.g.add(make("ALU", alu_op=op, dst=dst, src=src, rows=rows, dst_inc=1, src_inc=1,
                            src_div=per, src_mod=mod, shift=shift, note=note))

    def _reduce(self, op, dst, src, n, nb, length, note=""):
        self.g.add(make("REDUCE", red_op=op, dst=dst, src=src, rows=n, gstride=1, members=nb,
                        mstride=n, lanes=(length - (nb - 1) * self.d) % self.d, note=note))

    def _chunks(self, call, planes, stats, slabs=None):
        """(first row, rows, accumulator base, slot) of each chunk; with ``slabs`` = (count,
        rows per slab) chunks stay inside a slab."""
        rows = mat(self.ctx.region(call.y)).rows
        nmax = _chunk_rows(self.ctx, call.length, planes, stats)
        count, per = slabs or (1, rows)
        for s in range(count):
            for i0 in range(0, per, nmax):
                base, slot = self._slot()
                yield s * per + i0, min(nmax, per - i0), base, slot

    def _load_planes(self, m: Mat, r0, n, nb, dst):
        for b in range(nb):
            self.elem._load(self.g, m, r0, n, b, dst + b * n)

    def _store_planes(self, st, m: Mat, r0, n, nb, src):
        for b in range(nb):
            self.elem._store(st, m, r0, n, b * self.d, min(self.d, m.lanes - b * self.d),
                             src + b * n)

    # -- softmax ----------------------------------------------------------------------------
    def isoftmax(self, call) -> None:
        ctx, d, L = self.ctx, self.d, call.length
        nb = -(-L // d)
        mx, my = mat(ctx.region(call.x)), mat(ctx.region(call.y))
        epi = call.epi
        self.elem._config_st(epi.zero_point, epi.lo, epi.hi, *IDENTITY,
                             note=f"softmax {call.node.name}")
        d0, d1, d2 = (list(call.dims) + [1, 1, 1])[:3]
        mask = call.mask
        reads = [ctx.res(call.x)] + ([ctx.res(mask)] if mask is not None else [])
        out, join = self.elem._outputs(call.y, (call.x,) + ((mask,) if mask is not None else ()))
        for k, (r0, n, base, slot) in enumerate(self._chunks(call, 6, 1, (d0 * d1, d2)
                                                             if mask is not None else None)):
            self.g = ctx.b.group("ex", reads=reads, writes=[slot])
            p = nb * n
            x, m, v, t, z, w = (base + i * p for i in range(6))
            s = base + 6 * p
            self._load_planes(mx, r0, n, nb, x)
            if mask is not None:
                self._mask(call, r0, n, nb, x, m, v, t, s)
            else:
                self._reduce("MAX", s, x, n, nb, L, note="row max")
            self._softmax_body(call, n, nb, x, v, t, z, w, s)
            st = ctx.b.group("st", reads=[slot], writes=[out(k)])
            self._store_planes(st, my, r0, n, nb, t)
        join()

    def _mask(self, call, r0, n, nb, x, m, v, t, s):
        """m = [masked], v = 1 - m; the row max over the valid entries (masked ones count as
        the dtype minimum, which never exceeds a valid entry)."""
        ctx, a, p = self.ctx, self._a, nb * n
        rm = ctx.region(call.mask)
        d0, d1, d2 = (list(call.dims) + [1, 1, 1])[:3]
        ms = list(call.ms) + [0, 0, 0]
        slab = r0 // d2
        off = (slab // d1) * ms[0] + (slab % d1) * ms[1]
        mm = Mat(rm.name, rm.addr + off * rm.esize, d2, call.length, rm.dtype, ms[2] * rm.esize)
        self._load_planes(mm, r0 % d2, n, nb, m)
        a("MUL", m, p, src=m)
        a("MIN", m, p, imm=1, note="masked")
        a("MOV", v, p, src=m)
        a("MUL", v, p, imm=-1)
        a("ADD", v, p, imm=1, note="valid")
        a("MOV", t, p, src=x)
        a("MUL", t, p, src=v)
        a("MUL", m, p, imm=call.x.dtype.min)
        a("ADD", t, p, src=m, note="masked entries at the dtype minimum")
        self._reduce("MAX", s, t, n, nb, call.length, note="row max of the valid entries")

    def _softmax_body(self, call, n, nb, x, v, t, z, w, s):
        a, p = self._a, nb * n
        a("MUL", s, n, imm=-1)
        a("MOV", t, p, src=x)
        a("ADD", t, p, src=s, per=n, mod=1, note="x - max")
        a("MAX", t, p, imm=-int(call.d_clip))
        a("MUL", t, p, imm=-1)
        a("MULSHR", t, p, imm=int(call.epi.mult.values[0]), shift=int(call.epi.shift.values[0]),
          note="to scale 2^-F (64-bit product)")
        a("MUL", t, p, imm=-1)
        a("MIN", t, p, imm=0, note="d")
        if call.variant == "ibert":
            self._iexp_ibert(call, p, t, z, w)
        else:
            self._iexp_shift(call, p, t, z, w)
        if call.mask is not None:
            a("MUL", t, p, src=v, note="exp of masked entries = 0")
        self._reduce("SUM", s, t, n, nb, call.length, note="row sum")
        a("RDIV", s, n, imm=0, shift=40, note="2^40 // sum")
        a("MULSHR", t, p, src=s, per=n, mod=1, shift=32, note="e * factor >> 32")

    def _iexp_ibert(self, call, p, t, z, w):
        a, q = self._a, int(call.q_ln2)
        a("MOV", z, p, src=t)
        a("MUL", z, p, imm=-1)
        a("DIV", z, p, imm=q)
        a("MIN", z, p, imm=int(call.z_max), note="z")
        a("MOV", w, p, src=z)
        a("MUL", w, p, imm=q)
        a("ADD", t, p, src=w)
        a("MAX", t, p, imm=1 - q, note="p")
        a("ADD", t, p, imm=int(call.q_b))
        a("MUL", t, p, src=t)
        a("ADD", t, p, imm=int(call.q_c), note="poly")
        a("ADD", z, p, imm=int(call.e_shift))
        a("ASR", t, p, src=z, note="exp")

    def _iexp_shift(self, call, p, t, z, w):
        a, f = self._a, int(call.frac_bits)
        a("MOV", w, p, src=t)
        a("ASR", w, p, imm=1)
        a("MOV", z, p, src=t)
        a("ASR", z, p, imm=4)
        a("MUL", z, p, imm=-1)
        a("ADD", t, p, src=w)
        a("ADD", t, p, src=z, note="t = d * 1.4375")
        a("MOV", z, p, src=t)
        a("MUL", z, p, imm=-1)
        a("ASR", z, p, imm=f)
        a("MIN", z, p, imm=int(call.z_max), note="q")
        a("MOV", w, p, src=z)
        a("SHL", w, p, imm=f)
        a("ADD", t, p, src=w)
        a("MAX", t, p, imm=1 - (1 << f), note="r")
        a("ASR", t, p, imm=1)
        a("ADD", t, p, imm=1 << f)
        a("SHL", t, p, imm=16 - f)
        a("ASR", t, p, src=z, note="exp")

    # -- LayerNorm --------------------------------------------------------------------------
    def ilayernorm(self, call) -> None:
        ctx, d, L = self.ctx, self.d, call.length
        nb = -(-L // d)
        mx, my = mat(ctx.region(call.x)), mat(ctx.region(call.y))
        epi = call.epi
        self.elem._config_st(epi.zero_point, epi.lo, epi.hi, epi.mult.values[0],
                             epi.shift.values[0], note=f"layernorm {call.node.name}")
        gb = np.zeros((2, nb * d), np.int64)
        gb[0, :L] = np.asarray(call.gamma.data, np.int64).ravel()
        gb[1, :L] = np.asarray(call.beta.data, np.int64).ravel()
        greg = ctx.plan.add_const(call.node.name + ".gamma_beta",
                                  gb.reshape(2 * nb, d).astype(np.int32), "i32")
        tres = None
        if call.eps_q:
            tbase, tres = self.elem.load_table(call.node.name + ".eps", self._eps_table(call))
        out, join = self.elem._outputs(call.y, (call.x,))
        for k, (r0, n, base, slot) in enumerate(self._chunks(call, 4, 12)):
            self.g = ctx.b.group("ex", reads=[ctx.res(call.x)] + ([tres] if tres else []),
                                 writes=[slot])
            p = nb * n
            x, a, y2, q = (base + i * p for i in range(4))
            st = base + 4 * p
            gam = st + 12 * n
            self.g.add(make("LOAD", buf="ACC", dtype="i32", sram=gam, dram=greg.addr,
                            rows=2 * nb, cols=d, stride=d * 4, note="gamma, beta"))
            self._load_planes(mx, r0, n, nb, x)
            if call.x_zp:
                self._a("ADD", x, p, imm=-int(call.x_zp), note="centre")
            stats = [st + i * n for i in range(12)]
            self._ln_body(call, n, nb, x, a, y2, q, stats, tbase if tres else None)
            self._a("MUL", y2, p, src=gam, per=n, note="n * gamma")
            self._a("ADD", y2, p, src=gam + nb, per=n, note="+ beta")
            sg = ctx.b.group("st", reads=[slot], writes=[out(k)])
            self._store_planes(sg, my, r0, n, nb, y2)
        join()

    def _eps_table(self, call) -> list:
        """eps_row(sh) of the reference for sh = sh_lo + i (exact Python integers)."""
        lo = max(int(call.sh_eps), -15)
        out = []
        for i in range(256):
            e_sh = int(call.eps_frac) + 2 * (lo + i)
            v = int(call.eps_q) >> min(e_sh, 62) if e_sh >= 0 else int(call.eps_q) << min(-e_sh, 62)
            out.append(min(v, IMM_MAX))   # rows past the reachable shifts: never indexed
        return out

    def _shifts(self, sh, pos, neg, n):
        """pos = max(sh, 0), neg = max(-sh, 0): the two halves of _ln_y2's shift."""
        a = self._a
        a("MOV", pos, n, src=sh)
        a("MAX", pos, n, imm=0)
        a("MOV", neg, n, src=sh)
        a("MUL", neg, n, imm=-1)
        a("MAX", neg, n, imm=0)

    def _y2(self, dst, y, pos, neg, p, n):
        a = self._a
        a("MOV", dst, p, src=y)
        a("SHR", dst, p, src=pos, per=n, mod=1)
        a("SHL", dst, p, src=neg, per=n, mod=1, note="y2 = y >> sh (round) or y << -sh")

    def _ln_body(self, call, n, nb, x, a_, y2, q, s, tbase):
        """From the centred x planes to n = rshift_round(y2 * factor, 16) in y2."""
        a, p, L = self._a, nb * n, call.length
        sh, pos, neg, var, tmp = s[0], s[1], s[2], s[4], s[8]
        self._reduce("SUM", tmp, x, n, nb, L, note="row sum")
        a("MUL", x, p, imm=L)
        a("MUL", tmp, n, imm=-1)
        a("ADD", x, p, src=tmp, per=n, mod=1, note="y = C x - sum (exact centring)")
        a("MOV", a_, p, src=x)
        a("ABS", a_, p)
        self._reduce("MAX", sh, a_, n, nb, L, note="max |y|")
        a("BITLEN", sh, n)
        a("MUL", sh, n, imm=2)
        a("ADD", sh, n, imm=int(call.cl) - LN_VAR_BITS + 1)
        a("DIV", sh, n, imm=2)
        a("MAX", sh, n, imm=-15)
        a("MAX", sh, n, imm=int(call.sh_eps), note="row shift")
        self._shifts(sh, pos, neg, n)
        self._y2(y2, x, pos, neg, p, n)
        a("MOV", q, p, src=y2)
        a("MUL", q, p, src=q)
        self._reduce("SUM", var, q, n, nb, L, note="var")
        self._ln_refine(call, n, nb, x, a_, y2, q, s)
        if tbase is not None:
            a("MOV", tmp, n, src=sh)
            a("ADD", tmp, n, imm=-max(int(call.sh_eps), -15))
            a("MIN", tmp, n, imm=255)
            self.g.add(make("LUT", dst=tmp, src=tmp, rows=n, table=tbase, offset=0,
                            note="epsilon >> (eps_frac + 2 sh)"))
            a("ADD", var, n, src=tmp, note="+ eps (< 2^31)")
        a("ISQRT", var, n, note="std")
        a("RDIV", var, n, imm=-1, shift=31, note="(2^31 - 1) // std")
        a("MULSHR", y2, p, src=var, per=n, mod=1, shift=31 - LN_N_BITS, note="n")

    def _ln_refine(self, call, n, nb, x, a_, y2, q, s):
        """A row dominated by a few values (an outlier) has a far smaller var than the shift
        assumed: shift less by max((28 - bitlen(var)) // 2, 0) and keep the result where the
        new sum still fits 2^30 (sh, var, y2 updated in place)."""
        a, p, L = self._a, nb * n, call.length
        sh, pos, neg, shr, var, varr, keep, drop = s[:8]
        a("MOV", shr, n, src=var)
        a("BITLEN", shr, n)
        a("MUL", shr, n, imm=-1)
        a("ADD", shr, n, imm=LN_REFINE_BITS)
        a("DIV", shr, n, imm=2)
        a("MAX", shr, n, imm=0)
        a("MUL", shr, n, imm=-1)
        a("ADD", shr, n, src=sh)
        a("MAX", shr, n, imm=int(call.sh_eps))
        a("MAX", shr, n, imm=-15, note="refined shift")
        self._shifts(shr, pos, neg, n)
        self._y2(a_, x, pos, neg, p, n)
        a("MOV", q, p, src=a_)
        a("MUL", q, p, src=q, note="saturates only where var_r > 2^30 anyway")
        self._reduce("SUM", varr, q, n, nb, L, note="refined var")
        a("MOV", drop, n, src=varr)
        a("ADD", drop, n, imm=-(1 << LN_VAR_BITS))
        a("MAX", drop, n, imm=0)
        a("MIN", drop, n, imm=1, note="[var_r > 2^30]")
        a("MOV", keep, n, src=drop)
        a("MUL", keep, n, imm=-1)
        a("ADD", keep, n, imm=1, note="keep the refinement")
        for old, new, rows, per in ((sh, shr, n, 0), (var, varr, n, 0), (y2, a_, p, n)):
            a("MUL", old, rows, src=drop, per=per, mod=1)
            a("MUL", new, rows, src=keep, per=per, mod=1)
            a("ADD", old, rows, src=new)
