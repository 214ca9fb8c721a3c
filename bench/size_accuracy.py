"""Size/accuracy trade-off points: qcc mixed precision and uniform low-bit weights.

For a model with real data (the examples), qcc compiles it with
``--weight-bits mixed`` under a few size budgets (percent of the int8 weight
bytes) and with uniform 4-bit weights, runs each on the test set with the
reference interpreter and records weight bytes, SQNR, top-1 and the bit-width
histogram.  These points (with qcc int8 and onnxruntime int8) make the Pareto
plot.  The sensitivity measurement is cached across the budgets of one model.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections import Counter

FULL_CONFIGS = [("mixed 75%", {"weight_bits": "mixed", "size_budget": "75%"}),
                ("mixed 60%", {"weight_bits": "mixed", "size_budget": "60%"}),
                ("mixed 45%", {"weight_bits": "mixed", "size_budget": "45%"}),
                ("uniform w4", {"weight_bits": "4"})]
QUICK_CONFIGS = FULL_CONFIGS[1:2]


def _bits(manifest: dict) -> dict:
    layers = manifest.get("passes", {}).get("quantize", {}).get("layers", [])
    return {str(b): n for b, n in sorted(Counter(L.get("bits") for L in layers).items(),
                                          key=lambda kv: -(kv[0] or 0))}


def sweep(m, work: str, quick: bool) -> list[dict]:
    """One point per configuration; a failing configuration records its error."""
    from .accuracy import ort_outputs, qcc_outputs
    from .metrics import compare

    ref = ort_outputs(m.path, m.test, output=getattr(m, "output", None))
    cls = m.kind == "classifier"
    cache = os.path.join(work, "sensitivity")
    out = []
    for i, (label, opts) in enumerate(QUICK_CONFIGS if quick else FULL_CONFIGS):
        sub = f"qcc_mp{i}"
        p: dict = {"label": label, "options": opts}
        try:
            # assign-bits prints its plan table even when quiet: keep the progress stream clean
            with contextlib.redirect_stderr(io.StringIO()):
                got, manifest = qcc_outputs(m, work, sub, quiet=True, sensitivity_cache=cache,
                                            **opts)
        except Exception as e:  # noqa: BLE001 - one failed configuration does not stop the sweep
            p["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            out.append(p)
            continue
        p.update(compare(ref, got, m.labels, cls))
        p["weight_bytes"] = int(manifest.get("sizes", {}).get("weight_bytes", 0))
        p["bits"] = _bits(manifest)
        p["dir"] = sub
        p["manifest"] = manifest
        out.append(p)
    return out
