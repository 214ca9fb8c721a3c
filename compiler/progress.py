"""Progress of long steps (building, simulating, benchmarking) on a terminal.

``with step("building the C runner"):`` shows ``qcc: building the C runner ... 2.4 s``
on stderr, updated while the step runs and finished with its time, when stderr is a
terminal; in logs and pipes it writes nothing.  Steps shorter than half a second print
nothing either.  ``QCC_PROGRESS=0`` silences it on a terminal too; ``QCC_PROGRESS=1``
forces it (for tests).  The calibration bar is ``qcc.calibration.progress``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Iterator, Optional, TextIO

DELAY_S = 0.5  # steps faster than this leave no trace (QCC_PROGRESS_DELAY overrides)
TICK_S = 0.25


def enabled(stream: Optional[TextIO] = None) -> bool:
    env = os.environ.get("QCC_PROGRESS", "")
    if env in ("0", "1"):
        return env == "1"
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", None)) and stream.isatty()


@contextlib.contextmanager
def step(label: str, stream: Optional[TextIO] = None) -> Iterator[None]:
    stream = stream or sys.stderr
    if not enabled(stream):
        yield
        return
    delay = float(os.environ.get("QCC_PROGRESS_DELAY", DELAY_S))
    t0 = time.perf_counter()
    done = threading.Event()
    shown = []

    def draw():
        while not done.wait(min(TICK_S, delay) or 0.01):
            dt = time.perf_counter() - t0
            if dt >= delay:
                stream.write(f"\rqcc: {label} ... {dt:.1f} s ")
                stream.flush()
                shown.append(True)

    th = threading.Thread(target=draw, daemon=True)
    th.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        done.set()
        th.join()
        if shown:
            dt = time.perf_counter() - t0
            stream.write(f"\rqcc: {label} ... {'done' if ok else 'failed'} ({dt:.1f} s)\n")
            stream.flush()
