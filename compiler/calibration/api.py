"""``calibrate()`` and the :class:`Ranges` result."""

from __future__ import annotations

import time
from typing import Optional

from ..errors import CalibrationError
from ..ir import Graph
from .observers import METHODS, Observer, estimate, needs_histogram
from .progress import Progress
from .runner import make_runner, observed_values

DEFAULT_METHOD = "minmax"  # measured best or tied on the real-data examples: docs/calibration.md


class Ranges(dict):
    """value name -> (min, max) in real units; extra facts as attributes.

    ``observers`` keeps each value's :class:`Observer` (exact min/max, the
    sign-split histogram) so a caller can re-estimate with another method
    without running the model again (:meth:`reestimate`).
    """

    def __init__(self, *args, method: str = DEFAULT_METHOD, percentile: float = 99.99,
                 num_samples: int = 0, engine: str = "", seconds: float = 0.0, **kw):
        super().__init__(*args, **kw)
        self.method, self.percentile = method, percentile
        self.num_samples, self.engine, self.seconds = num_samples, engine, seconds
        self.observers: dict[str, Observer] = {}

    def reestimate(self, method: str, percentile: float = 99.99) -> "Ranges":
        if needs_histogram(method) and not needs_histogram(self.method):
            raise CalibrationError(f"ranges were measured with '{self.method}' (no histograms); "
                                   f"calibrate with a histogram method to re-estimate as '{method}'")
        r = Ranges({k: estimate(o, method, percentile) for k, o in self.observers.items()},
                   method=method, percentile=percentile, num_samples=self.num_samples,
                   engine=self.engine, seconds=self.seconds)
        r.observers = self.observers
        return r

    def summary(self) -> dict:
        return {"method": self.method, "percentile": self.percentile,
                "samples": self.num_samples, "engine": self.engine,
                "seconds": round(self.seconds, 3), "values": len(self)}


def _samples(graph: Graph, data, max_samples: Optional[int]) -> list[dict]:
    from .data import CalibData

    return (CalibData.of(data) or CalibData({})).samples(graph, max_samples)


def calibrate(graph: Graph, data, method: Optional[str] = None,
              percentile: float = 99.99, max_samples: Optional[int] = None,
              quiet: bool = False, engine: str = "auto") -> Ranges:
    """Ranges of every float value of ``graph`` over the samples in ``data`` (a
    :class:`~qcc.calibration.data.CalibData`, or arrays stacked along axis 0, one
    per graph input)."""
    method = method or DEFAULT_METHOD
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method '{method}'; use one of {', '.join(METHODS)}")
    if not 0.0 < percentile <= 100.0:
        raise CalibrationError(f"--percentile must be in (0, 100], got {percentile}")
    t0 = time.perf_counter()
    samples = _samples(graph, data, max_samples)
    runner = make_runner(graph, engine, probe=samples[0])
    names = [v.name for v in observed_values(graph)]
    obs = {k: Observer() for k in names}
    hist = needs_histogram(method)
    bar = Progress(len(samples), quiet=quiet)
    try:
        for s in samples:
            res = runner.run(s)
            for k in names:
                if k in res:
                    obs[k].update(res[k], hist)
            del res
            bar.step()
    finally:
        bar.close()
    ranges = Ranges(method=method, percentile=percentile, num_samples=len(samples),
                    engine=runner.engine, seconds=time.perf_counter() - t0)
    for k, o in obs.items():
        ranges[k] = estimate(o, method, percentile)
    ranges.observers = obs
    return ranges
