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


def test_c_support_reports_unsupported_dtypes_of_every_node_at_once():
    """IR-valid nodes whose operand dtypes the C kernels lack: the lowering names every one
    in one error (the output dtype of a Clip, an int32 Max, an int64 ArgMax, a uint16
    comparison, an int32 Concat: int16 ones are the wide concats), before any C is written."""
    import sys

    import pytest

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from c_testlib import Cases

    from qcc.backends.c.program import build_program
    from qcc.errors import LoweringError
    from qcc.ir import DType

    cs = Cases(1)
    cs.op("onnx.Clip", [cs.rand_input((4,), DType.int64)])
    cs.op("onnx.Max", [cs.rand_input((4,), DType.int32), cs.rand_input((4,), DType.int32)])
    cs.op("onnx.ArgMax", [cs.rand_input((2, 3), DType.int64)], {"axis": 1})
    u16 = cs.op("onnx.Cast", [cs.rand_input((4,), DType.int16)], {"to": 4}, output=False)
    cs.op("onnx.Equal", [u16, u16])
    cs.op("onnx.Concat", [cs.rand_input((2,), DType.int32), cs.rand_input((2,), DType.int32)],
          {"axis": 0})
    cs.op("onnx.Transpose", [cs.rand_input((2, 3))], {"perm": [1, 0]})   # fine
    with pytest.raises(LoweringError) as e:
        build_program(cs.g, "m")
    msg = str(e.value)
    assert msg.startswith("target c: 9 problems: "), msg
    for node in cs.g.nodes[:-1]:
        assert f"node '{node.name}'" in msg, node.name
    assert "has output 'y0_0' of dtype i64; the requant kernel takes i8/u8/i16/i32;" in msg
    assert "has output 'y1_0' of dtype i32; the binary kernel takes i8/u8/i16;" in msg
