"""PassContext: named analyses between passes (docs/architecture.md)."""

from __future__ import annotations

import pytest

import qcc.passes  # noqa: F401  (registers the passes and their analyses)
from qcc.errors import PassError
from qcc.passmanager import PassContext, all_analyses, register_analysis


def test_analyses_are_declared_by_name():
    assert "layer_bits" in all_analyses()  # declared by passes/assign_bits.py
    ctx = PassContext()
    assert ctx.analysis("layer_bits") is None
    assert ctx.analysis("layer_bits", {"a": 8}) == {"a": 8}
    ctx.provide("layer_bits", {"conv": 4})
    assert ctx.analysis("layer_bits") == {"conv": 4} and "layer_bits" not in ctx.options


def test_an_undeclared_analysis_is_an_error():
    ctx = PassContext()
    with pytest.raises(PassError, match="unknown analysis 'layer_bitz'.*layer_bits"):
        ctx.provide("layer_bitz", {})
    with pytest.raises(PassError, match="unknown analysis 'nope'"):
        ctx.analysis("nope")


def test_one_name_one_meaning():
    register_analysis("layer_bits", all_analyses()["layer_bits"])  # same declaration: fine
    with pytest.raises(ValueError, match="declared twice"):
        register_analysis("layer_bits", "something else")
