"""Target ``accel``: instruction streams for a parameterised systolic-array accelerator
(docs/target_accel.md).

``emit`` lowers the integer IR (``program.build_program``), checks the stream
(bounds, deadlock freedom) and writes NAME.bin (the stream), NAME.s (its
disassembly, one commented block per layer), NAME_dram.bin (the DRAM image);
``run`` executes samples on the functional simulator (``runtime``).
"""

from __future__ import annotations

import os
import re

import numpy as np

from qcc.ir import Graph

from .hw import hw_from_options

TARGET = "accel"


def _name(ctx) -> str:
    opts = getattr(ctx, "options", {}) or {}
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(opts.get("model_name") or "model"))
    return name or "model"


def emit(graph: Graph, out_dir: str, ctx) -> dict:
    from .target import adapt_unsigned
    from .writer import write_files

    opts = getattr(ctx, "options", {}) or {}
    hw = hw_from_options(opts)
    adapted = adapt_unsigned(graph)  # uint8 into the int8-only GEMMs (exact shift)
    info = write_files(graph, out_dir, _name(ctx), hw, int(opts.get("accel_search", 16)))
    return {**info, "unsigned_inputs_shifted": adapted}


def run(out_dir: str, samples: list[dict[str, np.ndarray]], manifest: dict) -> list[dict]:
    from qcc.ir.serialize import load as load_ir

    from .runtime import load

    art = load(out_dir, manifest)
    graph = load_ir(os.path.join(out_dir, "model.qcc"))
    nodes = {n.name: n for n in graph.nodes}
    return [art.run_sample(graph, nodes, s) for s in samples]


def profile(out_dir: str, sample: dict | None = None, engine: str = "accel", runs: int = 1) -> dict:
    """Per-layer cycles, utilisation and roofline from the timing model (docs/target_accel.md §4).

    The timing model does not depend on input values; ``sample`` (when given) is also run
    on the functional simulator, so a profile is always of a stream that executes."""
    import json

    from .runtime import load

    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    if sample is not None:
        run(out_dir, [sample], manifest)
    return load(out_dir, manifest).profile()


def format_profile(res: dict) -> str:
    from .report import format_table

    return format_table(res)


__all__ = ["TARGET", "emit", "run", "profile", "format_profile"]
