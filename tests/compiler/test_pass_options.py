"""Typed pass options (docs/architecture.md): one dataclass per pass, validated up front,
and passes hand results on through analyses, never through the options."""

from __future__ import annotations

import ast
import dataclasses
import os
import pathlib
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from qcc_testlib import assert_error, qcc_inproc  # noqa: E402

import qcc.passes  # noqa: E402,F401  (registers the passes)
from qcc.errors import QccError  # noqa: E402
from qcc.passmanager import PassContext, all_passes, check_options, typed_options  # noqa: E402

PASSES_DIR = pathlib.Path(qcc.passes.__file__).parent


def test_option_classes_are_frozen_dataclasses_with_defaults():
    typed = {n: p.options for n, p in all_passes().items() if p.options is not None}
    assert {"calibrate", "equalize", "smoothquant", "reorder-channels", "quantize",
            "check-integer-only", "assign-bits"} <= set(typed)
    for name, cls in typed.items():
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, name
        cls()  # every field has a default: a pass runs with no option given


def test_quantize_options_normalize_like_the_flags():
    cls = all_passes()["quantize"].options
    o = typed_options(cls, {"weight_bits": "", "softmax": "SHIFT", "residual_bits": 0,
                            "keep_8bit": ["conv*"], "allow_float": None})
    assert (o.weight_bits, o.softmax, o.residual_bits) == ("8", "shift", 16)
    assert o.keep_8bit == ("conv*",) and o.allow_float == ()


def test_unset_means_default():
    cls = all_passes()["calibrate"].options
    o = typed_options(cls, {"percentile": None, "calib_method": "mse", "unrelated": 3})
    assert o.percentile == 99.99 and o.calib_method == "mse" and o.max_calib_samples is None
    assert PassContext(options={"reorder_channels": "sort"}).options_of(
        all_passes()["reorder-channels"].options).reorder_channels == "sort"


@pytest.mark.parametrize("options, needle", [
    ({"percentile": 150.0}, "--percentile must be in (0, 100], got 150.0"),
    ({"max_calib_samples": 0}, "--max-calib-samples must be at least 1"),
    ({"smoothquant": 1.5}, "--smoothquant ALPHA must be in (0, 1), got 1.5"),
    ({"reorder_channels": "shuffle"}, "--reorder-channels must be one of"),
    ({"outlier_8bit": 4}, "--outlier-8bit needs --reorder-channels"),
    ({"softmax": "fast"}, "option softmax='fast' is not 'ibert' or 'shift'"),
    ({"residual_bits": 12}, "option residual_bits=12: use 8 or 16"),
    ({"mixed_bits": "3,8"}, "--mixed-bits '3,8': give 'auto' or comma-separated widths"),
    ({"weight_bits": "mixed", "size_budget": "lots"}, "--size-budget 'lots' is not a number"),
    ({"weight_bits": "mixed", "bops_budget": "-5%"}, "--bops-budget '-5%' must be positive"),
    ({"sensitivity": "entropy"}, "--sensitivity 'entropy': use one of auto, kl, mse"),
    ({"sensitivity_samples": -2}, "option sensitivity_samples=-2: give at least 1"),
])
def test_check_options_names_the_bad_value(options, needle):
    with pytest.raises(QccError) as e:
        check_options(options)
    assert needle in str(e.value)


def test_assign_bits_options_are_typed():
    cls = all_passes()["assign-bits"].options
    o = typed_options(cls, {"weight_bits": "MIXED", "size_budget": "60%", "keep_8bit": ["fc*"],
                            "mixed_bits": None, "sensitivity_samples": 0, "target": "accel",
                            "layer_bits": {"conv": 4}, "unrelated": 1})
    assert (o.mixed, o.size_budget, o.keep_8bit, o.mixed_bits) == (True, "60%", ("fc*",), "auto")
    assert (o.sensitivity_samples, o.target, o.layer_bits) == (32, "accel", {"conv": 4})
    assert not typed_options(cls, {}).mixed


def test_cli_rejects_a_bad_budget_before_reading_the_model(tmp_path, capsys):
    out = tmp_path / "out"
    assert_error(qcc_inproc(capsys, "compile", tmp_path / "missing.onnx", "--calib",
                            tmp_path / "missing.npz", "--weight-bits", "mixed", "--size-budget",
                            "12x", "-o", out), "--size-budget '12x' is not a number")
    assert not out.exists()


def test_cli_rejects_a_bad_option_before_reading_the_model(tmp_path, capsys):
    """--percentile is checked with the options, before the (missing) model is opened."""
    out = tmp_path / "out"
    assert_error(qcc_inproc(capsys, "compile", tmp_path / "missing.onnx", "--calib",
                            tmp_path / "missing.npz", "--percentile", "150", "-o", out),
                 "--percentile must be in (0, 100]")
    assert not out.exists()


def test_no_pass_writes_the_options():
    """Results go to ctx.provide (named analyses) or graph.meta, never into ctx.options."""
    bad = []
    for path in sorted(PASSES_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
            for t in targets:
                if isinstance(t, ast.Subscript) and ast.unparse(t.value).endswith("ctx.options"):
                    bad.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("update", "setdefault", "pop", "clear") and \
                    ast.unparse(node.func.value).endswith("ctx.options"):
                bad.append(f"{path.name}:{node.lineno}")
    assert not bad, f"passes writing ctx.options: {bad}"
