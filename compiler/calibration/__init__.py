"""Calibration: activation ranges of a float graph from sample inputs.

``calibrate(graph, data, method, percentile, max_samples, quiet) -> Ranges``
runs the float model (onnxruntime, else the interpreter) over the samples,
streams per-value statistics and estimates a ``(min, max)`` per float value
name.  See docs/calibration.md for the methods and the measured defaults.
"""

from .api import DEFAULT_METHOD, Ranges, calibrate
from .observers import METHODS, Observer, estimate

__all__ = ["DEFAULT_METHOD", "METHODS", "Observer", "Ranges", "calibrate", "estimate"]
