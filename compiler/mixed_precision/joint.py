"""The measured output change of a whole assignment (every layer at its width).

The ILP adds per-layer sensitivities, each measured with the rest of the model
float.  Below 4 bits the errors of several layers compound (docs/mixed_precision.md,
"Automatic widths"), so the automatic width choice compares the candidate
answers by this joint measurement instead: the same divergence as the
sensitivities (KL or relative MSE of the outputs), on the same calibration
samples, with all layers' weights fake-quantized at once (activations float).
Results are cached next to the sensitivities, keyed by the assignment.
"""

from __future__ import annotations

import json
import os
from typing import Optional, Sequence

import numpy as np

from qcc.ir import Graph

from .costs import Layer
from .ortgraph import make_evaluator
from .sensitivity import divergence, ev_weight, fake_quant, samples_hash


def _cache_get(path: Optional[str], key: str) -> Optional[float]:
    if not path:
        return None
    try:
        with open(path) as f:
            return float(json.load(f)[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_put(path: Optional[str], key: str, value: float) -> None:
    if not path:
        return
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError):
        d = {}
    d[key] = value
    try:
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs the re-measurement next time


def joint_cache_file(sens_cache_file: Optional[str]) -> Optional[str]:
    """The joint-results file beside a sensitivity cache file (None: no caching)."""
    if not sens_cache_file:
        return None
    root, _ = os.path.splitext(sens_cache_file)
    return root + ".joint.json"


class JointMeter:
    """``divergence(bits)``: mean output change with every layer at ``bits[l]``
    (``None``: that layer stays float)."""

    def __init__(self, graph: Graph, layers: list[Layer], samples: list[dict], metric: str,
                 group_size: Optional[int] = None, cache_file: Optional[str] = None,
                 engine: str = "auto"):
        self.graph, self.layers, self.samples = graph, layers, samples
        self.metric, self.group_size, self.cache_file = metric, group_size, cache_file
        self.engine = engine
        self._skey = samples_hash(samples)[:16]  # the cache file is keyed by the first samples only
        self._ev = None
        self._refs: list = []
        out = graph.outputs[0].producer if graph.outputs else None
        self.is_softmax = bool(out is not None and out.op_type == "Softmax")

    def _evaluator(self):
        if self._ev is None:
            self._ev = make_evaluator(self.graph, sorted({lay.weight for lay in self.layers}),
                                      self.engine)
            self._refs = [self._ev.run(s, {}) for s in self.samples]
        return self._ev

    def divergence(self, bits: Sequence[int]) -> float:
        key = self._skey + ":" + ",".join("f" if b is None else str(int(b)) for b in bits)
        hit = _cache_get(self.cache_file, key)
        if hit is not None:
            return hit
        ev = self._evaluator()
        weights = {lay.weight: fake_quant(ev_weight(ev, lay), lay.axis, int(b), self.group_size)
                   for lay, b in zip(self.layers, bits)
                   if lay.shares_weight_with is None and b is not None}
        d = float(np.mean([divergence(r, ev.run(s, weights), self.metric, self.is_softmax)
                           for r, s in zip(self._refs, self.samples)]))
        _cache_put(self.cache_file, key, d)
        return d
