"""The Triton backend renders the kernel program (qcc.lower) exactly as the C backend
does: it does not walk IR nodes, read op attributes or run reference ops (that is
lowering), and every kernel family its Support table claims has a renderer."""

from __future__ import annotations

import pathlib
import re

TRITON = pathlib.Path(__file__).resolve().parents[3] / "backends" / "triton"
LOWERING = re.compile(r"\.attr\(|\.attrs\b|\.inputs\[|\.outputs\[|\bnode\.(inputs|outputs)\b"
                      r"|\.users\b|\.producer\b"
                      r"|\bgraph\.nodes\b|\.nodes\b|\blookup\(|^\s*(from|import)\s+qcc\.ops\b"
                      r"|^\s*(from|import)\s+qcc\.passes\b|rules_", re.M)


def test_triton_backend_modules_do_not_lower():
    offenders = {}
    for f in sorted(TRITON.glob("*.py")):
        hits = [m.group(0) for m in LOWERING.finditer(f.read_text())]
        if hits:
            offenders[f.name] = hits
    assert not offenders, f"lowering logic in the Triton backend (move it to qcc.lower): {offenders}"


def test_the_regex_catches_ir_walks(tmp_path):
    """The scan above would see the forms the removed private rules used."""
    for line in ("x = node.attr('pads')", "w = node.inputs[1]", "for v in node.outputs:", "for n in graph.nodes:",
                 "from qcc.ops import lookup", "u = v.users"):
        assert LOWERING.search(line), line


def test_every_kernel_family_has_a_triton_renderer_and_support_entry():
    from qcc.backends.triton.program import RENDER
    from qcc.backends.triton.target import SUPPORT, TARGET_DESC
    from qcc.lower import FAMILIES

    assert set(SUPPORT.families) <= set(RENDER)
    assert set(RENDER) == set(FAMILIES) == set(SUPPORT.families)
    assert set(TARGET_DESC.fuse_residual) <= set(RENDER)
