"""The op registry: one :class:`OpDef` per op, grouped by family modules.

An op states its type inference (``infer``) and its reference semantics
(``run``, numpy) in one place; the interpreter, the verifier, the importer and
the integer-only check all read this registry.  Adding an op means adding one
entry in the module of its family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..errors import QccError
from ..ir import Node, TensorType

InferFn = Callable[[Node], list[TensorType]]
RunFn = Callable[[Node, list[Optional[np.ndarray]]], list[np.ndarray]]


@dataclass
class OpDef:
    """Signature, inference and semantics of one op.

    ``float_arith`` tells whether the op computes on real numbers when its
    inputs are floats (data movement such as Reshape does not); the
    integer-only check uses it.
    """

    name: str
    infer: InferFn
    run: RunFn
    family: str = ""
    doc: str = ""
    float_arith: bool = True
    min_inputs: int = 0
    max_inputs: Optional[int] = None
    num_outputs: Optional[int] = None
    extra: dict = field(default_factory=dict)


_REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name} registered twice")
    _REGISTRY[opdef.name] = opdef
    return opdef


def lookup(op: str) -> OpDef:
    _load_families()
    try:
        return _REGISTRY[op]
    except KeyError:
        raise QccError(f"op '{op}' is not registered") from None


def is_registered(op: str) -> bool:
    _load_families()
    return op in _REGISTRY


def all_ops() -> dict[str, OpDef]:
    _load_families()
    return dict(_REGISTRY)


_LOADED = False


def _load_families() -> None:
    """Import the family modules once (they register on import)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def infer_types(node: Node) -> list[TensorType]:
    """Output types of ``node`` from its input types (registry dispatch)."""
    return lookup(node.op).infer(node)


def run_node(node: Node, args: list[Optional[np.ndarray]]) -> list[np.ndarray]:
    return lookup(node.op).run(node, args)
