"""The shared shape of the ``python -m qcc.bench.NAME`` scripts (bench/script.py): the program
name and description in ``--help``, the timing options, and the report written under --out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qcc.bench import script


def test_publish_prints_and_writes_the_same_report(tmp_path, capsys):
    script.publish("| a |\n|---|\n| 1 |\n", str(tmp_path / "o"), "demo", {"rows": [1, 2]})
    assert capsys.readouterr().out == "| a |\n|---|\n| 1 |\n\n"
    assert json.loads((tmp_path / "o" / "demo.json").read_text()) == {"rows": [1, 2]}
    assert (tmp_path / "o" / "demo.md").read_text() == "| a |\n|---|\n| 1 |\n"
    script.publish("x", None, "none", {})  # no --out: printed only
    assert capsys.readouterr().out == "x\n" and not (tmp_path / "none.json").exists()


def test_parser_options():
    ap = script.parser("demo", "First   paragraph\non two lines.\n\nUsage, not described.")
    script.add_timing(ap, rounds=3, runs=7, per="build")
    script.add_out(ap, "demo")
    assert ap.prog == "python -m qcc.bench.demo"
    assert ap.description == "First paragraph on two lines."
    a = ap.parse_args([])
    assert (a.rounds, a.runs, a.out) == (3, 7, None)
    a = ap.parse_args(["--rounds", "1", "--runs", "2", "--out", "d"])
    assert (a.rounds, a.runs, a.out) == (1, 2, "d")


@pytest.mark.parametrize("name", ["kernels", "lowbit", "lut_shapes"])
def test_scripts_name_themselves_in_help(name):
    r = subprocess.run([sys.executable, "-m", f"qcc.bench.{name}", "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith(f"usage: python -m qcc.bench.{name} ")
    assert "--rounds" in r.stdout and "--runs" in r.stdout and f"write {name}.json" in r.stdout
