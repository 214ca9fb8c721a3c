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

Options: :class:`AssignBitsOptions` (``--weight-bits``, the budgets, ``--latency-table``
(a measured table, JSON; see qcc.mixed_precision.latency), ``--keep-8bit``,
``--group-size``, ``--sensitivity``, ``--mixed-bits`` (``auto``: the ILP answers over 4/8
and over 2/4/8, the one whose measured joint output change is smaller; or e.g.
``2,4,8``), and the API-only ``sensitivity_samples``, ``sensitivity_cache`` (a folder;
"" disables), ``sensitivity_engine``, ``tie_shared_inputs``, ``layer_bits``), validated
when the CLI or the API starts, before the model is read.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any, Optional

from qcc.errors import BudgetError
from qcc.ir import Graph
from qcc.passmanager import PassContext, register_analysis, register_pass

DEFAULT_SAMPLES = 32
LAYER_BITS = register_analysis(
    "layer_bits", "node name -> weight bits chosen by assign-bits (with the option "
                  "layer_bits as the starting point); quantize reads it")


SENSITIVITY = ("auto", "kl", "mse", "hessian", "output")
BUDGETS = (("size", "--size-budget"), ("bops", "--bops-budget"),
           ("latency", "--latency-budget"))


@dataclass(frozen=True)
class AssignBitsOptions:
    """The assign-bits pass's options (one field per flag; see the module docstring)."""

    weight_bits: str = "8"                 # mixed turns the pass on
    size_budget: Optional[str] = None      # "60%" of the all-int8 cost, "12k", "1.5e9"
    bops_budget: Optional[str] = None
    latency_budget: Optional[str] = None
    latency_table: Any = None              # a JSON path or a loaded latency table
    keep_8bit: tuple = ()                  # globs on layer names pinned to 8 bits
    group_size: Optional[int] = None
    mixed_bits: str = "auto"               # auto | comma-separated widths incl. 8
    sensitivity: str = "auto"              # auto | kl | mse | hessian | output
    sensitivity_samples: int = DEFAULT_SAMPLES
    sensitivity_cache: Optional[str] = None  # a folder; "" disables
    sensitivity_engine: str = "auto"
    tie_shared_inputs: bool = True
    layer_bits: Optional[dict] = None      # node name -> bits given by the caller (API)
    target: str = "c"                      # the latency model's target

    def __post_init__(self):
        fix = {"weight_bits": str(self.weight_bits or "8").strip().lower(),
               "keep_8bit": tuple(self.keep_8bit or ()),
               "mixed_bits": str(self.mixed_bits or "auto").strip().lower(),
               "sensitivity": str(self.sensitivity or "auto").strip().lower(),
               "sensitivity_samples": int(self.sensitivity_samples or DEFAULT_SAMPLES)}
        for k, v in fix.items():
            object.__setattr__(self, k, v)
        if self.sensitivity not in SENSITIVITY:
            raise BudgetError(f"--sensitivity '{self.sensitivity}': use one of "
                              f"{', '.join(SENSITIVITY)}")
        if self.sensitivity_samples < 1:
            raise BudgetError(f"option sensitivity_samples={self.sensitivity_samples}: give at "
                              f"least 1")
        budgets = [(k, f) for k, f in BUDGETS if getattr(self, f"{k}_budget") is not None]
        if self.mixed_bits != "auto" or budgets:   # (imported only when needed: scipy)
            from qcc.mixed_precision.costs import parse_budget
            from qcc.mixed_precision.plan import parse_bits

            parse_bits(self.mixed_bits)       # raises on a bad --mixed-bits
            for kind, flag in budgets:        # syntax only; percentages need the model
                parse_budget(getattr(self, f"{kind}_budget"), kind, 1.0, flag)

    @property
    def mixed(self) -> bool:
        return self.weight_bits == "mixed"


def _check_flags(o: AssignBitsOptions) -> bool:
    """True for --weight-bits mixed; budgets without it are an error."""
    if not o.mixed:
        given = [flag for kind, flag in BUDGETS if getattr(o, f"{kind}_budget")]
        given += ["--latency-table"] if o.latency_table else []
        if o.mixed_bits != "auto":
            given.append("--mixed-bits")
        if given:
            raise BudgetError(f"{', '.join(given)} only applies with --weight-bits mixed "
                              f"(got --weight-bits {o.weight_bits})")
    return o.mixed


@register_pass("assign-bits", "with --weight-bits mixed: per-layer weight widths (8/4/2) by ILP "
                              "over measured sensitivities under size/BOPs/latency budgets",
               kind="quantize", options=AssignBitsOptions)
def assign_bits(graph: Graph, ctx: PassContext) -> bool:
    o = ctx.options_of(AssignBitsOptions)
    if not _check_flags(o):
        return False
    from qcc.mixed_precision import plan as mp  # the ILP solver's import takes seconds: only when used

    calib = ctx.calib_data()
    if calib is None:
        raise BudgetError("--weight-bits mixed needs calibration data (--calib CALIB.npz) to "
                          "measure each layer's sensitivity")
    data = calib.arrays
    n_sens = o.sensitivity_samples
    joint = mp.first_samples(graph, data, max(n_sens, mp.JOINT_SAMPLES))
    plan = mp.build(graph, joint[:n_sens], dataclasses.asdict(o), joint_samples=joint)
    if not plan.layers:
        ctx.note("assign-bits", layers=[], note="no quantizable layers")
        return False
    sol = mp.solve_plan(plan)
    rows = mp.table(plan, sol)
    summ = mp.summary(plan, sol, o.target)
    layer_bits = dict(o.layer_bits or {})
    layer_bits.update({r["layer"]: r["bits"] for r in rows})
    ctx.provide(LAYER_BITS, layer_bits)
    sys.stderr.write(mp.format_table(rows, summ) + "\n")  # stderr at call time (capturable)
    ctx.note("assign-bits", layers=rows, **summ)
    return False
