"""``NAME_STACK_BOUND``: the stack ``NAME_run`` needs, measured for Cortex-M4 when the code
is generated (``arm-none-eabi-gcc -O2 -fcallgraph-info=su`` on ``NAME.c``, the deepest call
chain of ``qcc.backends.c.arm.stack_usage``).  None when the cross compiler is not installed
or the call graph has no static bound; the header then says so."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from . import arm


def measure(out_dir: str, name: str) -> Optional[int]:
    src = Path(out_dir) / f"{name}.c"
    if not shutil.which(arm.GCC) or not src.is_file():
        return None
    with tempfile.TemporaryDirectory(prefix="qcc_stack_") as tmp:
        cmd = [arm.GCC, *arm.CPU_FLAGS, *arm.CFLAGS, "-fcallgraph-info=su", "-I", str(out_dir),
               "-c", str(src), "-o", str(Path(tmp) / f"{name}.o"), "-dumpdir", tmp + "/"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if r.returncode != 0:
            return None
        return arm.stack_usage(tmp, f"{name}_run")


FLAGS = " ".join([arm.GCC, *arm.CPU_FLAGS, "-O2"])


def why_not(stack: Optional[int]) -> str:
    if stack:
        return ""
    if not shutil.which(arm.GCC):
        return f"{arm.GCC} was not installed when this code was generated"
    return "the call graph has no static bound (GCC's -fcallgraph-info)"
