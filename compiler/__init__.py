"""qcc: a quantizing compiler from ONNX to integer-only code.

Import map (see pyproject.toml): ``qcc`` is ``compiler/``, ``qcc.passes`` is
``passes/`` and ``qcc.backends`` is ``backends/``.
"""

__version__ = "0.1.0"
