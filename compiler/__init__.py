"""qcc: a quantizing compiler from ONNX to integer-only code.

Import map (see pyproject.toml): ``qcc`` is ``compiler/``, ``qcc.passes`` is
``passes/`` and ``qcc.backends`` is ``backends/``.

The Python API (docs/python_api.md) is loaded on first use, so ``import qcc``
stays cheap::

    import qcc
    art = qcc.compile("model.onnx", calib="calib.npz", target="c", out_dir="out")
    outs = art.run("test.npz")
"""

__version__ = "0.1.0"

_API = ("compile", "quantize", "load", "Artifact", "targets")
__all__ = ["__version__", "QccError", *_API]


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "QccError":
        from .errors import QccError

        return QccError
    raise AttributeError(f"module 'qcc' has no attribute '{name}'")
