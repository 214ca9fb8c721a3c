"""Target ``c``: portable C99 for microcontrollers (docs/target_c.md).

``emit`` lowers the integer IR to kernel calls with a static memory plan and
renders NAME.h / NAME.c / NAME_weights.c / qcc_kernels.h / qcc_run.c / Makefile /
CMakeLists.txt; ``run`` builds the host runner with make and runs the samples.
"""

from __future__ import annotations

import os

import numpy as np

from qcc.ir import Graph

from .cprogram import c_nbytes, cident

TARGET = "c"


def _name(ctx) -> str:
    opts = getattr(ctx, "options", {}) or {}
    return cident(str(opts.get("model_name") or "model"))


def emit(graph: Graph, out_dir: str, ctx) -> dict:
    """Write the C sources; return manifest entries (files, memory, layers, C I/O)."""
    from .program import build_program
    from .render import weight_bytes, write_files

    from qcc.lower.adapt_unsigned import adapt_unsigned_inputs

    name = _name(ctx)
    adapted = adapt_unsigned_inputs(graph)  # uint8 into int8-only kernels (exact shift)
    prog = build_program(graph, name)
    source = getattr(ctx, "options", {}).get("model_path", "")
    files = write_files(prog, out_dir, source)
    stack = None
    if (getattr(ctx, "options", {}) or {}).get("stack_bound"):  # qcc compile / qcc.compile
        from . import stack as stack_mod
        from .render import write_header

        stack = stack_mod.measure(out_dir, name)
        write_header(prog, out_dir, source, stack=stack, stack_flags=stack_mod.FLAGS,
                     stack_note=stack_mod.why_not(stack))
    return {
        "files": files,
        "memory": {"arena_bytes": prog.arena, "lower_bound": prog.lower_bound,
                   "strategy": prog.strategy, "weight_bytes": weight_bytes(prog),
                   "stack_bound_m4": stack,
                   "inplace": prog.extra_info.get("inplace", {}),
                   "inplace_rejected": prog.extra_info.get("rejected", {}),
                   "tried": prog.extra_info.get("tried", {})},
        "layers": layer_table(prog),
        "unsigned_inputs_shifted": adapted,
        "c": {"name": name,
              "inputs": [_io_entry(io) for io in prog.inputs],
              "outputs": [_io_entry(io) for io in prog.outputs]},
    }


def _io_entry(io) -> dict:
    return {"name": io.graph_name, "c_value": io.value.name, "shape": list(io.value.shape),
            "c_type": io.ctype, "file_dtype": "float32" if io.scale is not None else io.onnx_dtype,
            "scale": io.scale, "zero_point": io.zero_point}


def layer_table(prog) -> list[dict]:
    rows = []
    for i, s in enumerate(prog.steps):
        out = s.out
        rows.append({"step": i, "node": s.node.name, "op": s.node.op, "kernel": s.fn,
                     "out": out.name if out is not None else None,
                     "out_bytes": c_nbytes(out) if out is not None else 0,
                     "scratch_bytes": s.scratch})
    return rows


def run(out_dir: str, samples: list[dict[str, np.ndarray]], manifest: dict) -> list[dict]:
    from .build import run_samples

    if not samples:
        return []
    return run_samples(out_dir, samples, manifest)


def trace(out_dir: str, samples: list[dict], manifest: dict, fault_step=None) -> list:
    """Every step's output bytes per sample (``qcc debug --target c``; backends/c/tracing.py)."""
    from .tracing import trace as _trace

    return _trace(out_dir, samples, manifest, fault_step)


def profile(out_dir: str, sample: dict, engine: str = "host", runs: int = 200) -> dict:
    """Per-layer time (host) or instructions (cortex-m4 / cortex-m55, QEMU icount) of one sample."""
    from .profile import profile as _profile

    return _profile(out_dir, sample, engine, runs)


def format_profile(res: dict) -> str:
    from .profile import format_table

    return format_table(res)


__all__ = ["TARGET", "emit", "run", "trace", "profile", "format_profile"]
