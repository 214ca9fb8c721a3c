"""Every step's output of the generated C, for ``qcc debug --target c`` (docs/debugging.md).

The host runner is built with ``-DQCC_TRACE`` and a hook (``TRACE_C``) that the schedule
calls after each step; the hook appends (step, byte count, bytes) to ``$QCC_TRACE_FILE``.
``-DQCC_FAULT_STEP=k`` makes it corrupt step k's output before the next step reads it, as a
kernel bug would (the test-only fault injection of ``qcc debug``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Optional

import numpy as np

from qcc.errors import BuildError

from .build import build, pack_inputs

TRACE_C = r"""/* qcc debug's tracing hook: every step's output, appended to $QCC_TRACE_FILE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void qcc_trace_step(int step, void *out, size_t bytes);

static FILE *qcc_trace_file;

void qcc_trace_step(int step, void *out, size_t bytes)
{
    int32_t head[2];
    if (qcc_trace_file == NULL) {
        const char *path = getenv("QCC_TRACE_FILE");
        qcc_trace_file = fopen(path != NULL ? path : "qcc_trace.bin", "wb");
        if (qcc_trace_file == NULL)
            return;
    }
#ifdef QCC_FAULT_STEP
    if (step == QCC_FAULT_STEP && bytes > 0)
        ((unsigned char *)out)[0] ^= 0x5a;
#endif
    head[0] = step;
    head[1] = (int32_t)bytes;
    fwrite(head, sizeof head, 1, qcc_trace_file);
    fwrite(out, 1, bytes, qcc_trace_file);
    fflush(qcc_trace_file);
}
"""


def records(data: bytes) -> list[list[tuple[int, bytes]]]:
    """Trace bytes -> one list of (step, payload) per sample (a sample restarts at step 0)."""
    runs, pos = [], 0
    while pos + 8 <= len(data):
        step, n = np.frombuffer(data[pos:pos + 8], "<i4")
        payload = data[pos + 8:pos + 8 + int(n)]
        pos += 8 + int(n)
        if step == 0 or not runs:
            runs.append([])
        runs[-1].append((int(step), payload))
    return runs


def trace(out_dir: str, samples: list[dict], manifest: dict,
          fault_step: Optional[int] = None) -> list[list[tuple[int, bytes]]]:
    """(step, output bytes) of every step, one list per sample: the host runner of ``out_dir``
    built with ``-DQCC_TRACE`` and the hook; ``fault_step`` (test-only fault injection) makes
    the hook corrupt the first byte of that step's output before the next step reads it."""
    with tempfile.TemporaryDirectory(prefix="qcc_trace_") as tmp:
        hook = os.path.join(tmp, "qcc_trace.c")
        with open(hook, "w") as f:
            f.write(TRACE_C)
        flags = ["-DQCC_TRACE", hook]
        if fault_step is not None:
            flags.append(f"-DQCC_FAULT_STEP={int(fault_step)}")
        binary = build(out_dir, extra_cflags=flags)
        fin, fout, ftrace = (os.path.join(tmp, n) for n in ("in.bin", "out.bin", "trace.bin"))
        with open(fin, "wb") as f:
            f.write(pack_inputs(manifest, samples))
        r = subprocess.run([binary, fin, fout], capture_output=True, text=True,
                           env=dict(os.environ, QCC_TRACE_FILE=ftrace))
        if r.returncode != 0:
            raise BuildError(f"target c: the tracing runner failed (exit {r.returncode}): "
                             f"{(r.stderr or r.stdout).strip()[:300]}")
        with open(ftrace, "rb") as f:
            return records(f.read())
