"""Build the C :class:`~.cprogram.Program` of an integer graph.

The graph is lowered by ``qcc.lower`` (schedule, constants, memory plan) with the C
target's description and kernel support; this module only names things in C: constant
arrays, pointer types, and every operand as a C expression over the caller's buffers and
the arena.
"""

from __future__ import annotations

from qcc.errors import LoweringError
from qcc.ir import DType, Graph
from qcc.lower import KernelProgram, Support, Target, lower
from qcc.lower.support import dtypes

from .calls import RENDER, Operands
from .cprogram import CTYPES, Arg, ConstArray, IoSpec, Program, Step, cident

TARGET_DESC = Target(name="c", align=16, vector_bytes=16, im2col_bytes=8192,
                     pw_direct_plane=64, matmul_pack_bytes=32768, weight_bits=(8, 4, 2),
                     convt_phases=True, lut_per_channel=True, pw_wide_cols=(64, 32))

_I8, _Q8 = dtypes("int8"), dtypes("int8", "uint8")
_Q16 = dtypes("int8", "uint8", "int16")
_OUT = dtypes("int8", "uint8", "int16", "int32")
_INT = dtypes("int8", "uint8", "int16", "int32", "int64", "bool")   # the kernels' DT_CODES
_MOVE = dtypes("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool")
# Every operand whose element type a C kernel dispatches on is listed, so a combination the
# kernels lack is a lowering problem reported with every other one, not a render error.
SUPPORT = Support({
    "conv2d": {"x": _I8, "y": _OUT},
    "conv_transpose2d": {"x": _I8, "y": dtypes("int8", "int32")},
    "linear": {"x": _Q8, "y": _OUT},
    "matmul": {"a": _Q8, "b": _Q8, "y": _OUT},
    "binary": {"a": _Q16, "b": _Q16, "y": _Q16},
    "requant": {"x": _OUT, "y": _OUT},
    "lut": {"x": _Q8, "table": _Q8},
    "concat": {"x": dtypes("int8", "int16"), "y": dtypes("int8", "int16")},  # int16: wide concats
    "pool": {"x": _I8, "y": _I8},
    "global_avgpool": {"x": _I8, "y": _I8},
    "reduce": {"x": _I8, "y": _I8},
    "argmax": {"x": _OUT, "y": dtypes("int64")},
    "resize": {"x": _I8, "y": _I8},
    "copy": {"x": _MOVE, "y": _MOVE},
    "gather_table": {"x": _MOVE, "y": _MOVE},
    "gather": {"data": _MOVE, "indices": dtypes("int32", "int64"), "y": _MOVE},
    "logic": {"a": _INT, "b": _INT, "c": _INT, "y": _INT},
    "threshold": {"x": dtypes("int8", "uint8", "int16", "int32", "int64", "bool"), "y": _Q16},
    "isoftmax": {"x": _INT, "mask": _Q8, "y": _INT},
    "igelu": {"x": _INT, "y": _INT}, "ilayernorm": {"x": _INT, "y": _INT},
    "lstm": {"x": _Q8}, "gru": {"x": _Q8},
}, wide=frozenset({"conv2d", "linear", "matmul", "pool", "global_avgpool", "reduce"}))


# kernel groups whose C calls another group's functions
KERNEL_NEEDS = {"conv_transpose2d": ("conv2d",)}  # the phases run as qcc_conv2d calls


def build_program(graph: Graph, name: str) -> Program:
    kp = lower(graph, name, TARGET_DESC, SUPPORT)
    return render_program(kp)


def render_program(kp: KernelProgram) -> Program:
    p = Program(name=kp.name, kernel_program=kp)
    p.inputs = [_io(b) for b in kp.inputs]
    p.outputs = [_io(b) for b in kp.outputs]
    cnames = _const_names(kp, p)
    ops = Operands(kp, cnames, p)
    for call in kp.calls:
        group, fn, struct, params, args = RENDER[call.family](ops, call)
        p.steps.append(Step(call.node, group, fn, struct, params, args, call.scratch,
                            call.inplace_of, call.out, call=call))
        p.kernels.add(group)
        p.kernels.update(KERNEL_NEEDS.get(group, ()))
    mp = kp.plan
    p.arena, p.lower_bound, p.strategy, p.offsets = mp.arena, mp.lower_bound, mp.strategy, mp.offsets
    p.extra_info.update(inplace=dict(mp.inplace), rejected=dict(mp.rejected), tried=dict(mp.tried))
    for i, st in enumerate(p.steps):
        st.cargs = [_expr(kp, p, a, i) for a in st.args]
    return p


def _io(b) -> IoSpec:
    return IoSpec(b.index, b.graph_name, b.value, CTYPES[b.value.dtype], b.count, b.file_dtype,
                  b.scale, b.zero_point)


def _const_names(kp: KernelProgram, p: Program) -> dict:
    """C array names of the constant buffers, in first-use order: NAME_w_<value> for IR
    constants, NAME_t_<key> for tables (prefixed so that models link together)."""
    used, names = set(), {}
    for key, c in kp.consts.items():
        base = cident(f"{kp.name}_{'w_' + c.source if c.kind == 'weight' else 't_' + key}")
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        names[key] = name
        p.consts[key] = ConstArray(name, CTYPES[c.dtype], c.data, c.source)
    return names


def _expr(kp: KernelProgram, p: Program, a: Arg, i: int) -> str:
    q = "" if a.write else "const "
    if a.kind == "null":
        return "NULL"
    if a.kind == "const":
        c = next(c for c in p.consts.values() if c.cname == a.cname)
        if c.guard:  # NULL in the builds without it (NAME_weights.h)
            return f"{c.guard}_ARG({a.cname})"
        return a.cname if c.ctype == a.ctype else f"(const {a.ctype} *){a.cname}"
    if a.kind == "scratch":
        return f"({a.ctype} *)(arena + {kp.scratch_offset(i)})"
    loc = kp.location(a.value)
    if loc.space == "arena":
        base = f"arena + {loc.offset}"
    else:
        if loc.space == "input" and a.write:
            raise LoweringError(f"target c: internal error, a step writes input "
                                f"'{kp.root(a.value).name}'")
        base = f"{'in' if loc.space == 'input' else 'out'}{loc.index}"
    return f"({q}{a.ctype} *)({base})"
