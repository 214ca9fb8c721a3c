"""Per-layer error and bit widths of a qcc compile, for the report's plots.

Every quantized activation of the integer IR whose name also exists in the
float model (qcc keeps the ONNX tensor names through fusion and
quantization) is dequantized and compared with the float tensor on a few test
samples.  Where lowering splits one float op into a chain (a conv, then its
activation as a lookup table, ``NAME`` then ``NAME.1``), or renames a graph
output before its dequantize, the last quantized value of the chain carries
the float tensor and is the one compared.  int32 accumulators are skipped.
The error is cumulative: it includes the error of every layer before.  Weight
bits come from the quantize pass's per-layer report in the manifest.
"""

from __future__ import annotations

import os
import re
import numpy as np

from .metrics import sqnr_db


def _weight_bits(manifest: dict) -> dict[str, int]:
    layers = manifest.get("passes", {}).get("quantize", {}).get("layers", [])
    return {L["node"]: int(L["bits"]) for L in layers if "node" in L and "bits" in L}


def _dequant(a: np.ndarray, q) -> np.ndarray:
    scale = np.asarray(q.scale, np.float64)
    zp = np.asarray(q.zero_point, np.float64)
    if scale.size > 1 and q.axis is not None:
        shape = [1] * a.ndim
        shape[q.axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return (a.astype(np.float64) - zp) * scale


def per_layer(model_path: str, qcc_dir: str, manifest: dict, shapes: dict,
              samples: list[dict], max_layers: int = 200) -> list[dict]:
    """[{name, op, node, weight_bits, act_bits, sqnr_db}] in graph order."""
    from qcc.calibration.runner import make_runner
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import Interpreter
    from qcc.ir.serialize import load

    g = load(os.path.join(qcc_dir, "model.qcc"))
    order = {id(n): i for i, n in enumerate(g.nodes)}
    fg = import_model(model_path, shapes)
    fnames = {o.name for n in fg.nodes for o in n.outputs}
    wbits = _weight_bits(manifest)
    last: dict[str, tuple] = {}  # float tensor name -> the last quantized value that carries it
    first: dict[str, str] = {}  # float tensor name -> the node that starts its chain (weights)
    for n in g.nodes:
        for v in n.outputs:
            base = v.name if v.name in fnames else re.sub(r"\.\d+$", "", v.name)
            # int32 accumulators feeding integer softmax may carry a folded scale: skip them
            if v.qparams is not None and v.qparams.bits <= 16 and base in fnames and not v.is_const:
                last[base] = (n, v, base)
                first.setdefault(base, n.name)
    picked = sorted(last.values(), key=lambda t: order[id(t[0])])[:max_layers]
    if not picked or not samples:
        return []
    names = {v.name for _, v, _ in picked}
    qit = Interpreter(g)
    frun = make_runner(fg, "auto", probe=samples[0])
    errs: dict[str, list] = {v.name: [[], []] for _, v, _ in picked}
    for s in samples:
        q = qit.run(s, capture=names)
        f = frun.run(s)
        for _, v, fname in picked:
            if v.name in q and fname in f and np.size(q[v.name]) == np.size(f[fname]):
                errs[v.name][0].append(np.asarray(f[fname], np.float64).ravel())
                errs[v.name][1].append(_dequant(q[v.name], v.qparams).ravel())
    out = []
    for n, v, base in picked:
        ref, got = errs[v.name]
        if not ref:
            continue
        db = sqnr_db(np.concatenate(ref), np.concatenate(got))
        out.append({"name": v.name, "node": n.name, "op": n.op,
                    "weight_bits": wbits.get(n.name, wbits.get(first[base])),
                    "act_bits": int(v.qparams.bits),
                    "sqnr_db": None if not np.isfinite(db) else round(db, 2)})
    return out

