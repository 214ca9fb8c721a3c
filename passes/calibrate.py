"""calibrate: collect activation ranges of the float graph on calibration data.

Runs the graph as it stands (after cleanup, before fusion, so that every
tensor a fused op hides still has a range) over ``--calib CALIB.npz`` and
stores ``{value name: (min, max)}`` in ``ctx.options["ranges"]`` for the
quantize pass.  Estimators and the runner are in ``qcc.calibration``.
"""

import time

from qcc.errors import CalibrationError
from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass

DEFAULT_METHOD = "percentile"


@register_pass("calibrate", "run the float graph on --calib data and record activation ranges",
               kind="quantize")
def calibrate_pass(graph: Graph, ctx: PassContext) -> bool:
    from qcc.calibration import calibrate
    from qcc.npzio import load_npz

    if ctx.options.get("ranges") is not None:
        return False  # pre-computed (tests, QDQ import, cached runs)
    path = ctx.options.get("calib")
    if not path:
        raise CalibrationError("quantization needs calibration data: pass --calib CALIB.npz "
                               "(one array per model input, samples stacked on axis 0)")
    data = load_npz(path, "--calib")
    t0 = time.perf_counter()
    method = ctx.options.get("calib_method") or DEFAULT_METHOD
    ranges = calibrate(graph, data, method=method, percentile=ctx.options.get("percentile", 99.99),
                       max_samples=ctx.options.get("max_calib_samples"),
                       quiet=ctx.options.get("quiet", True))
    dt = time.perf_counter() - t0
    ctx.options["ranges"] = ranges
    ctx.report.setdefault("_timings", {})["calibration"] = dt
    ctx.note("calibrate", method=method, tensors=len(ranges), seconds=round(dt, 3))
    return False
