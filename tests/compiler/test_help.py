"""Every flag of every command has help text (``qcc CMD --help`` through the console
script), including the instrumentation flags and --inputs."""

from __future__ import annotations

import argparse
import re

import pytest

from qcc.cli import build_parser
from qcc_testlib import assert_ok, qcc


def _commands() -> dict:
    ap = build_parser()
    (sub,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


@pytest.mark.parametrize("cmd", sorted(_commands()))
def test_every_flag_has_help_text(cmd):
    p = qcc(cmd, "--help")
    assert_ok(p)
    text = p.stdout
    for action in _commands()[cmd]._actions:
        if action.help == argparse.SUPPRESS:
            continue
        flag = action.option_strings[-1] if action.option_strings else action.metavar or action.dest
        assert action.help and len(action.help) > 8, f"qcc {cmd} {flag}: no help text"
        # the help output shows the flag followed by its text
        m = re.search(re.escape(flag) + r"[^\n]*\n?\s*(\S[^\n]*)", text.split("options:")[-1]
                      if action.option_strings else text)
        assert m, f"qcc {cmd} --help does not show {flag}"


def test_the_flags_a_new_user_asked_about_are_explained():
    run = " ".join(qcc("run", "--help").stdout.split())
    assert re.search(r"--inputs IN\.npz input samples: one array per model input", run)
    comp = " ".join(qcc("compile", "--help").stdout.split())
    for flag, words in [("--print-ir-after-all", "after every pass"),
                        ("--print-ir-before PASS", "before PASS"),
                        ("--dump-dir DIR", "after every pass into DIR"),
                        ("--stop-after PASS", "without running the backend")]:
        assert re.search(re.escape(flag) + r" (?:(?! --[a-z]).){0,120}" + re.escape(words), comp), flag
