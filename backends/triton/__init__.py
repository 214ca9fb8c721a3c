"""Target ``triton``: int8 Triton kernels for GPUs (docs/target_triton.md).

``emit`` lowers the integer IR with the shared lowering layer (``qcc.lower``: the Triton
``Target`` and ``Support`` in ``target.py``), renders every kernel program call with the
renderer of its family (``render_*.py``) into launches of ``@triton.jit`` kernels from
Jinja templates (``templates/``) and writes ``NAME_kernels.py``, ``NAME.py`` (a ``Model`` class) and
``NAME_weights.npz``; ``run`` imports the generated model and runs it on CUDA or, on a
CPU, under the Triton interpreter (``TRITON_INTERPRET=1``).
"""

from __future__ import annotations

import importlib.machinery
import os
import re

import numpy as np

from qcc.errors import QccError
from qcc.ir import Graph

TARGET = "triton"


def model_name(ctx) -> str:
    opts = getattr(ctx, "options", {}) or {}
    s = re.sub(r"[^0-9A-Za-z_]", "_", str(opts.get("model_name") or "model")).strip("_") or "m"
    return s if not s[0].isdigit() else "m" + s


def emit(graph: Graph, out_dir: str, ctx) -> dict:
    from qcc.lower.adapt_unsigned import adapt_unsigned_inputs

    from .program import build_program
    from .writer import write_files

    adapted = adapt_unsigned_inputs(graph)  # uint8 into the int8-only rules (exact shift)
    prog = build_program(graph, model_name(ctx))
    info = write_files(prog, out_dir, (getattr(ctx, "options", {}) or {}).get("model_path", ""))
    plan = prog.kp.plan
    return {"files": info["files"],
            "memory": {"workspace_bytes": prog.workspace, "arena_bytes": plan.arena,
                       "lower_bound": prog.lower_bound, "strategy": prog.strategy,
                       "weight_bytes": info["weight_bytes"], "inplace": dict(plan.inplace)},
            "layers": info["layers"],
            "unsigned_inputs_shifted": adapted,
            "triton": {"name": prog.name, **info["io"]}}


class FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the file as it is now: a folder recompiled within the same second into a file
    of the same size would otherwise load the stale ``__pycache__`` bytecode (Python checks
    only the source's mtime in seconds and its size)."""

    def get_code(self, fullname):
        return compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)


def load_model(out_dir: str, manifest: dict, device: str = "cpu"):
    """Import ``NAME.py`` from a compiled folder and build its ``Model`` on ``device``."""
    import importlib.util

    from .runner import set_mode

    set_mode(device)
    name = manifest["triton"]["name"]
    path = os.path.join(out_dir, f"{name}.py")
    if not os.path.isfile(path):
        raise QccError(f"'{out_dir}' has no {name}.py; recompile with --target triton")
    name_ = f"qcc_triton_model_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name_, path, loader=FreshSourceLoader(name_, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Model(device=device)



def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu`` (the interpreter)."""
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def run(out_dir: str, samples: list[dict[str, np.ndarray]], manifest: dict,
        device: str | None = None) -> list[dict]:
    device = device or os.environ.get("QCC_DEVICE") or default_device()
    from .runner import set_mode

    set_mode(device)  # before triton's first import: triton.language reads it then
    try:
        import torch  # noqa: F401
        import triton  # noqa: F401
    except ImportError as e:
        raise QccError(f"target triton needs torch and triton installed "
                       f"(pip install 'qcc[triton]'): {e}") from None
    if device == "cuda" and not torch.cuda.is_available():
        raise QccError("--device cuda: torch sees no CUDA device (use --device cpu for the "
                       "Triton interpreter)")
    model = load_model(out_dir, manifest, device)
    outs = []
    for s in samples:
        res = model({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in s.items()})
        outs.append({k: v.cpu().numpy() for k, v in res.items()})
    return outs


def trace(out_dir: str, samples: list[dict], manifest: dict, fault_step=None) -> list:
    """Every launch's output bytes per sample (``qcc debug --target triton``; tracing.py)."""
    from .tracing import trace as _trace

    return _trace(out_dir, samples, manifest, fault_step)


__all__ = ["TARGET", "emit", "run", "trace", "load_model"]
