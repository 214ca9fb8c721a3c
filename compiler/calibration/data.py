"""The calibration samples of one compilation (``--calib``), loaded once.

``CalibData.of(x)`` accepts what ``options["calib"]`` may hold (a path to an
``.npz``, a dict of arrays, a ``CalibData``) and reads a file exactly once.
The driver checks it against the imported graph before any pass runs
(:meth:`CalibData.validate`: input names, per-sample shapes, dtypes, NaN/Inf),
and every pass that needs samples (``calibrate``, the channel passes,
``assign-bits``) takes them from the same object (``ctx.calib_data()``).
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..errors import CalibrationError, InputDataError
from ..ir import Graph

WHAT = "calibration data"


class CalibData:
    """Arrays stacked along axis 0, one per graph input (the ``.npz`` convention)."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str = "<arrays>"):
        self.arrays = dict(arrays)
        self.source = source
        self._checked: set[tuple] = set()

    @classmethod
    def of(cls, value, max_rows: Optional[int] = None) -> Optional["CalibData"]:
        """``None``, a ``CalibData``, a path to an ``.npz`` or ``.npy`` (read now; only the
        first ``max_rows`` rows of each array when given) or a dict of arrays."""
        from ..npzio import load_npz

        if value is None or isinstance(value, CalibData):
            return value
        if isinstance(value, (str, os.PathLike)):
            return cls(load_npz(os.fspath(value), "--calib", max_rows), os.fspath(value))
        if isinstance(value, dict):
            return cls(value)
        raise InputDataError(f"calibration data must be an .npz path or a dict of arrays, "
                             f"got {type(value).__name__}")

    def __bool__(self) -> bool:
        return bool(self.arrays)

    def shapes(self) -> dict[str, tuple]:
        return {k: tuple(np.shape(a)) for k, a in self.arrays.items()}

    def validate(self, graph: Graph) -> int:
        """Check names, per-sample shapes, NaN/Inf and the dtypes against ``graph``'s
        inputs (once per input signature); the number of samples."""
        from ..npzio import num_samples

        self._require(graph)
        n = num_samples(graph, self.arrays, WHAT, check_nan=True)
        key = tuple((v.name, v.shape, v.dtype.name) for v in graph.inputs)
        if key not in self._checked:
            self._cast(graph, next(self._iter(graph)))  # dtypes: every sample has the same
            self._checked.add(key)
        return n

    def samples(self, graph: Graph, max_samples: Optional[int] = None) -> list[dict]:
        """The first ``max_samples`` samples (all by default), validated and cast to the
        input dtypes."""
        self._require(graph)
        if max_samples is not None and max_samples < 1:
            raise CalibrationError(f"--max-calib-samples must be at least 1, got {max_samples}")
        n = self.validate(graph)
        n = n if max_samples is None else min(n, max_samples)
        out = []
        for i, s in enumerate(self._iter(graph)):
            if i >= n:
                break
            out.append(self._cast(graph, s))
        return out

    def _require(self, graph: Graph) -> None:
        if not self.arrays:
            raise CalibrationError("no calibration data: pass an .npz with one array per model "
                                   f"input ({', '.join(v.name for v in graph.inputs)}) via --calib")

    def _iter(self, graph: Graph):
        from ..npzio import iter_samples

        return iter_samples(graph, self.arrays, WHAT)

    @staticmethod
    def _cast(graph: Graph, s: dict) -> dict:
        from ..interp import check_feeds

        try:
            return check_feeds(graph, s)
        except InputDataError as e:
            raise InputDataError(f"{WHAT}: {e}") from None
