"""Run single kernel calls from numpy (per-kernel tests, compile-time checks).

Sets ``TRITON_INTERPRET=1`` before any kernel module is imported unless a CUDA
device is requested.
"""

from __future__ import annotations

import os

import numpy as np


def set_mode(device: str = "cpu") -> None:
    if device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"


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
