"""``qcc run --engine cortex-m4`` without the tools it needs says which tool is missing
and how to install it (one line, exit 2), also when the ELF is already built."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from qcc.backends.c import arm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EX = os.path.join(ROOT, "examples", "digits_cnn")
TEST = os.path.join(EX, "test.npz")


def _qcc_with_path(path: str, *args) -> subprocess.CompletedProcess:
    """The console script with PATH limited to ``path`` (the venv's bin: no gcc, no QEMU)."""
    exe = shutil.which("qcc")
    assert exe
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PATH=path))


def _one_error_line(p) -> str:
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("qcc: error: "), p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, digits_c):
    return digits_c(tmp_path_factory.mktemp("m4") / "c")


def test_no_toolchain_names_the_tools_and_the_packages(compiled, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python3")
    line = _one_error_line(_qcc_with_path(str(bin_dir), "run", compiled, "--inputs", TEST,
                                          "--engine", "cortex-m4", "-o", tmp_path / "o.npz"))
    for needle in ("arm-none-eabi-gcc", "qemu-system-arm", "apt-get install"):
        assert needle in line, line
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.skipif(not arm.available(), reason=arm.missing_tools())
def test_cached_build_without_qemu_names_qemu(compiled, tmp_path):
    arm.build(compiled)  # the ELF is cached: running it needs QEMU only
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in (arm.GCC, arm.SIZE):
        os.symlink(shutil.which(tool), bin_dir / tool)
    line = _one_error_line(_qcc_with_path(str(bin_dir), "run", compiled, "--inputs", TEST,
                                          "--engine", "cortex-m4", "-o", tmp_path / "o.npz"))
    assert "qemu-system-arm not found" in line and "apt-get install qemu-system-arm" in line, line
