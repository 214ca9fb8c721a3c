"""calibrate: measure activation ranges on the cleaned-up float graph.

Runs only when ``--calib`` is given (the samples: ``ctx.calib_data()``).  Options:
``calib_method`` (default: qcc.calibration.DEFAULT_METHOD), ``percentile``,
``max_calib_samples``, ``quiet``.  The result, a :class:`qcc.calibration.Ranges`
keyed by value name, goes to ``graph.meta["ranges"]``; the fusion passes keep
value names, so the quantizer reads it after fusion.  Runs before fusion so
that onnxruntime can execute the graph (it has only onnx ops).
"""

from qcc.ir import Graph
from qcc.passmanager import PassContext, register_pass


@register_pass("calibrate", "run the float graph on --calib samples; store per-value ranges "
                            "in graph.meta['ranges']", kind="quantize")
def calibrate_pass(graph: Graph, ctx: PassContext) -> bool:
    from qcc.calibration import calibrate

    if not ctx.opt("calib") and ctx.calib is None:
        return False
    ranges = calibrate(graph, ctx.calib_data(), ctx.opt("calib_method"), ctx.opt("percentile", 99.99) or 99.99,
                       ctx.opt("max_calib_samples"), bool(ctx.opt("quiet", False)))
    graph.meta["ranges"] = ranges
    ctx.note("calibrate", **ranges.summary())
    ctx.report.setdefault("_timings", {})["calibration"] = ranges.seconds
    return False
