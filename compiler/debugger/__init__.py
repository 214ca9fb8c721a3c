"""The accuracy debugger behind ``qcc debug`` (docs/debugging.md).

``compare`` runs the float graph (as it stood right before quantization) and
the integer graph side by side in the reference interpreter and measures every
integer tensor that stands for a float one (the quantizer records that
provenance in ``graph.meta["provenance"]``): SQNR, cosine, max error in units
of the tensor's scale, and the clipping rate.  Each layer is also run alone on
the ideally quantized float inputs, which separates the error it introduces
from the error it inherits.  ``report`` prints the table and writes
``debug.json``; ``html`` draws ``debug.html``.  ``session`` builds the graphs and
tries the suggestions, ``target_check`` finds the first step of the generated code that
differs from the reference; the application layer (``qcc.commands``) lends them the
pipeline, the compiler and the backends' tracing runners.
"""

from .compare import LayerStat, compare_graphs, end_to_end_sqnr  # noqa: F401
