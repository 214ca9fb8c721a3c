"""Memory columns: weight bytes, activation arena vs its lower bound, Cortex-M4 flash/RAM.

Weight bytes come from the compile manifest (``sizes.weight_bytes``, packed
integer weights plus int32 biases), the float size from the float constants
of the imported model.  The arena and its lower bound come from the C backend's
manifest (its memory plan).  Flash and RAM come from ``arm-none-eabi-size`` of
a Cortex-M4 build when the ARM toolchain is present.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

NA = "not available"


def initializer_bytes(model_path: str) -> int:
    """Bytes of an ONNX model's initializers (e.g. onnxruntime's int8 QDQ model)."""
    import onnx
    from onnx import helper

    m = onnx.load(model_path, load_external_data=False)
    total = 0
    for t in m.graph.initializer:
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        total += n * helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    return total


def float_weight_bytes(model_path: str, input_shapes: dict) -> int:
    """Bytes of the float model's float constants after import (what fp32 deployment stores).

    Counted on qcc's imported graph, not the ONNX initializers: the light models
    build their weights at run time (ConstantOfShape), which import folds.
    """
    from qcc.frontend.onnx_import import import_model

    g = import_model(model_path, input_shapes)
    return int(sum(v.type.numel * v.dtype.np.itemsize for v in g.constants.values()
                   if v.dtype.is_float))


def find_key(d: Any, *names: str) -> Optional[Any]:
    """First value under any of ``names`` in a nested dict (depth-first)."""
    if isinstance(d, dict):
        for n in names:
            if n in d and not isinstance(d[n], dict):
                return d[n]
        for v in d.values():
            r = find_key(v, *names)
            if r is not None:
                return r
    return None


def from_manifest(manifest: dict) -> dict:
    """Weight and arena bytes recorded by a compile (keys absent when unknown)."""
    out: dict = {}
    wb = manifest.get("sizes", {}).get("weight_bytes")
    if wb is not None:
        out["weight_bytes"] = int(wb)
    arena = find_key(manifest, "arena_bytes", "arena_size", "arena")
    bound = find_key(manifest, "arena_lower_bound", "lower_bound_bytes", "lower_bound")
    if isinstance(arena, (int, float)):
        out["arena_bytes"] = int(arena)
    if isinstance(bound, (int, float)):
        out["arena_lower_bound"] = int(bound)
    if "arena_bytes" in out and out.get("arena_lower_bound"):
        out["arena_over_bound"] = round(out["arena_bytes"] / out["arena_lower_bound"], 3)
    return out


def cortex_m4(c_dir: str) -> dict:
    """Flash/RAM bytes of the Cortex-M4 build of a C output folder, or why not."""
    try:
        from qcc.backends.c import arm
    except ImportError:
        return {"m4": f"{NA}: the Cortex-M4 tooling (qcc.backends.c.arm) is not in this build"}
    if not arm.available():
        why = getattr(arm, "missing_tools", lambda: "")() or "arm-none-eabi-gcc not found"
        return {"m4": f"{NA}: {why}"}
    elf = arm.build(c_dir)
    sz = arm.size(elf)
    out = {f"m4_{k}": int(sz[k]) for k in ("flash_bytes", "ram_bytes", "model_flash_bytes",
                                           "model_ram_bytes") if isinstance(sz.get(k), int)}
    return out or {"m4": f"{NA}: arm.size reported no flash/RAM ({sorted(sz)})"}
