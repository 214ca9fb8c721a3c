"""What the ``python -m qcc.bench.NAME`` scripts share: the argument parser (program name and
the module docstring's first paragraph as its description, the timing options) and the
report (printed, and with ``--out DIR`` written as ``DIR/NAME.json`` and ``DIR/NAME.md``)."""

from __future__ import annotations

import argparse
import json
import os


def parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The parser of ``python -m qcc.bench.<name>`` described by its docstring ``doc``."""
    return argparse.ArgumentParser(prog=f"python -m qcc.bench.{name}",
                                   description=" ".join(doc.split("\n\n")[0].split()))


def add_timing(ap: argparse.ArgumentParser, rounds: int, runs: int, per: str) -> None:
    """``--rounds`` (alternating rounds) and ``--runs`` (timed runs per ``per`` per round)."""
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--runs", type=int, default=runs, help=f"timed runs per {per} per round")


def add_out(ap: argparse.ArgumentParser, stem: str) -> None:
    ap.add_argument("--out", default=None, help=f"write {stem}.json and {stem}.md here")


def publish(text: str, out: str | None, stem: str, payload: dict) -> None:
    """Print the report; with ``out``, also write ``payload`` as STEM.json and the text as STEM.md."""
    print(text)
    if not out:
        return
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{stem}.json"), "w") as f:
        json.dump(payload, f, indent=1)
    with open(os.path.join(out, f"{stem}.md"), "w") as f:
        f.write(text)
