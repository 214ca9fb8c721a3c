"""assign-bits: choose each layer's weight width by integer linear programming.

A no-op unless ``--weight-bits mixed``.  Runs on the calibrated, fused float
graph just before ``quantize``: finds the quantizable layers (conv, conv
transpose, linear, MatMul with constant weights), measures each layer's
label-free sensitivity at every candidate width (8/4/2) on the calibration
samples (cached, see qcc.mixed_precision.sensitivity), and solves the ILP of
qcc.mixed_precision.ilp under ``--size-budget`` / ``--bops-budget`` /
``--latency-budget``, with the first and last layer and ``--keep-8bit``
patterns pinned to 8 bits and layers that share an input tied.  The answer
is the analysis ``layer_bits`` (node name -> bits; ``ctx.provide``), which the
quantizer reads; the per-layer table (bits, sensitivity, bytes, BOPs, modelled cycles)
is printed to the log and noted for the manifest.  The graph is unchanged.

Options (``ctx.options``): ``weight_bits``, ``size_budget``, ``bops_budget``,
``latency_budget``, ``latency_table`` (a measured table, JSON; see
qcc.mixed_precision.latency), ``keep_8bit``, ``group_size``, ``sensitivity``
(auto|kl|mse|hessian), ``sensitivity_samples`` (default 32),
``sensitivity_cache`` (a folder; "" disables), ``mixed_bits`` (``auto``: the ILP
answers over 4/8 and over 2/4/8, the one whose measured joint output change is
smaller; or e.g. ``2,4,8``),
``tie_shared_inputs`` (default True), ``calib``, ``target``, ``quiet``.
"""

from __future__ import annotations

import sys

from qcc.errors import BudgetError
from qcc.ir import Graph
from qcc.passmanager import PassContext, register_analysis, register_pass

DEFAULT_SAMPLES = 32
LAYER_BITS = register_analysis(
    "layer_bits", "node name -> weight bits chosen by assign-bits (with the option "
                  "layer_bits as the starting point); quantize reads it")


def _check_flags(ctx: PassContext) -> bool:
    """True for --weight-bits mixed; budgets without it are an error."""
    mixed = str(ctx.opt("weight_bits", "8") or "8").strip().lower() == "mixed"
    if not mixed:
        given = [f for f, k in (("--size-budget", "size_budget"), ("--bops-budget", "bops_budget"),
                                ("--latency-budget", "latency_budget"),
                                ("--latency-table", "latency_table")) if ctx.opt(k)]
        if str(ctx.opt("mixed_bits", "auto") or "auto").strip().lower() != "auto":
            given.append("--mixed-bits")
        if given:
            raise BudgetError(f"{', '.join(given)} only applies with --weight-bits mixed "
                              f"(got --weight-bits {ctx.opt('weight_bits', '8')})")
    return mixed


@register_pass("assign-bits", "with --weight-bits mixed: per-layer weight widths (8/4/2) by ILP "
                              "over measured sensitivities under size/BOPs/latency budgets",
               kind="quantize")
def assign_bits(graph: Graph, ctx: PassContext) -> bool:
    from qcc.mixed_precision import plan as mp

    if not _check_flags(ctx):
        return False
    calib = ctx.calib_data()
    if calib is None:
        raise BudgetError("--weight-bits mixed needs calibration data (--calib CALIB.npz) to "
                          "measure each layer's sensitivity")
    data = calib.arrays
    n_sens = ctx.opt("sensitivity_samples") or DEFAULT_SAMPLES
    joint = mp.first_samples(graph, data, max(n_sens, mp.JOINT_SAMPLES))
    plan = mp.build(graph, joint[:n_sens], ctx.options, joint_samples=joint)
    if not plan.layers:
        ctx.note("assign-bits", layers=[], note="no quantizable layers")
        return False
    sol = mp.solve_plan(plan)
    rows = mp.table(plan, sol)
    summ = mp.summary(plan, sol, ctx.opt("target", "c"))
    layer_bits = dict(ctx.opt("layer_bits") or {})
    layer_bits.update({r["layer"]: r["bits"] for r in rows})
    ctx.provide(LAYER_BITS, layer_bits)
    sys.stderr.write(mp.format_table(rows, summ) + "\n")  # stderr at call time (capturable)
    ctx.note("assign-bits", layers=rows, **summ)
    return False
