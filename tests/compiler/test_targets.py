"""Every command lists the same targets, from one place (``qcc.backends.TARGETS``): the
help of compile/passes, ``qcc passes``, and the errors of compile and passes agree."""

from __future__ import annotations

import os
import re

import pytest

from qcc.backends import TARGETS, available_targets
from qcc_testlib import assert_error, assert_ok, qcc, qcc_inproc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "examples", "digits_cnn", "digits_cnn.onnx")


@pytest.mark.parametrize("cmd", ["compile", "passes"])
def test_help_names_every_target(cmd):
    p = qcc(cmd, "--help")
    assert_ok(p)
    text = " ".join(p.stdout.split())
    assert " | ".join(TARGETS) in text


def test_passes_lists_the_available_targets_and_each_has_a_pipeline(capsys):
    """``qcc passes`` through the console script; each target's pipeline in this process."""
    p = qcc("passes")
    assert_ok(p)
    (line,) = re.findall(r"^targets: (.*)$", p.stdout, re.M)
    assert line.split(", ") == available_targets()
    assert set(available_targets()) <= set(TARGETS) and {"onnx", "c"} <= set(available_targets())
    for t in available_targets():
        q = qcc_inproc(capsys, "passes", "--target", t)
        assert_ok(q)
        assert re.search(r"^\s+1\. \S+", q.stdout, re.M), q.stdout


@pytest.mark.parametrize("target", ["no-such-target"] + [t for t in TARGETS
                                                          if t not in available_targets()])
def test_compile_and_passes_give_the_same_error_for_a_target(tmp_path, target, capsys):
    a = assert_error(qcc_inproc(capsys, "passes", "--target", target), f"'{target}'")
    b = assert_error(qcc("compile", MODEL, "--target", target, "-o", tmp_path / "o"), f"'{target}'")
    assert a == b
    assert all(t in a for t in (available_targets() if target in TARGETS else TARGETS))
    assert not (tmp_path / "o").exists()
