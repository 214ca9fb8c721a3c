"""Mixed-precision weight bit-width assignment (docs/mixed_precision.md).

``costs`` finds the quantizable layers of a float graph and their size, BOP
and modelled latency per candidate width; ``sensitivity`` measures how much
the model output changes when one layer's weights are quantized; ``ilp``
chooses one width per layer under the budgets (``scipy.optimize.milp``);
``latency`` reads measured latency tables (``--latency-table``);
``qcc.bench.latency_table`` times qcc's C kernels on the host to write one.
The ``assign-bits`` pass (passes/assign_bits.py) ties them together.
"""

from .ilp import Problem, Solution, solve

__all__ = ["Problem", "Solution", "solve"]
