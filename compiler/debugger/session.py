"""``qcc debug``: a debugging session of the accuracy debugger (docs/debugging.md).

Builds the float graph (as it stands right before ``quantize``) and the integer
graph in memory with the target's pipeline, hands both to
:mod:`qcc.debugger` for the per-layer table, and tries the suggestions for the
worst layers (another calibration estimator for the layer's tensor, 8-bit weights
for the layer in a low-bit plan, cross-layer equalization, SmoothQuant), each
measured end to end within a time budget.  The pipeline, the compiler and the targets'
tracing runners come from the application layer as a :class:`Toolchain`
(``qcc.commands.cmd_debug`` lends the driver's), so the debugger imports no pass, backend
or driver itself.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..calibration import calibrate
from ..calibration.data import CalibData
from ..calibration.observers import estimate
from ..errors import QccError
from ..frontend.bind import drop_bound
from ..frontend.onnx_import import import_model
from ..ir import Graph
from ..npzio import iter_samples, load_npz
from ..passmanager import Instrumentation, PassContext, PassManager
from .compare import compare_graphs, end_to_end_sqnr
from .report import write_outputs

TRY_METHODS = ("percentile", "entropy", "mse")


@dataclass(frozen=True)
class Toolchain:
    """What the application layer lends a debugging session (the driver's functions).
    ``opts`` below is the driver's ``CompileOptions``."""
    pipeline: Callable[[str], list]      # target -> the pass names of its quantizing pipeline
    bind_shapes: Callable                # (model, input_shapes, CalibData | None) -> shapes
    compile: Callable                    # (model, opts) -> manifest: qcc compile
    trace: Callable                      # (out_dir, manifest, samples, fault_step) -> steps
    traced_targets: Callable[[], list]   # targets whose code ``trace`` runs step by step


@dataclass
class DebugGraphs:
    float_graph: Graph           # right before 'quantize' (fused, calibrated)
    quant_graph: Graph           # after the target's integer passes
    pre_calib: Graph             # right before 'calibrate' (for re-calibration)
    options: dict = field(default_factory=dict)


def _context(model_path: str, opts) -> PassContext:
    return PassContext(options=dict(opts.options, target=opts.target, model_path=model_path,
                                    model_name=opts.name, quiet=True))


def build_graphs(tools: Toolchain, model_path: str, opts, ranges=None) -> DebugGraphs:
    """Run the quantizing pipeline of ``opts.target`` in two halves around 'quantize'."""
    shapes = tools.bind_shapes(model_path, opts.input_shapes,
                               CalibData.of(opts.options.get("calib") or None))
    graph = import_model(model_path, shapes, bind=opts.bind)
    if graph.meta.get("bound_inputs") and isinstance(opts.options.get("calib"), CalibData):
        c = opts.options["calib"]
        opts.options["calib"] = CalibData(drop_bound(c.arrays, graph.meta["bound_inputs"], "--calib"),
                                          c.source)
    pipe = tools.pipeline(opts.target)
    k_cal, k_q = pipe.index("calibrate"), pipe.index("quantize")
    ctx = _context(model_path, opts)
    quiet = Instrumentation()
    PassManager(pipe[:k_cal], quiet).run(graph, ctx)
    pre_calib = graph.clone()
    PassManager(pipe[k_cal:k_q], quiet).run(graph, ctx, start_index=k_cal + 1)
    if ranges is not None:
        graph.meta["ranges"] = ranges
    fgraph = graph.clone()
    PassManager(pipe[k_q:], quiet).run(graph, ctx, start_index=k_q + 1)
    return DebugGraphs(fgraph, graph, pre_calib, dict(opts.options))


def _requantize(tools: Toolchain, dg: DebugGraphs, model_path: str, opts, ranges) -> Graph:
    """The integer graph of ``dg.float_graph`` with other calibrated ranges."""
    pipe = tools.pipeline(opts.target)
    k_q = pipe.index("quantize")
    g = dg.float_graph.clone()
    g.meta["ranges"] = ranges
    PassManager(pipe[k_q:], Instrumentation()).run(g, _context(model_path, opts), start_index=k_q + 1)
    return g


@dataclass
class Suggestion:
    layer: str
    what: str          # a sentence for the table
    flag: str          # how to get it from qcc compile (or '' when it needs no flag)
    sqnr_db: Optional[float] = None
    error: str = ""


def suggestions(stats: list, options: dict, worst: int = 2) -> list[tuple[Suggestion, dict]]:
    """(suggestion, how to try it) for the worst layers by introduced error."""
    out = []
    method = options.get("calib_method") or "minmax"
    for st in sorted(stats, key=lambda s: s.introduced_sqnr_db)[:worst]:
        for m in TRY_METHODS:
            if m != method:
                out.append((Suggestion(st.node, f"calibrate tensor '{st.tensor}' with {m}",
                                       f"--calib-method {m} (all tensors)"),
                            {"tensor": st.tensor, "method": m}))
        if str(options.get("weight_bits") or "8") != "8":
            out.append((Suggestion(st.node, f"keep the weights of '{st.node}' at 8 bits",
                                   f"--keep-8bit '{st.node}'"),
                        {"options": {"keep_8bit": list(options.get("keep_8bit") or []) + [st.node]}}))
    if not options.get("equalize"):
        out.append((Suggestion("(all)", "cross-layer equalization of conv/linear pairs", "--equalize"),
                    {"options": {"equalize": True}}))
    if options.get("smoothquant") is None:
        out.append((Suggestion("(all)", "SmoothQuant (alpha 0.5) of activation outliers",
                               "--smoothquant 0.5"), {"options": {"smoothquant": 0.5}}))
    return out


def try_suggestions(tools: Toolchain, model_path: str, opts, dg: DebugGraphs, stats: list,
                    samples: list, budget_s: float, calib_data) -> list[Suggestion]:
    """Measure each suggestion end to end (SQNR against the float graph), until the budget."""
    t_end = time.monotonic() + budget_s
    hist_ranges = None
    done = []
    for sug, how in suggestions(stats, opts.options):
        if time.monotonic() > t_end:
            sug.error = "not tried: time budget spent"
            done.append(sug)
            continue
        try:
            if "tensor" in how:
                if hist_ranges is None:  # one histogram calibration serves every estimator
                    hist_ranges = calibrate(dg.pre_calib.clone(), calib_data, "entropy",
                                            float(opts.options.get("percentile") or 99.99),
                                            opts.options.get("max_calib_samples"), True)
                ranges = copy.copy(dg.float_graph.meta["ranges"])
                obs = hist_ranges.observers.get(how["tensor"])
                if obs is None:
                    raise QccError(f"tensor '{how['tensor']}' has no calibration histogram")
                ranges[how["tensor"]] = estimate(obs, how["method"],
                                                 float(opts.options.get("percentile") or 99.99))
                qg = _requantize(tools, dg, model_path, opts, ranges)
            else:
                o2 = copy.copy(opts)
                o2.options = dict(opts.options, **how["options"])
                qg = build_graphs(tools, model_path, o2).quant_graph
            sug.sqnr_db = end_to_end_sqnr(dg.float_graph, qg, samples)
        except QccError as e:
            sug.error = str(e)
        done.append(sug)
    return done


def run_debug(args, opts, tools: Toolchain, check_target: bool) -> int:
    """``qcc debug MODEL --calib C --inputs IN [--target T] [-o DIR] [--try]`` with the compile
    options ``opts`` of the command line; ``check_target``: also find the first step whose
    output on ``opts.target`` differs from the reference (:mod:`.target_check`)."""
    opts.options["quantize"] = True
    if not opts.options.get("calib"):
        raise QccError("qcc debug needs calibration data: --calib CALIB.npz")
    opts.options["calib"] = CalibData.of(opts.options["calib"])  # read once, used by every run
    dg = build_graphs(tools, args.model, opts)
    data = drop_bound(load_npz(args.inputs, "--inputs"), dg.float_graph.meta.get("bound_inputs"))
    samples = list(iter_samples(dg.float_graph, data))[: args.max_samples]
    stats = compare_graphs(dg.float_graph, dg.quant_graph, samples)
    e2e = end_to_end_sqnr(dg.float_graph, dg.quant_graph, samples)
    tried = []
    if args.try_suggestions:
        tried = try_suggestions(tools, args.model, opts, dg, stats, samples, args.try_budget,
                                opts.options["calib"])
    target_check = None
    if check_target:
        from .target_check import first_divergence

        target_check = first_divergence(tools, args.model, opts, samples, args.output)
    os.makedirs(args.output, exist_ok=True)
    write_outputs(args.output, stats, e2e, tried, target_check, dg, samples,
                  model=os.path.basename(args.model), top=args.top)
    return 0
