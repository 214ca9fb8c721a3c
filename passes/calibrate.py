"""calibrate: measure activation ranges on the cleaned-up float graph.

Runs only when ``--calib`` is given (the samples: ``ctx.calib_data()``).  Options:
``calib_method`` (default: qcc.calibration.DEFAULT_METHOD), ``percentile``,
``max_calib_samples``, ``quiet``.  The result, a :class:`qcc.calibration.Ranges`
keyed by value name, goes to ``graph.meta["ranges"]``; the fusion passes keep
value names, so the quantizer reads it after fusion.  Runs before fusion so
that onnxruntime can execute the graph (it has only onnx ops).
"""

from dataclasses import dataclass
from typing import Optional

from qcc.errors import CalibrationError
from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass


@dataclass(frozen=True)
class CalibrateOptions:
    calib_method: Optional[str] = None  # None: qcc.calibration.DEFAULT_METHOD
    percentile: float = 99.99
    max_calib_samples: Optional[int] = None
    quiet: bool = False

    def __post_init__(self):
        from qcc.calibration import METHODS

        if self.calib_method is not None and self.calib_method not in METHODS:
            raise CalibrationError(f"unknown calibration method '{self.calib_method}'; use one "
                                   f"of {', '.join(METHODS)}")
        if not 0.0 < float(self.percentile) <= 100.0:
            raise CalibrationError(f"--percentile must be in (0, 100], got {self.percentile}")
        if self.max_calib_samples is not None and int(self.max_calib_samples) < 1:
            raise CalibrationError(f"--max-calib-samples must be at least 1, got "
                                   f"{self.max_calib_samples}")


@register_pass("calibrate", "run the float graph on --calib samples; store per-value ranges "
                            "in graph.meta['ranges']", kind="quantize", options=CalibrateOptions)
def calibrate_pass(graph: Graph, ctx: PassContext) -> bool:
    from qcc.calibration import calibrate

    if not ctx.opt("calib") and ctx.calib is None:
        return False
    o = ctx.options_of(CalibrateOptions)
    ranges = calibrate(graph, ctx.calib_data(), o.calib_method, o.percentile or 99.99,
                       o.max_calib_samples, bool(o.quiet))
    graph.meta["ranges"] = ranges
    ctx.note("calibrate", **ranges.summary())
    ctx.report.setdefault("_timings", {})["calibration"] = ranges.seconds
    return False
