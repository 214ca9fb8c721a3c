"""One function per kernel family: a ``qcc.lower`` call -> the C kernel call.

Each returns (kernel group, C function, parameter struct, initializer values, operands).
The struct fields (templates/kernels/*.h) are the C kernel ABI; the initializer dicts list
them in declaration order.  Operands are :class:`~.cprogram.Arg` with the pointer type the
C prototype takes.
"""

from __future__ import annotations

from qcc.ir import DType
from qcc.lower import kernels as K

from .cprogram import CTYPES, NULL, Arg, ConstArray, cident, dtype_code
from .lut_pack import lut_gmult, lut_guard, lut_planes, lut_rule, unpack_rows

BINARY_OPS = {"add": 0, "sub": 1, "mul": 2, "max": 3, "min": 4}
REDUCE_OPS = {"mean": 0, "max": 1, "min": 2}


class Operands:
    """Makes :class:`Arg` operands of one call (constants by their C array name)."""

    def __init__(self, kp, cnames: dict, program=None):
        self.kp, self.cnames, self.program = kp, cnames, program

    def val(self, v, ctype=None, write=False) -> Arg:
        if v is None:
            return NULL
        if v.is_const:
            return self.cst(self.kp.const_of(v), ctype)
        return Arg("val", v, ctype=ctype or CTYPES[v.dtype], write=write)

    def out(self, v, ctype=None) -> Arg:
        return self.val(v, ctype, write=True)

    def cst(self, c, ctype=None) -> Arg:
        if c is None:
            return NULL
        return Arg("const", cname=self.cnames[c.key], ctype=ctype or CTYPES[c.dtype])

    def derived(self, key: str, data, ctype: str, source: str, guard: str) -> Arg:
        """A constant array the C backend derives (a kernel's own layout of a weight), in
        NAME_weights.c under the macro ``guard``; the call passes NULL where it is undefined."""
        if key not in self.cnames:
            used = {c.cname for c in self.program.consts.values()}
            base = cident(f"{self.kp.name}_t_{key}")
            name, i = base, 1
            while name in used:
                name, i = f"{base}_{i}", i + 1
            self.cnames[key] = name
            self.program.consts[key] = ConstArray(name, ctype, data, source, guard)
        return Arg("const", cname=self.cnames[key], ctype=ctype)


def _epi(e: K.Epilogue) -> dict:
    """y_zp/lo/hi/per_channel of an array epilogue (all 0 when the call writes int32)."""
    if not e.requant:
        return dict(y_zp=0, lo=0, hi=0, per_channel=0)
    return dict(y_zp=e.zero_point, lo=e.lo, hi=e.hi, per_channel=int(e.per_channel))


def _y_dt(e: K.Epilogue) -> str:
    return "QCC_I32" if e.out_dtype is DType.int32 else dtype_code(e.out_dtype)


def _ms(e: K.Epilogue) -> dict:
    """m/s of a per-tensor epilogue passed by value (m 0, s 1 when there is none)."""
    if not e.requant:
        return dict(m=0, s=1)
    return dict(m=e.mult.scalar, s=e.shift.scalar)


def _fn(name: str, k: K.Kernel) -> str:
    """The C function of a call: ``name`` or, for ``acc_bits=64``, its int64 form ``name64``
    (docs/arithmetic.md 5.1; the same parameter struct and operands)."""
    return name + "64" if k.acc_bits == 64 else name


def _grouping(g) -> tuple:
    return (g.gmult, g.size, g.shift, g.groups) if g is not None else (None, 0, 0, 0)


def conv2d(o: Operands, k: K.Conv2d):
    g, e = k.geom, k.epi
    q = _epi(e)
    gm, gsize, gshift, ng = _grouping(k.grouping)
    params = dict(n=g.n, c=g.c, h=g.h, w=g.w, m=g.m, oh=g.oh, ow=g.ow, kh=g.kh, kw=g.kw,
                  sh=g.sh, sw=g.sw, dh=g.dh, dw=g.dw, pt=g.pt, pl=g.pl, group=g.group,
                  x_zp=k.x_zp, y_zp=q["y_zp"], lo=q["lo"], hi=q["hi"],
                  per_channel=q["per_channel"], pb=k.block, y_dt=_y_dt(e), gsize=gsize,
                  gshift=gshift, ng=ng, wbits=k.wbits, pwc=k.pw_cols)
    args = [o.val(k.x), o.cst(k.w), o.cst(e.bias), o.cst(e.mult), o.cst(e.shift), o.cst(gm),
            o.out(k.y, "void"), Arg("scratch", ctype="void")]
    return "conv2d", _fn("qcc_conv2d", k), "qcc_conv2d_p", params, args


def conv_transpose2d(o: Operands, k: K.ConvTranspose2d):
    g, e = k.geom, k.epi
    q = _epi(e)
    nph = len(k.phases.data) // 12 if k.phases is not None else 0
    params = dict(n=g.n, c=g.c, h=g.h, w=g.w, m=g.m, oh=g.oh, ow=g.ow, kh=g.kh, kw=g.kw,
                  sh=g.sh, sw=g.sw, dh=g.dh, dw=g.dw, pt=g.pt, pl=g.pl, group=g.group,
                  x_zp=k.x_zp, y_zp=q["y_zp"], lo=q["lo"], hi=q["hi"],
                  per_channel=q["per_channel"], nph=nph, buf=k.phase_scratch)
    args = [o.val(k.x), o.cst(k.w, "int8_t"), o.cst(e.bias), o.cst(e.mult), o.cst(e.shift),
            o.cst(k.phases), o.out(k.y, "void"), Arg("scratch", ctype="void")]
    return "conv_transpose2d", "qcc_conv_transpose2d", "qcc_convt_p", params, args


def linear(o: Operands, k: K.Linear):
    e = k.epi
    q = _epi(e)
    gm, gsize, gshift, ng = _grouping(k.grouping)
    params = dict(rows=k.rows, k=k.k, n=k.n, x_dt=dtype_code(k.x.dtype), y_dt=_y_dt(e),
                  x_zp=k.x_zp, y_zp=q["y_zp"], lo=q["lo"], hi=q["hi"],
                  per_channel=q["per_channel"], gsize=gsize, gshift=gshift, ng=ng, wbits=k.wbits)
    args = [o.val(k.x, "void"), o.cst(k.w), o.cst(e.bias), o.cst(e.mult), o.cst(e.shift),
            o.cst(gm), o.out(k.y, "void"), Arg("scratch", ctype="int16_t")]
    if k.acc_bits != 64 and lut_rule(k.wbits, k.rows, k.k, k.n, gsize or k.k, gm is not None):
        # the table-lookup kernel's bit planes (x86 AVX2 builds; docs/target_c.md)
        rows = unpack_rows(k.w.data, k.wbits, k.n, k.k)
        guard = lut_guard(k.rows)
        wl = o.derived(f"{k.w.key}.lut", lut_planes(rows, k.wbits, gsize or k.k), "uint8_t",
                       f"{k.w.source}, bit planes", guard)
        gml = NULL if gm is None else o.derived(
            f"{gm.key}.lut{guard}", lut_gmult(gm.data, k.n), "int32_t",
            f"{gm.source}, by blocks of 16 features", guard)
        return "linear", "qcc_linear_lut", "qcc_linear_p", params, args[:2] + [wl, gml] + args[2:]
    return "linear", _fn("qcc_linear", k), "qcc_linear_p", params, args


def matmul(o: Operands, k: K.Matmul):
    e = k.epi
    q = _epi(e)
    params = dict(batch=k.batch, m=k.m, k=k.k, n=k.n, a_dt=dtype_code(k.a.dtype),
                  b_dt=dtype_code(k.b.dtype), a_zp=k.a_zp, b_zp=k.b_zp, y_dt=_y_dt(e),
                  y_zp=q["y_zp"], lo=q["lo"], hi=q["hi"], packed=int(k.packed))
    args = [o.val(k.a, "void"), o.val(k.b, "void"), o.cst(k.a_off), o.cst(k.b_off),
            o.cst(e.mult), o.cst(e.shift), o.out(k.y, "void"), Arg("scratch", ctype="void")]
    return "matmul", _fn("qcc_matmul", k), "qcc_matmul_p", params, args


def binary(o: Operands, k: K.Binary):
    e = k.epi
    if e.requant:
        mv = e.mult.values
        ma, mb, s = mv[0], (mv[1] if len(mv) > 1 else 0), e.shift.scalar
    else:
        ma, mb, s = 0, 0, 1
    params = dict(d=k.dims, sa=k.sa, sb=k.sb, op=BINARY_OPS[k.op], a_zp=k.a_zp, b_zp=k.b_zp,
                  y_zp=e.zero_point, lo=e.lo, hi=e.hi, ma=ma, mb=mb, s=s,
                  a_dt=dtype_code(k.a.dtype), b_dt=dtype_code(k.b.dtype),
                  y_dt=dtype_code(k.y.dtype))
    args = [o.val(k.a, "void"), o.val(k.b, "void"), o.out(k.y, "void")]
    return "binary", "qcc_binary", "qcc_binary_p", params, args


def requant(o: Operands, k: K.Requant):
    e = k.epi
    params = dict(outer=k.outer, channels=k.channels, inner=k.inner,
                  per_channel=int(e.per_channel), x_dt=dtype_code(k.x.dtype),
                  y_dt=dtype_code(k.y.dtype), x_zp=k.x_zp, y_zp=e.zero_point, lo=e.lo, hi=e.hi)
    args = [o.val(k.x), o.cst(e.mult), o.cst(e.shift), o.out(k.y)]
    return "requant", "qcc_requant_op", "qcc_requant_p", params, args


def lut(o: Operands, k: K.Lut):
    params = dict(count=k.count, x_unsigned=int(k.x.dtype is DType.uint8), channels=k.channels,
                  inner=k.inner)
    args = [o.val(k.x, "uint8_t"), o.cst(k.table, "uint8_t"), o.out(k.y, "uint8_t")]
    return "lut", "qcc_lut", "qcc_lut_p", params, args


def concat(o: Operands, k: K.ConcatPart):
    e = k.epi
    params = dict(outer=k.outer, inner=k.inner, stride=k.stride, offset=k.offset, x_zp=k.x_zp,
                  y_zp=e.zero_point, lo=e.lo, hi=e.hi, **_ms(e), x_dt=dtype_code(k.x.dtype),
                  y_dt=dtype_code(k.y.dtype))
    return "concat", "qcc_concat_part", "qcc_concat_p", params, [o.val(k.x, "void"), o.out(k.y, "void")]


def pool(o: Operands, k: K.Pool):
    e = k.epi
    params = dict(n=k.n, c=k.c, h=k.h, w=k.w, oh=k.oh, ow=k.ow, kh=k.kh, kw=k.kw, sh=k.sh,
                  sw=k.sw, pt=k.pt, pl=k.pl, include_pad=int(k.include_pad), x_zp=k.x_zp,
                  y_zp=e.zero_point, lo=e.lo, hi=e.hi)
    if k.op == "avg":
        args = [o.val(k.x), o.cst(e.mult), o.cst(e.shift), o.out(k.y)]
        return "pool", _fn("qcc_avgpool", k), "qcc_pool_p", params, args
    return "pool", "qcc_maxpool", "qcc_pool_p", params, [o.val(k.x), o.out(k.y)]


def global_avgpool(o: Operands, k: K.GlobalAvgPool):
    e = k.epi
    params = dict(planes=k.planes, size=k.size, x_zp=k.x_zp, y_zp=e.zero_point, lo=e.lo,
                  hi=e.hi, **_ms(e))
    return "pool", _fn("qcc_global_avgpool", k), "qcc_gap_p", params, [o.val(k.x), o.out(k.y)]


def reduce(o: Operands, k: K.Reduce):
    e = k.epi
    params = dict(d=k.dims, ys=k.ys, out_count=k.out_count, op=REDUCE_OPS[k.op], x_zp=k.x_zp,
                  y_zp=e.zero_point, lo=e.lo, hi=e.hi, **_ms(e))
    if k.acc_bits == 64:
        args = [o.val(k.x), o.out(k.y), Arg("scratch", ctype="int64_t")]
        return "reduce", "qcc_reduce_sum64", "qcc_reduce_p", params, args
    args = [o.val(k.x), o.out(k.y), Arg("scratch", ctype="int32_t")]
    return "reduce", "qcc_reduce", "qcc_reduce_p", params, args


def argmax(o: Operands, k: K.ArgMax):
    params = dict(outer=k.outer, n=k.n, inner=k.inner, x_dt=dtype_code(k.x.dtype),
                  is_min=int(k.is_min), select_last=int(k.select_last))
    return ("reduce", "qcc_argmax", "qcc_argmax_p", params,
            [o.val(k.x, "void"), o.out(k.y, "int64_t")])


def resize(o: Operands, k: K.Resize):
    params = dict(planes=k.planes, h=k.h, w=k.w, oh=k.oh, ow=k.ow, x_zp=k.x_zp, lo=k.lo,
                  hi=k.hi)
    fn = "qcc_resize_nearest" if k.mode == "nearest" else "qcc_resize_linear"
    args = [o.val(k.x), o.cst(k.ty), o.cst(k.tx), o.out(k.y)]
    return "resize", fn, "qcc_resize_p", params, args


def copy(o: Operands, k: K.CopyNd):
    params = dict(d=k.dims, xs=k.xs, off=k.offset, esize=k.esize)
    return ("move", "qcc_copy_nd", "qcc_copy_p", params,
            [o.val(k.x, "void"), o.out(k.y, "void")])


def gather_table(o: Operands, k: K.GatherTable):
    params = dict(count=k.count, esize=k.esize, fill=k.fill)
    return ("move", "qcc_gather_table", "qcc_table_p", params,
            [o.val(k.x, "void"), o.cst(k.index), o.out(k.y, "void")])


def gather(o: Operands, k: K.Gather):
    params = dict(outer=k.outer, axis=k.axis, inner=k.inner, idx_count=k.idx_count,
                  idx_64=int(k.indices.dtype is DType.int64), esize=k.esize)
    return ("move", "qcc_gather", "qcc_gather_p", params,
            [o.val(k.data, "void"), o.val(k.indices, "void"), o.out(k.y, "void")])


def logic(o: Operands, k: K.Logic):
    ops = [k.a, k.b, k.c]
    codes = [dtype_code(v.dtype) if v is not None else "QCC_I8" for v in ops]
    params = dict(d=k.dims, sa=k.sa, sb=k.sb, sc=k.sc, op=K.LOGIC_OPS.index(k.op),
                  a_dt=codes[0], b_dt=codes[1], c_dt=codes[2], y_dt=dtype_code(k.y.dtype))
    args = [o.val(v, "void") for v in ops] + [o.out(k.y, "void")]
    return "logic", "qcc_logic", "qcc_logic_p", params, args


def threshold(o: Operands, k: K.Threshold):
    params = dict(count=k.count, nt=k.nt, x_dt=dtype_code(k.x.dtype), y_dt=dtype_code(k.y.dtype))
    args = [o.val(k.x, "void"), o.cst(k.thresholds), o.cst(k.values), o.out(k.y, "void")]
    return "threshold", "qcc_threshold", "qcc_threshold_p", params, args


def isoftmax(o: Operands, k: K.ISoftmax):
    params = dict(d=k.dims, ms=k.ms, ml=k.ml, len=k.length, x_dt=dtype_code(k.x.dtype),
                  variant=0 if k.variant == "ibert" else 1, frac_bits=k.frac_bits,
                  d_clip=k.d_clip, z_max=k.z_max, q_ln2=k.q_ln2, q_b=k.q_b, q_c=k.q_c,
                  e_shift=k.e_shift, **_ms(k.epi))
    args = [o.val(k.x, "void"), o.val(k.mask, "uint8_t"), o.out(k.y, "uint8_t"),
            Arg("scratch", ctype="int32_t")]
    return "transformer", "qcc_isoftmax", "qcc_isoftmax_p", params, args


def igelu(o: Operands, k: K.IGelu):
    e = k.epi
    params = dict(count=k.count, x_dt=dtype_code(k.x.dtype), y_dt=dtype_code(k.y.dtype),
                  x_zp=k.x_zp, q_l=k.q_l, c1=k.c1, f_shift=k.f_shift, x_max=k.x_max, **_ms(e),
                  y_zp=e.zero_point, lo=e.lo, hi=e.hi)
    return ("transformer", "qcc_igelu", "qcc_igelu_p", params,
            [o.val(k.x, "void"), o.out(k.y, "void")])


def ilayernorm(o: Operands, k: K.ILayerNorm):
    e = k.epi
    params = dict(rows=k.rows, len=k.length, x_dt=dtype_code(k.x.dtype),
                  y_dt=dtype_code(k.y.dtype), x_zp=k.x_zp, cl=k.cl, sh_eps=k.sh_eps,
                  eps_frac=k.eps_frac, **_ms(e), y_zp=e.zero_point, lo=e.lo, hi=e.hi,
                  eps_q=k.eps_q)
    args = [o.val(k.x, "void"), o.cst(k.gamma), o.cst(k.beta), o.out(k.y, "void")]
    return "transformer", "qcc_ilayernorm", "qcc_ilayernorm_p", params, args


def _rnn_params(k) -> dict:
    return dict(seq=k.seq, batch=k.batch, **{"in": k.inputs}, hid=k.hidden, dirs=k.dirs,
                reverse=int(k.reverse), x_dt=dtype_code(k.x.dtype), x_zp=k.x_zp, h_zp=k.h_zp,
                cell_frac=getattr(k, "cell_frac", 0), lbr=getattr(k, "linear_before_reset", 0),
                mo=k.mo, so=k.so)


def lstm(o: Operands, k: K.Lstm):
    args = [o.val(k.x, "void"), o.cst(k.w), o.cst(k.r), o.cst(k.bias), o.cst(k.mx), o.cst(k.sx),
            o.cst(k.mh), o.cst(k.sh), o.val(k.h0), o.val(k.c0), o.cst(k.sigmoid), o.cst(k.tanh),
            o.out(k.y), o.out(k.yh), o.out(k.yc), Arg("scratch", ctype="int32_t")]
    return "rnn", "qcc_lstm", "qcc_rnn_p", _rnn_params(k), args


def gru(o: Operands, k: K.Gru):
    args = [o.val(k.x, "void"), o.cst(k.w), o.cst(k.r), o.cst(k.bx), o.cst(k.bh), o.cst(k.mx),
            o.cst(k.sx), o.cst(k.mh), o.cst(k.sh), o.val(k.h0), o.cst(k.sigmoid), o.cst(k.tanh),
            o.out(k.y), o.out(k.yh), Arg("scratch", ctype="int32_t")]
    return "rnn", "qcc_gru", "qcc_rnn_p", _rnn_params(k), args


RENDER = {"conv2d": conv2d, "conv_transpose2d": conv_transpose2d, "linear": linear,
          "matmul": matmul, "binary": binary, "requant": requant, "lut": lut, "concat": concat,
          "pool": pool, "global_avgpool": global_avgpool, "reduce": reduce, "argmax": argmax,
          "resize": resize, "copy": copy, "gather_table": gather_table, "gather": gather,
          "logic": logic, "threshold": threshold, "isoftmax": isoftmax, "igelu": igelu,
          "ilayernorm": ilayernorm, "lstm": lstm, "gru": gru}
