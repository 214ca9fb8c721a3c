"""The repository is self-contained: no tracked file refers to files outside it (a fresh
clone has nothing beside it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# built from pieces so that this file does not match itself
_OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "shared/" + "reference/", "shared/" + "data/",
                                "/" + "work/"]))


def _tracked_files():
    if shutil.which("git") and os.path.exists(os.path.join(ROOT, ".git")):
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        return [f for f in out.stdout.decode().split("\0") if f]
    pytest.fail("not a git checkout: cannot list the tracked files")


def test_no_tracked_file_refers_outside_the_repository():
    bad = []
    for rel in _tracked_files():
        path = os.path.join(ROOT, rel)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for i, line in enumerate(text.splitlines(), 1):
            if _OUTSIDE.search(line):
                bad.append(f"{rel}:{i}: {line.strip()[:100]}")
    assert not bad, "files refer to paths outside the repository:\n" + "\n".join(bad)


def test_the_detector_catches_a_reference():
    assert _OUTSIDE.search("see ../" + "shared/" + "reference/x.md")
    assert not _OUTSIDE.search("quantize_multipliers_shared(rs)")
