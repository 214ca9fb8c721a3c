"""The C backend renders the kernel program (qcc.lower) and handles the toolchain: it does
not walk IR nodes, read op attributes or run reference ops (that is lowering)."""

from __future__ import annotations

import pathlib
import re

C = pathlib.Path(__file__).resolve().parents[3] / "backends" / "c"
LOWERING = re.compile(r"\.attr\(|\.inputs\[|\bgraph\.nodes\b|\blookup\(|^\s*(from|import)\s+qcc\.ops\b"
                      r"|^\s*(from|import)\s+qcc\.passes\b", re.M)


def test_c_backend_modules_do_not_lower():
    offenders = {}
    for f in sorted(C.glob("*.py")):
        hits = [m.group(0) for m in LOWERING.finditer(f.read_text())]
        if hits:
            offenders[f.name] = hits
    assert not offenders, f"lowering logic in the C backend (move it to qcc.lower): {offenders}"


def test_every_kernel_family_has_a_c_renderer_and_support_entry():
    from qcc.backends.c.calls import RENDER
    from qcc.backends.c.program import SUPPORT
    from qcc.lower import FAMILIES

    assert set(RENDER) == set(FAMILIES) == set(SUPPORT.families)
