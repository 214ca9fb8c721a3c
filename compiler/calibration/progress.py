"""A one-line progress bar on stderr (samples, seconds per sample, ETA).

Shown only when stderr is a terminal and the user did not ask for quiet.
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    def __init__(self, total: int, label: str = "calibrating", quiet: bool = False,
                 stream: Optional[TextIO] = None):
        self.stream = stream or sys.stderr
        self.total, self.label = total, label
        self.enabled = not quiet and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.done = 0
        self._last = 0.0

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        per = (now - self.t0) / max(self.done, 1)
        eta = per * (self.total - self.done)
        width = 30
        fill = int(width * self.done / max(self.total, 1))
        self.stream.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] "
                          f"{self.done}/{self.total} samples  {per:.3f} s/sample  "
                          f"ETA {int(eta) // 60}:{int(eta) % 60:02d} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
