"""Render a lowered :class:`Program` into C files with the Jinja templates.

Python decides what to emit (the program); the templates under ``templates/``
say how it looks.  Files: NAME.h, NAME.c, NAME_weights.h, NAME_weights.c,
qcc_kernels.h (only the kernel groups the model uses), qcc_run.c, Makefile,
CMakeLists.txt.
"""

from __future__ import annotations

import os

import jinja2
import numpy as np

from qcc import __version__

from .cprogram import Program, c_nbytes
from .dwforms import program_forms

KERNEL_ORDER = ["conv2d", "conv_transpose2d", "linear", "matmul", "binary", "requant", "lut",
                "concat", "pool", "reduce", "resize", "move", "transformer", "threshold", "logic",
                "rnn"]
_C_SIZE = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "int32_t": 4, "int64_t": 8}
_RANGE = {"int8_t": (-128, 127), "uint8_t": (0, 255), "int16_t": (-32768, 32767)}
_ENV = None


def env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined, autoescape=False)
    return _ENV


def c_int(v) -> str:
    if isinstance(v, str):  # a symbolic constant such as QCC_I8
        return v
    v = int(v)
    if v == -(1 << 31):
        return "(-2147483647 - 1)"
    if not -(1 << 31) < v < (1 << 31):
        return f"{v}LL" if v != -(1 << 63) else "(-9223372036854775807LL - 1)"
    return str(v)


def c_float(x: float) -> str:
    s = repr(float(np.float32(x)))
    return s + ("f" if ("." in s or "e" in s) else ".0f")


def initializer(params: dict) -> str:
    parts = []
    for k, v in params.items():
        if isinstance(v, (list, tuple, np.ndarray)):
            parts.append(f".{k} = {{{', '.join(c_int(x) for x in v)}}}")
        else:
            parts.append(f".{k} = {c_int(v)}")
    return ", ".join(parts)


def array_body(data: np.ndarray, per_line: int = 16) -> str:
    ints = np.asarray(data).astype(np.int64).ravel()
    lo, hi = (int(ints.min()), int(ints.max())) if ints.size else (0, 0)
    if ints.size and hi - lo <= 1 << 16 and -(1 << 31) < lo and hi < (1 << 31):
        # what c_int writes for these, from a table of the few distinct values (fast for
        # the millions of int8 weights of a large model)
        table = np.array([str(v) for v in range(lo, hi + 1)], dtype=object)
        vals = table[ints - lo].tolist()
    elif ints.size and -(1 << 31) < lo and hi < (1 << 31):
        vals = list(map(str, ints.tolist()))
    else:
        vals = [c_int(x) for x in ints.tolist()]
    lines = ["    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line)]
    return "\n".join(lines) if lines else "    0,"


STRING_MIN = 1024   # byte arrays at least this long are written as string literals
_OCTAL = ["\\%03o" % i for i in range(256)]


_OCTAL_BYTES = np.frombuffer("".join(_OCTAL).encode("ascii"), np.uint8).reshape(256, 4)


def bytes_body(data: np.ndarray, per_line: int = 64) -> str:
    """An int8/uint8 array as adjacent string literals of octal escapes (the bytes in
    two's complement, the implicit NUL dropped by the exact array size): compilers parse
    these many times faster than a list of numbers (4 M weights: 0.4 s against 9 s).
    Built with numpy table lookups, a line of ``per_line`` bytes per row (5.5 MB of
    weights: 0.12 s CPU; a Python loop per byte took 0.37 s)."""
    flat = np.asarray(data).astype(np.int64).ravel().astype(np.uint8)
    parts, step = [], per_line * 16384  # a chunk at a time: bounded memory for huge models
    for c0 in range(0, flat.size, step):
        b = flat[c0:c0 + step]
        full = b.size // per_line * per_line
        lines = []
        if full:
            esc = _OCTAL_BYTES[b[:full]].reshape(-1, per_line * 4)
            rows = np.empty((esc.shape[0], per_line * 4 + 6), np.uint8)
            rows[:, :5] = np.frombuffer(b'    "', np.uint8)
            rows[:, 5:-1] = esc
            rows[:, -1] = ord('"')
            lines.append(_join_rows(rows))
        if b.size > full:
            lines.append('    "' + _OCTAL_BYTES[b[full:]].tobytes().decode("ascii") + '"')
        parts.append("\n".join(lines))
    return "\n".join(parts)


def _join_rows(rows: np.ndarray) -> str:
    """Rows of ASCII bytes joined by newlines (one numpy copy, no Python loop)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    out[:, :-1] = rows
    out[:, -1] = ord("\n")
    return out.tobytes()[:-1].decode("ascii")


def _const_body(c) -> str:
    if c.ctype in ("int8_t", "uint8_t") and c.data.size >= STRING_MIN:
        return bytes_body(c.data)
    return array_body(c.data)


_CSIZE = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4,
          "uint32_t": 4, "int64_t": 8, "uint64_t": 8}


def _decl_count(c) -> str:
    """The bound in a constant's extern declaration; empty below 8 bytes. The kernels read
    operands through ``void *`` by a run-time dtype code, and gcc's -Warray-bounds (an error
    under the Makefile's -Werror) flags the wider, dead branches of that switch when it sees
    a 1-byte object; an unbounded declaration gives it nothing to flag."""
    n = max(int(c.data.size), 1)
    return str(n) if n * _CSIZE.get(c.ctype, 1) >= 8 else ""


def _io_ctx(io, inputs: bool) -> dict:
    lo, hi = _RANGE.get(io.ctype, (0, 0))
    file_size = 4 if io.scale is not None else _C_SIZE[io.ctype]
    return dict(index=io.index, graph_name=io.graph_name, ctype=io.ctype, count=io.count,
                shape=list(io.value.shape), scale=io.scale,
                scale_lit=c_float(io.scale) if io.scale is not None else None,
                zero_point=io.zero_point, file_size=file_size, c_size=_C_SIZE[io.ctype],
                sgn=int(io.ctype != "uint8_t"), qmin=lo, qmax=hi)


def _out_trace(s) -> dict:
    """The C expression and byte size of a step's output (the tracing hook's arguments)."""
    k = next((i for i, a in enumerate(s.args) if a.kind == "val" and a.write), None)
    if k is None or s.out is None:
        return dict(out_expr="", out_bytes=0)
    return dict(out_expr=s.cargs[k], out_bytes=c_nbytes(s.out))


def context(p: Program, source: str, bodies: bool = True) -> dict:
    """The templates' variables; ``bodies=False`` leaves out the constants' data (the
    header and README do not print it, and rendering it is the slow part)."""
    name = p.name
    ins = [_io_ctx(io, True) for io in p.inputs]
    outs = [_io_ctx(io, False) for io in p.outputs]
    sig = [f"const {io['ctype']} *in{io['index']}" for io in ins]
    sig += [f"{io['ctype']} *out{io['index']}" for io in outs] + ["uint8_t *arena"]
    call = [f"(const {io['ctype']} *)inputs[{io['index']}]" for io in ins]
    call += [f"({io['ctype']} *)outputs[{io['index']}]" for io in outs] + ["arena"]
    steps = [dict(index=i, op=s.node.op, node=s.node.name.replace("*/", "* /"), struct=s.struct,
                  init=initializer(s.params), fn=s.fn, cargs=s.cargs, **_out_trace(s))
             for i, s in enumerate(p.steps)]
    used = " ".join(a for s in steps for a in s["cargs"])
    params = [f"in{io['index']}" for io in ins] + [f"out{io['index']}" for io in outs] + ["arena"]
    unused = [q for q in params if f"({q})" not in used and f"({q} +" not in used
              and f"{q} +" not in used]
    consts = [dict(cname=c.cname, ctype=c.ctype, count=max(int(c.data.size), 1),
                   decl=_decl_count(c), source=c.source.replace("*/", "* /"), guard=c.guard,
                   body=_const_body(c) if bodies else "")
              for c in p.consts.values()]
    return dict(version=__version__, name=name, NAME=name.upper(), guard=name.upper(),
                source=os.path.basename(source or "model"), inputs=ins, outputs=outs,
                signature=", ".join(sig), io_call=", ".join(call), steps=steps, unused=unused,
                consts=consts, weight_bytes=weight_bytes(p), arena=p.arena,
                arena_macro=max(p.arena, 16), lower_bound=p.lower_bound, strategy=p.strategy,
                kernels=[k for k in KERNEL_ORDER if k in p.kernels], dw_forms=program_forms(p),
                io_bytes=f"{sum(io['count'] * io['c_size'] for io in ins + outs):,}",
                run_args=", ".join(params))


def weight_bytes(p: Program) -> int:
    """Bytes of the constants every build holds (not the host-only ones under a guard)."""
    return int(sum(c.data.size * _C_SIZE[c.ctype] for c in p.consts.values() if not c.guard))


FILES = {"header": ("model.h.j2", "{name}.h"), "source": ("model.c.j2", "{name}.c"),
         "weights_header": ("weights.h.j2", "{name}_weights.h"),
         "weights": ("weights.c.j2", "{name}_weights.c"),
         "kernels": ("qcc_kernels.h.j2", "qcc_kernels.h"), "runner": ("qcc_run.c.j2", "qcc_run.c"),
         "makefile": ("Makefile.j2", "Makefile"), "cmake": ("CMakeLists.txt.j2", "CMakeLists.txt"),
         "io_header": ("io.h.j2", "{name}_io.h"), "io_source": ("io.c.j2", "{name}_io.c"),
         "readme": ("README.md.j2", "README.md")}


def write_header(p: Program, out_dir: str, source: str, **extra) -> None:
    """Render NAME.h and README.md again with ``extra`` (the stack bound, known once
    NAME.c exists)."""
    ctx = dict(context(p, source, bodies=False), **extra)
    for key in ("header", "readme"):
        tpl, pattern = FILES[key]
        with open(os.path.join(out_dir, pattern.format(name=p.name)), "w") as f:
            f.write(env().get_template(tpl).render(**ctx))


def write_files(p: Program, out_dir: str, source: str) -> dict:
    ctx = context(p, source)
    written = {}
    for key, (tpl, pattern) in FILES.items():
        fname = pattern.format(name=p.name)
        with open(os.path.join(out_dir, fname), "w") as f:
            f.write(env().get_template(tpl).render(**ctx))
        written[key] = fname
    return written
