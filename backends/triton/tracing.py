"""Every kernel launch's output of the generated Triton model, for ``qcc debug --target
triton`` (docs/debugging.md): the ``Model`` is called with a hook after every launch, which
reads the launch's output from the workspace (on CUDA when torch sees a GPU, else under the
Triton interpreter)."""

from __future__ import annotations

from typing import Optional

import numpy as np


def trace(out_dir: str, samples: list[dict], manifest: dict,
          fault_step: Optional[int] = None) -> list[list[tuple[int, bytes]]]:
    """One list of (step, output bytes) per sample, read from the workspace after each
    launch (the manifest's ``out_offset``/``out_bytes``); the fault injection corrupts the
    first byte of step ``fault_step``'s output before the next launch reads it."""
    import torch

    from . import default_device, load_model

    model = load_model(out_dir, manifest, default_device())
    rows = {r["step"]: r for r in manifest["layers"] if "out_offset" in r}
    runs = []
    for sample in samples:
        recs: list = []

        def hook(step, recs=recs):
            row = rows.get(step)
            if row is None:
                return
            view = model.ws[row["out_offset"]:row["out_offset"] + row["out_bytes"]]
            if step == fault_step and row["out_bytes"]:
                view[0] = view[0] ^ 0x5A
            recs.append((step, view.cpu().numpy().tobytes()))

        model({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sample.items()},
              trace=hook)
        runs.append(recs)
    return runs
