"""Run ONNX's backend node test cases through qcc import + interpreter.

``collect()`` returns ONNX's node test cases (``onnx.backend.test.case.node``);
``run_case(case)`` imports the case's model with qcc, runs the reference
interpreter on the case's inputs and compares every output with the expected
one exactly as ONNX's backend test runner does (same shape, same dtype,
``np.testing.assert_allclose`` with the case's ``rtol``/``atol``).
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from .exclusions import excluded_reason

PASS, FAIL, EXCLUDED, UNSUPPORTED = "pass", "fail", "excluded", "unsupported"


@dataclass
class Result:
    name: str
    op: str
    status: str
    reason: str = ""


@functools.lru_cache(maxsize=1)
def collect() -> tuple:
    """Every node test case of the installed onnx (generated once per process)."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return tuple(cases)


def _base_name(name: str) -> str:
    return re.sub(r"_expanded(_ver\d+)?$", "", name)


@functools.lru_cache(maxsize=1)
def _op_of_base() -> dict:
    out = {}
    for c in collect():
        nodes = c.model.graph.node
        if len(nodes) == 1 and not c.name.endswith("_expanded") and "_expanded_ver" not in c.name:
            out[c.name] = nodes[0].op_type
    return out


def case_op(case) -> str:
    """The op a case tests: its single node's op, or for a function-expanded case
    (``..._expanded``) the op of its unexpanded sibling."""
    nodes = case.model.graph.node
    base = _base_name(case.name)
    if base != case.name:
        return _op_of_base().get(base, nodes[0].op_type if nodes else "?")
    if len(nodes) == 1:
        return nodes[0].op_type
    return _op_of_base().get(base, nodes[0].op_type if nodes else "?")


# Inputs that carry shapes, axes or counts: an output *shape* depends on their values.
SHAPE_SLOTS = {
    "Reshape": (1,), "Expand": (1,), "Slice": (1, 2, 3, 4), "Resize": (1, 2, 3),
    "Upsample": (1,), "Tile": (1,), "TopK": (1,), "Split": (1,), "Squeeze": (1,),
    "Unsqueeze": (1,), "Pad": (1, 3), "ConstantOfShape": (0,), "Range": (0, 1, 2),
    "OneHot": (1,), "CenterCropPad": (1,), "Compress": (1,), "ReduceSum": (1,),
    "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,), "ReduceProd": (1,),
    "ReduceL1": (1,), "ReduceL2": (1,), "ReduceLogSum": (1,), "ReduceLogSumExp": (1,),
    "ReduceSumSquare": (1,),
}


def shape_inputs(model: onnx.ModelProto) -> list[str]:
    """Graph inputs whose values decide an output shape (directly or through
    the nodes that compute a shape-carrying input)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    need: set[str] = set()
    stack = [n.input[i] for n in model.graph.node
             for i in SHAPE_SLOTS.get(n.op_type, ()) if i < len(n.input) and n.input[i]]
    while stack:
        name = stack.pop()
        if name in need:
            continue
        need.add(name)
        if name in producer:
            stack.extend(x for x in producer[name].input if x)
    return [vi.name for vi in model.graph.input if vi.name in need]


def freeze_inputs(model: onnx.ModelProto, values: dict) -> onnx.ModelProto:
    """A copy of ``model`` where the graph inputs in ``values`` are initializers.

    qcc's IR has static shapes: a compiler user binds shape-carrying inputs by
    exporting them as constants; the conformance runner does the same."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [vi for vi in m.graph.input if vi.name not in values]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    for name, arr in values.items():
        m.graph.initializer.append(numpy_helper.from_array(np.asarray(arr), name))
    return m


def _to_array(x) -> np.ndarray:
    if isinstance(x, onnx.TensorProto):
        return numpy_helper.to_array(x)
    return x


def _ir_array(a: np.ndarray) -> np.ndarray:
    """int4/int2 (ml_dtypes) arrays as the IR holds them: unpacked in int8."""
    if a.dtype.name in ("int4", "int2"):
        return a.astype(np.int8)
    return a


def _compare(got: dict, names: list[str], expected: list, rtol: float, atol: float) -> None:
    assert len(names) == len(expected), f"{len(names)} outputs, expected {len(expected)}"
    for name, ref in zip(names, expected):
        ref = _ir_array(_to_array(ref))
        out = np.asarray(got[name])
        np.testing.assert_array_equal(out.shape, ref.shape,
                                      err_msg=f"output {name} has incorrect shape")
        if ref.dtype == object:
            np.testing.assert_array_equal(out, ref)
            continue
        np.testing.assert_equal(out.dtype, ref.dtype, err_msg=f"output {name} dtype")
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol, err_msg=f"output {name}")


def run_case(case) -> Result:
    """Import + interpret one case; PASS, FAIL (with the error), EXCLUDED or UNSUPPORTED."""
    from qcc.frontend.control_flow import ControlFlowError
    from qcc.frontend.onnx_import import find_unsupported, import_model
    from qcc.interp import Interpreter

    op = case_op(case)
    bad = find_unsupported(case.model)
    if bad:
        return Result(case.name, op, UNSUPPORTED, "not supported: " + ", ".join(
            sorted({b[0] for b in bad})))
    reason = excluded_reason(case)
    if reason:
        return Result(case.name, op, EXCLUDED, reason)
    inputs, outputs = case.data_sets[0]
    names = [vi.name for vi in case.model.graph.input]
    feeds = {n: _ir_array(_to_array(x)) for n, x in zip(names, inputs)}
    frozen = {n: feeds[n] for n in shape_inputs(case.model)}
    model = freeze_inputs(case.model, frozen) if frozen else case.model
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = import_model(model)
            got = Interpreter(graph).run({v.name: feeds[v.name] for v in graph.inputs})
        _compare(got, [o.name for o in case.model.graph.output], outputs, case.rtol, case.atol)
    except ControlFlowError as e:  # data-dependent If: refused by design, naming the node
        return Result(case.name, op, UNSUPPORTED, "not supported: " + " ".join(str(e).split())[:200])
    except Exception as e:  # noqa: BLE001 - a failing case reports its error
        msg = " ".join(str(e).split())
        return Result(case.name, op, FAIL, f"{type(e).__name__}: {msg[:300]}")
    return Result(case.name, op, PASS, "shape inputs bound: " + ", ".join(frozen) if frozen else "")
