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
    from .writer import write_files

    opts = getattr(ctx, "options", {}) or {}
    hw = hw_from_options(opts)
    return write_files(graph, out_dir, _name(ctx), hw, int(opts.get("accel_search", 16)))


def run(out_dir: str, samples: list[dict[str, np.ndarray]], manifest: dict) -> list[dict]:
    from qcc.ir.serialize import load as load_ir

    from .runtime import load

    art = load(out_dir, manifest)
    graph = load_ir(os.path.join(out_dir, "model.qcc"))
    nodes = {n.name: n for n in graph.nodes}
    return [art.run_sample(graph, nodes, s) for s in samples]


def profile(out_dir: str, manifest: dict) -> dict:
    from .runtime import load

    return load(out_dir, manifest).profile()


__all__ = ["TARGET", "emit", "run", "profile"]
