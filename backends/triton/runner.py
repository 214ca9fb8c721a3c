"""Run single kernel calls from numpy (per-kernel tests, compile-time checks).

Sets ``TRITON_INTERPRET=1`` before any kernel module is imported unless a CUDA
device is requested.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from qcc.errors import QccError


def set_mode(device: str = "cpu") -> None:
    """Choose the Triton interpreter for ``cpu``; refuse in one line where it is too late."""
    if device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
        check_interpreter()


def check_interpreter() -> None:
    """``triton.language`` decorates its own helpers (``tl.zeros``, ...) once, when it is first
    imported, for the compiler or for the interpreter as ``TRITON_INTERPRET`` says then: in a
    process that imported it without the variable (torch's dynamo exporter does), a kernel
    under the interpreter fails deep inside Triton. Say so instead."""
    tl = sys.modules.get("triton.language")
    jit = sys.modules.get("triton.runtime.jit")
    if tl is None or jit is None or not isinstance(getattr(tl, "zeros", None), jit.JITFunction):
        return
    raise QccError("the Triton interpreter cannot run in this process: triton was imported "
                   "before TRITON_INTERPRET=1 was set (for example by torch.export or "
                   "torch.compile); set TRITON_INTERPRET=1 in the environment before starting "
                   "Python, or run on a CUDA device")


def to_torch(a: np.ndarray, device: str = "cpu"):
    import torch

    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    return torch.from_numpy(a.copy()).to(device)


def run_call(call, acts: dict, out_shape, out_dtype: str, device: str = "cpu",
             out_init=None) -> np.ndarray:
    """Render ``call``'s kernel alone, launch it on ``acts`` (role -> numpy) and return
    the output role ``c`` as numpy."""
    import torch

    from .render import load_module, module_source

    set_mode(device)
    mod = load_module(module_source([(call.family, call.cfg)]))
    t = {k: to_torch(v, device) for k, v in call.consts.items()}
    t.update({k: to_torch(v, device) for k, v in acts.items()})
    if out_init is None:
        t["c"] = torch.zeros(tuple(out_shape), dtype=getattr(torch, out_dtype), device=device)
    else:
        t["c"] = to_torch(np.asarray(out_init, out_dtype), device)
    getattr(mod, call.cfg["name"] + "_launch")(t, call.params)
    return t["c"].cpu().numpy()
