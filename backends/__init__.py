"""Backends: one package per target (``qcc.backends.<target>``).

A backend module provides ``TARGET``, ``emit(graph, out_dir, ctx) -> dict``
(writes files, returns manifest entries) and
``run(out_dir, samples, manifest) -> list[dict]`` (the target's engine); a backend whose
code can be run step by step also provides ``trace(out_dir, samples, manifest,
fault_step=None)`` (every step's output bytes per sample, for ``qcc debug --target``).
"""

from __future__ import annotations

import importlib

from qcc.errors import QccError

TARGETS = ["onnx", "c", "triton", "accel"]


def get_backend(target: str):
    if target not in TARGETS:
        raise QccError(f"unknown target '{target}'; choose one of {', '.join(TARGETS)}")
    try:
        return importlib.import_module(f"qcc.backends.{target}")
    except ModuleNotFoundError:
        raise QccError(f"target '{target}' is not available in this build of qcc "
                       f"(available: {', '.join(available_targets())})") from None


def available_targets() -> list[str]:
    out = []
    for t in TARGETS:
        try:
            importlib.import_module(f"qcc.backends.{t}")
            out.append(t)
        except ModuleNotFoundError:
            pass
    return out
