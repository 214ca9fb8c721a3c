"""A residual add/sub fused into the STORE epilogue of the conv/linear before it (ISA v8
STORE ``radd``).

``y = conv(x)`` followed by ``z = add(y, v)`` (or ``sub``, either operand order) ran as a
separate vector pass: the conv STOREd ``y`` to DRAM, the pass LOADed ``y`` and ``v`` into
the accumulator, centred both, DYADD, STORE ``z`` (docs/target_accel.md §7).  Fused, the LD
engine loads the tile's rows of ``v`` (int8, the same positions and lanes as the tile's
output) into the input buffer, and each STORE of the conv computes, after its own
requantization and clamp (and a fused LUT), exactly the integer add of the contract
(``qcc.ops.integer_elementwise._addsub_run``): ``clamp(rshift_round((y - z_y) m_y +
(v - z_v) m_v, s) + zp, lo, hi)``; ``y`` never goes to DRAM.

The operand rows mirror the accumulator: accumulator row ``a`` of a STORE reads input-buffer
row ``base + a`` (``base`` = CONFIG RADD ``d``), so every accumulator slot has its operand
slot, named by its row interval, which the stream builder orders like any buffer resource
(the LD group of a tile's operand waits for the STOREs that last read those rows).  The
``hw.acc_rows`` rows from ``base`` are taken from the layer's input slots (``inp_range``),
below a resident region if there is one (resident.py).
"""

from __future__ import annotations

from dataclasses import dataclass

I32 = (-(1 << 31), (1 << 31) - 1)


@dataclass(frozen=True)
class Radd:
    node: str          # the add/sub node fused into the STOREs
    addr: int          # the operand v: DRAM address and row pitch (rows = output positions)
    pitch: int
    res: tuple         # its DRAM resource
    alias: bool        # the add's output overwrites v in place (same bytes)
    my: int            # multiplier and zero point of the conv's value y
    zy: int
    mv: int            # ... of the operand v (negative for a subtraction)
    zv: int
    s: int             # the shift, the output zero point and clamp
    zp: int
    lo: int
    hi: int
    base: int = -1     # first input-buffer row of the operand area (acc_rows rows; wide: 2x)
    wide: bool = False  # v10: an int16 operand (STORE rwide): its channels < DIM/2 in the
    #                     acc_rows rows from base, the others from base + hoff (= acc_rows)
    hoff: int = 0

    def area_rows(self, hw) -> int:
        """Input-buffer rows of the operand area (one or two mirrors of the accumulator)."""
        return hw.acc_rows * (2 if self.wide else 1)


def fusable(ctx, call, y, nxt):
    """(the add/sub call, its Radd without a base) when the next group is an add/sub of ``y``
    (the conv's output, or its fused LUT's; int8 or int16, the sum of the same dtype) and a
    run-time int8 or (v10, an even DIM) int16 tensor of the same shape and layout, and nothing
    else reads ``y``; else None."""
    from .gemm_emit import _own_rows
    from .resident import _read_elsewhere

    hw, kp = ctx.hw, ctx.kp
    if not hw.store_radd or not nxt or len(nxt) != 1 or hw.acc_rows > hw.inp_rows // 8:
        return None
    u = nxt[0]
    if u.family != "binary" or u.op not in ("add", "sub") or ctx.why_host(u) is not None:
        return None
    ry = kp.root(y).name
    mine = [kp.root(o).name == ry and not o.is_const for o in (u.a, u.b)]
    if sum(mine) != 1:
        return None
    w, v = (u.a, u.b) if mine[0] else (u.b, u.a)
    shape = tuple(y.shape)
    # v int8, or int16 as two int8 lanes per value (v10 rwide: the input buffer holds int8);
    # y and the sum int8, or both int16 (the residual stream of a transformer)
    wide = v.dtype.name == "int16"
    if v.is_const or any(tuple(t.shape) != shape for t in (w, v, u.y)) \
            or v.dtype.name not in ("int8", "int16") or y.dtype.name not in ("int8", "int16") \
            or u.y.dtype != y.dtype or (wide and (not hw.radd_wide or hw.dim % 2
                                                  or 2 * hw.acc_rows > hw.inp_rows // 4)):
        return None
    yr, vr, zr = ctx.region(y), ctx.region(v), ctx.region(u.y)
    if not all(_own_rows(r, yr.rows) and (r.rows, r.lanes, r.layout) == (yr.rows, yr.lanes, yr.layout)
               for r in (vr, zr)) or not _own_rows(yr, yr.rows) or _read_elsewhere(ctx, y, u):
        return None
    alias = vr.addr == zr.addr
    if not alias and vr.addr < zr.addr + zr.nbytes and zr.addr < vr.addr + vr.nbytes:
        return None   # partly overlapping bytes: row intervals would not describe the hazard
    if alias and kp.root(call.x).name == kp.root(v).name:
        return None   # the sum would overwrite input rows that the conv's later tiles read
    epi = u.epi
    m0, m1, s = int(epi.mult.values[0]), int(epi.mult.values[1]), int(epi.shift.values[0])
    sign = -1 if u.op == "sub" else 1
    za, zb = int(u.a_zp), int(u.b_zp)
    my, zy, mv, zv = (m0, za, sign * m1, zb) if mine[0] else (sign * m1, zb, m0, za)
    if not all(I32[0] <= q <= I32[1] for q in (my, mv)):
        return None
    return u, Radd(u.node.name, vr.addr, vr.lanes * vr.esize, ctx.res(v), alias, my, zy, mv, zv,
                   s, int(epi.zero_point), int(epi.lo), int(epi.hi), wide=wide)


def place(hw, in_spec, out_spec, rows: int) -> tuple[int, tuple | None]:
    """(first input-buffer row of the operand area, the layer's ``inp_range`` or None): the
    area's ``rows`` rows just below the resident region at the top of the buffer (or its end),
    above a resident region at row 0."""
    n = hw.inp_rows
    regions = [s for s in (in_spec, out_spec) if s is not None]
    top = min([n] + [s.base for s in regions if s.base > 0])
    base = top - rows
    return base, ((0, base) if in_spec is None else None)


def acc_span(res, hw) -> tuple[int, int]:
    """Accumulator rows of a slot resource: a half ``("ACC", k)`` or an interval."""
    if len(res) == 2:
        h = hw.acc_rows // 2
        return res[1] * h, (res[1] + 1) * h
    return res[1], res[2]


def config(g, ra: Radd) -> None:
    """The ST engine's RADD registers (before the layer's first fused STORE)."""
    from .isa import make

    g.add(make("CONFIG", reg="RADD", a=ra.my, b=ra.mv, c=ra.s, d=ra.base, note=f"radd {ra.node}"))
    g.add(make("CONFIG", reg="RADD_ZP", a=ra.zy, b=ra.zv, d=ra.hoff,
               note=f"radd {ra.node}" + (" (int16 operand)" if ra.wide else "")))
    g.add(make("CONFIG", reg="RADD_CLAMP", a=ra.zp, b=ra.lo, d=ra.hi, note=f"radd {ra.node}"))
