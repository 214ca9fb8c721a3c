"""Long steps show progress on a terminal and nothing in logs: ``qcc run`` of a C folder
under a pseudo-terminal shows the gcc build; the same command into a pipe does not."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples", "digits_cnn")
TEST = os.path.join(EX, "test.npz")


@pytest.fixture()
def c_dir(tmp_path, digits_c):
    return digits_c(tmp_path / "c")


def _env() -> dict:
    env = dict(os.environ, QCC_PROGRESS_DELAY="0")
    env.pop("QCC_PROGRESS", None)
    return env


def _run_on_tty(args) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; return (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    chunks = []

    def read():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    th = threading.Thread(target=read, daemon=True)
    th.start()
    p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                       env=_env(), timeout=600)
    os.close(slave)
    th.join(timeout=10)
    os.close(master)
    return p.returncode, b"".join(chunks).decode(errors="replace")


def test_build_progress_on_a_terminal_only(c_dir, tmp_path):
    exe = shutil.which("qcc")
    rc, tty = _run_on_tty([exe, "run", str(c_dir), "--inputs", TEST, "-o", str(tmp_path / "a.npz")])
    assert rc == 0, tty
    assert "qcc: building the C runner with gcc" in tty and "done (" in tty, tty
    # into a pipe (a log): no progress text at all, only the one result line
    for f in c_dir.glob("qcc_run_*"):
        f.unlink()
    p = subprocess.run([exe, "run", str(c_dir), "--inputs", TEST, "-o", str(tmp_path / "b.npz")],
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert p.returncode == 0, p.stderr
    assert "qcc: building" not in p.stderr and "\r" not in p.stderr
    assert p.stderr.strip().splitlines() == [ln for ln in p.stderr.strip().splitlines()
                                             if ln.startswith("wrote ")]
