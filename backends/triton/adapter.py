"""Thin adapter to the target-neutral lowering helpers this backend reuses.

The shared lowering layer (``qcc.lower``: kernel program, memory plan, target
description) is being built in parallel.  Until it owns everything, this module is the
one place where the Triton backend reaches for lowering helpers that still live
elsewhere, so switching to ``qcc.lower`` touches only this file:

* the static memory planner (``qcc.lower.memplan`` when present, else the C backend's
  ``memplan``; both plan abstract byte buffers with lifetimes);
* compile-time index maps of data-movement ops (the op's reference implementation run
  on element indices) and the pad fill value;
* the step function (thresholds) of a float chain ending in a ``qcc.quantize``.
"""

from __future__ import annotations

try:  # the shared lowering layer, once it has landed
    from qcc.lower.memplan import Buffer, check_plan, plan_memory  # type: ignore
except ImportError:  # pragma: no cover - depends on the state of main
    from qcc.backends.c.memplan import Buffer, check_plan, plan_memory  # noqa: F401

from qcc.backends.c.rules_move import _fill_value as fill_value  # noqa: F401,E402
from qcc.backends.c.rules_move import index_maps  # noqa: F401,E402
from qcc.backends.c.rules_tf import CHAIN_OPS, VIEWS, _chain, _evaluator, step_function  # noqa: F401,E402


def thresholds(node):
    """(source value, ascending thresholds, values) of ``qcc.quantize(chain(src))``:
    ``y = values[#(thresholds <= src)]`` for every integer ``src`` (checked on probes)."""
    import numpy as np

    from qcc.errors import LoweringError

    src, chain = _chain(node)
    out = node.outputs[0]
    if src.dtype.bits not in (8, 16, 32, 64) or src.type.numel != out.type.numel:
        raise LoweringError(f"target triton: qcc.quantize node '{node.name}': the chain from "
                            f"'{src.name}' is not elementwise on an integer tensor")
    f = _evaluator(src, chain, node)
    info = np.iinfo(src.dtype.np)
    t, vals = step_function(f, int(info.min), int(info.max))
    probe = np.unique(np.concatenate([np.arange(-4096, 4097), np.array(t, np.int64),
                                      np.array(t, np.int64) - 1]).clip(info.min, info.max))
    got = np.array(vals)[np.searchsorted(np.array(t, np.int64), probe, side="right")]
    if not np.array_equal(f(probe), got):
        raise LoweringError(f"target triton: qcc.quantize node '{node.name}': the float chain "
                            f"is not a monotone step function of '{src.name}'")
    return src, np.array(t, np.int64), np.array(vals, np.int64)
