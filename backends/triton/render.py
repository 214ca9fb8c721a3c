"""Rendering of the Triton kernels: Jinja templates -> Python source -> module.

``kernel_source(family, cfg)`` renders one ``@triton.jit`` kernel and its host
launcher ``<name>_launch(tensors, params)`` from ``templates/<family>.j2``;
``module_source`` joins several under one header (``templates/module.py.j2``);
``load_module`` imports a rendered source from a file named by its hash (Triton
reads kernel source with ``inspect``, so it must live in a file).  The
interpreter is chosen by ``TRITON_INTERPRET=1`` in the environment *before* the
module is imported (``@triton.jit`` reads it when it decorates).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

import jinja2

from .limits import check_tiles

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)

from qcc.ir import DType

TORCH_DTYPES = {DType.int8: "int8", DType.uint8: "uint8", DType.int16: "int16",
                DType.int32: "int32", DType.int64: "int64", DType.bool: "bool",
                DType.uint16: "uint16", DType.uint32: "uint32"}
TL_TYPES = {"int8": "tl.int8", "uint8": "tl.uint8", "int16": "tl.int16", "int32": "tl.int32",
            "int64": "tl.int64", "bool": "tl.uint8"}


def kernel_source(family: str, cfg: dict) -> str:
    check_tiles(family, cfg)
    return _ENV.get_template(f"{family}.j2").render(c=_Obj(cfg)).strip() + "\n"


def module_source(kernels: list, source: str = "") -> str:
    """``kernels``: list of (family, cfg) with distinct ``cfg['name']``."""
    ks = [{"source": kernel_source(f, c)} for f, c in kernels]
    return _ENV.get_template("module.py.j2").render(kernels=ks, source=source or "qcc")


def cache_dir() -> str:
    d = os.environ.get("QCC_TRITON_CACHE") or os.path.join(tempfile.gettempdir(),
                                                            f"qcc_triton_{os.getuid()}")
    os.makedirs(d, exist_ok=True)
    return d


def load_module(src: str, path: str | None = None):
    """Import rendered kernel source (cached by its hash); ``path`` to use a given file."""
    digest = hashlib.sha256(src.encode()).hexdigest()[:16]
    modname = f"qcc_triton_k_{digest}"
    if modname in sys.modules:
        return sys.modules[modname]
    if path is None:
        path = os.path.join(cache_dir(), modname + ".py")
        if not os.path.isfile(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(src)
            os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


class _Obj(dict):
    """Attribute access for template configs (``c.BM``), nested dicts included."""

    def __getattr__(self, k):
        try:
            v = self[k]
        except KeyError:
            raise jinja2.UndefinedError(f"kernel config has no '{k}'") from None
        return _Obj(v) if isinstance(v, dict) and not isinstance(v, _Obj) else v
