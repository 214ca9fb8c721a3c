"""The output folder of ``qcc compile``: checked early, written atomically, cleaned up.

Output goes to a hidden temporary sibling folder that replaces the requested
folder only when everything succeeded, so a failed, interrupted (Ctrl-C,
SIGTERM, SIGHUP) or refused compile leaves nothing behind.  ``-o`` naming a
symbolic link to a folder writes into the folder the link points to (the link
stays).  The committed folder gets the permissions ``mkdir`` would give under the
current umask.  Every ``OSError`` on the way becomes one :class:`OutputError`
line naming the path.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from typing import Iterator

from .errors import QccError

MAX_NAME = 64  # C identifiers and file names ``NAME_weights.c`` stay far below NAME_MAX
RESERVED_PREFIX = "qcc_"  # qcc_run.c, qcc_kernels.h, qcc_run_<tag> binaries ...


class OutputError(QccError):
    """The output folder or file cannot be written (names the path)."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM / SIGHUP, handled like Ctrl-C (``exit_code`` is 128 + the signal)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


def os_error(e: OSError, path: str, what: str = "output folder", tmp: str = "") -> OutputError:
    """One line naming ``path``, the file at fault (when another) and the reason."""
    where = e.filename if isinstance(e.filename, str) and e.filename else ""
    if tmp and where.startswith(tmp):
        where = path + where[len(tmp):]
    if os.path.basename(where).startswith(".") and where.endswith(".tmp"):
        where = ""  # our hidden temporary folder: the user knows the folder asked for
    extra = f" ('{where}')" if where and where != path else ""
    return OutputError(f"cannot write {what} '{path}'{extra}: {e.strerror or type(e).__name__}")


def check_name(name: str) -> None:
    """``--name`` must give short file names and must not collide with qcc's own files."""
    if not name or len(name) > MAX_NAME:
        raise OutputError(f"--name must have 1 to {MAX_NAME} characters (got {len(name)})")
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_").lower()
    if ident.startswith(RESERVED_PREFIX) or ident in ("qcc", "manifest", "timings"):
        raise OutputError(f"--name '{name}' is reserved: names starting with '{RESERVED_PREFIX}' "
                          f"(qcc_run.c, qcc_kernels.h ...) and 'manifest', 'timings' belong to "
                          f"the files qcc generates")


def resolve(out_dir: str) -> str:
    """Absolute path; a symlink to a folder is followed (the link itself is kept)."""
    out_dir = os.path.abspath(out_dir)
    if os.path.islink(out_dir):
        target = os.path.realpath(out_dir)
        if not os.path.isdir(target):
            raise OutputError(f"output path '{out_dir}' is a symbolic link to '{target}', "
                              f"which is not a folder")
        return target
    return out_dir


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def prepare(out_dir: str) -> tuple[str, list[str]]:
    """Check ``out_dir``, create missing parents; return (temporary folder, parents made)."""
    out_dir = resolve(out_dir)
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise OutputError(f"output path '{out_dir}' exists and is not a folder")
        if os.listdir(out_dir) and not os.path.isfile(os.path.join(out_dir, "manifest.json")):
            raise OutputError(f"output folder '{out_dir}' is not empty and holds no earlier qcc "
                              f"output (no manifest.json); refusing to overwrite it")
    made = missing_parents(out_dir)
    parent = os.path.dirname(out_dir)
    try:
        for d in reversed(made):
            os.mkdir(d)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", suffix=".tmp", dir=parent)
    except OSError as e:
        remove_parents(made)
        raise os_error(e, out_dir) from None
    return tmp, made


def commit(tmp: str, out_dir: str) -> None:
    """Replace ``out_dir`` by ``tmp`` (permissions as ``mkdir`` under the umask)."""
    out_dir = resolve(out_dir)
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", suffix=".old",
                                   dir=os.path.dirname(out_dir))
            os.rename(out_dir, os.path.join(old, "x"))
        os.rename(tmp, out_dir)
    except OSError as e:
        if old and os.path.exists(os.path.join(old, "x")) and not os.path.exists(out_dir):
            os.rename(os.path.join(old, "x"), out_dir)  # put the earlier output back
        raise os_error(e, out_dir, tmp=tmp) from None
    finally:
        if old:
            shutil.rmtree(old, ignore_errors=True)


def missing_parents(out_dir: str) -> list[str]:
    """Ancestors of ``out_dir`` that do not exist yet, innermost first."""
    out, d = [], os.path.dirname(os.path.abspath(out_dir))
    while d and not os.path.exists(d) and not os.path.islink(d):
        out.append(d)
        d = os.path.dirname(d)
    return out


def remove_parents(made: list[str]) -> None:
    for d in made:
        try:
            os.rmdir(d)
        except OSError:
            break


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` (cleanup runs as for Ctrl-C)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise Interrupted(signum)

    sigs = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s]
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
