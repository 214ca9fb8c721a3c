"""The quantizer's rule table (passes/quantize/registry.py): one place, no overrides."""

from __future__ import annotations

import ast
import pathlib

import pytest

from qcc.ops import lookup
from qcc.passes.quantize import registry

QUANTIZE = pathlib.Path(registry.__file__).parent


def test_every_rule_key_is_a_registered_op():
    unknown = []
    for op in registry.RULES:
        try:
            lookup(op)
        except Exception:  # noqa: BLE001 - any failure means the key names no op
            unknown.append(op)
    assert not unknown, f"rules for ops the op registry does not know: {unknown}"


def test_an_op_listed_twice_is_an_error(monkeypatch):
    first = registry._TABLE[0]
    monkeypatch.setattr(registry, "_TABLE", registry._TABLE + [((first[0][0],), first[1])])
    with pytest.raises(ValueError, match=f"lists '{first[0][0]}' twice"):
        registry._build()


def test_no_module_but_the_registry_writes_the_rule_table():
    """Rules are plain functions: no rule module assigns into a rule dict, decorates
    with a registering decorator, or imports a rule family inside ``try``."""
    offenders = []
    for path in sorted(QUANTIZE.glob("*.py")):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Subscript) and getattr(t.value, "id", "") == "RULES"
                    for t in node.targets):
                offenders.append(f"{path.name}:{node.lineno} assigns RULES[...]")
            if isinstance(node, ast.Try) and any(isinstance(h.type, ast.Name) and h.type.id ==
                                                 "ImportError" for h in node.handlers):
                offenders.append(f"{path.name}:{node.lineno} imports inside try/except ImportError")
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "id", "") == "qrule"
                    for d in node.decorator_list):
                offenders.append(f"{path.name}:{node.lineno} registers with @qrule")
    assert not offenders, offenders
