"""``qcc demo`` (the README's first quick-start command) through the console script:
it compiles the bundled digits CNN, runs it and reports accuracy, size and files."""

from __future__ import annotations

import re

from qcc_testlib import qcc


def test_demo_reports_accuracy_size_and_files(tmp_path):
    p = qcc("demo", "-o", "out", cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    acc = re.search(r"accuracy\s+([\d.]+) % of the labels with the int8 C code, ([\d.]+) % with "
                    r"the float model", out)
    assert acc, out
    assert float(acc.group(1)) >= 95 and float(acc.group(2)) >= 95
    assert "bit-exact  yes" in out
    assert re.search(r"weights [\d.]+ KiB .* RAM arena [\d.]+ KiB", out)
    listed = re.findall(r"^  (\S+\.(?:[ch]|txt|json))\s", out, re.M)
    assert {"model.h", "model.c", "manifest.json"} <= set(listed)
    for f in listed:
        assert (tmp_path / "out" / f).is_file(), f
    assert "Traceback" not in p.stderr


def test_demo_unknown_example_is_one_clear_line(tmp_path):
    p = qcc("demo", "--example", "no_such_example", "-o", "out", cwd=str(tmp_path))
    assert p.returncode == 2
    assert p.stderr.startswith("qcc: error: example 'no_such_example' not found")
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
