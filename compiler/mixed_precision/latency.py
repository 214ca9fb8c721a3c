"""Measured latency tables for ``--latency-budget`` (``--latency-table FILE``).

The per-target latency models of :mod:`.costs` are instruction-count models.
A table measured on the device replaces them.  The file is JSON::

    {"unit": "us",                                   # optional, default "cycles"
     "layers": {"conv1": {"8": 10.5, "4": 12.0, "2": 13.1}, ...},
     "mac": {"8": 2.0, "4": 2.25, "2": 2.5}, "byte": 1.0, "layer": 200,
     "device": "...", "note": "..."}                  # free text, optional

``layers`` gives the time of each named layer (the node names of the
per-layer table) at each candidate width; ``mac``/``byte``/``layer`` are the
constants of the model ``MACs * mac[b] + bytes * byte + layer`` used for the
layers the table does not list (so a table can be just measured constants).
Either part may be left out, but every layer needs a time at every width.
``python -m qcc.bench.latency_table`` writes such a table from qcc's own C kernels.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from qcc.errors import BudgetError

from .costs import Layer, LatencyModel, layer_bytes

_KEYS = {"unit", "layers", "mac", "byte", "layer", "device", "note", "date", "model", "method"}


@dataclass
class LatencyTable:
    path: str
    unit: str
    layers: dict  # layer name -> {bits: time}
    model: Optional[LatencyModel]  # for the layers not listed

    @property
    def note(self) -> str:
        return f"measured table {self.path} ({self.unit})"

    def _err(self, msg: str) -> BudgetError:
        return BudgetError(f"--latency-table '{self.path}': {msg}")

    def costs(self, layers: list[Layer], bits: tuple[int, ...]) -> np.ndarray:
        names = [lay.name for lay in layers]
        unknown = [n for n in self.layers if n not in names]
        if unknown:
            shown = ", ".join(f"'{n}'" for n in names[:6]) + (" ..." if len(names) > 6 else "")
            raise self._err(f"layer '{unknown[0]}' is not a quantizable layer of this model "
                            f"(the layers are {shown})")
        out = np.zeros((len(layers), len(bits)))
        for i, lay in enumerate(layers):
            t = self.layers.get(lay.name)
            for j, b in enumerate(bits):
                if t is not None and b in t:
                    out[i, j] = t[b]
                elif self.model is not None:
                    out[i, j] = (lay.macs * self.model.mac[b] + layer_bytes(lay, b) * self.model.byte
                                 + self.model.layer)
                else:
                    raise self._err(f"no time for layer '{lay.name}' at {b} bits, and no 'mac' "
                                    f"model for what the table leaves out")
        return out


def _number(path: str, what: str, v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x) or x < 0:
        raise BudgetError(f"--latency-table '{path}': {what} must be a non-negative number, got {v!r}")
    return x


def _widths(path: str, what: str, d) -> dict:
    if not isinstance(d, dict):
        raise BudgetError(f"--latency-table '{path}': {what} must map widths to times, e.g. "
                          f'{{"8": 10.0, "4": 12.5}}')
    out = {}
    for k, v in d.items():
        if str(k) not in ("2", "4", "8"):
            raise BudgetError(f"--latency-table '{path}': {what} has width '{k}'; widths are 2, 4, 8")
        out[int(k)] = _number(path, f"{what}[{k}]", v)
    return out


def load_latency_table(path: str) -> LatencyTable:
    """Parse and check a latency table file (:class:`BudgetError` naming the problem)."""
    if not os.path.isfile(path):
        raise BudgetError(f"--latency-table '{path}' does not exist")
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise BudgetError(f"--latency-table '{path}' is not valid JSON: {e}") from None
    if not isinstance(d, dict) or not ("layers" in d or "mac" in d):
        raise BudgetError(f"--latency-table '{path}' needs a 'layers' table and/or 'mac' constants "
                          f"(docs/mixed_precision.md)")
    bad = sorted(set(d) - _KEYS)
    if bad:
        raise BudgetError(f"--latency-table '{path}': unknown key '{bad[0]}' (known: "
                          f"{', '.join(sorted(_KEYS))})")
    layers = d.get("layers") or {}
    if not isinstance(layers, dict):
        raise BudgetError(f"--latency-table '{path}': 'layers' must map layer names to widths")
    model = None
    if "mac" in d:
        mac = _widths(path, "mac", d["mac"])
        if set(mac) != {2, 4, 8}:
            missing = sorted({2, 4, 8} - set(mac))
            raise BudgetError(f"--latency-table '{path}': 'mac' has no entry for {missing[0]} bits")
        model = LatencyModel(mac, _number(path, "byte", d.get("byte", 0.0)),
                             _number(path, "layer", d.get("layer", 0.0)), "")
    return LatencyTable(path, str(d.get("unit", "cycles")),
                        {str(n): _widths(path, f"layer '{n}'", t) for n, t in layers.items()}, model)
