"""Thin adapter to the target-neutral lowering helpers this backend reuses.

The shared lowering layer ``qcc.lower`` (kernel program, memory plan, target
description; docs/lowering.md) owns them; this module is the one place where the Triton
backend reaches for them, so moving the backend onto the kernel program touches only
this file:

* the static memory planner (``qcc.lower.memplan``: abstract byte buffers with lifetimes);
* compile-time index maps of data-movement ops (the op's reference implementation run
  on element indices, ``qcc.lower.rules_move``) and the pad fill value.

Float chains ending in a ``qcc.quantize`` are no longer lowered here: the
``lower-thresholds`` pass (run for every integer target) makes them ``qcc.threshold``
ops, which the backend renders as a threshold search.
"""

from __future__ import annotations

from qcc.ir import Node
from qcc.lower.memplan import Buffer, check_plan, plan_memory  # noqa: F401
from qcc.lower.program import Lowerer as _SharedLowerer
from qcc.lower.rules_move import _fill_value as fill_value  # noqa: F401
from qcc.lower.rules_move import index_maps as _index_maps
from qcc.lower.rules_threshold import CHAIN_OPS  # noqa: F401
from qcc.lower.target import Target

_TRITON = Target(name="triton")


def index_maps(node: Node):
    """Source element index of every output element of a data-movement node (-1: fill)."""
    return _index_maps(_SharedLowerer(None, "model", _TRITON), node)
