"""ONNX backend node test cases through qcc import + interpreter (docs/conformance.md)."""

from __future__ import annotations

import collections
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conformance import report
from tests.conformance.runner import (EXCLUDED, FAIL, PASS, UNSUPPORTED, collect,
                                      freeze_inputs, run_case, shape_inputs)

PER_OP = 3
# cases that needed importer/interpreter fixes: always in the fast subset
REGRESSIONS = [
    "test_tril_zero", "test_triu_zero", "test_reduce_sum_empty_set", "test_mvn",
    "test_group_normalization_example", "test_compress_0", "test_castlike_FLOAT_to_INT4",
    "test_quantizelinear_int4", "test_quantizelinear_int2", "test_cast_INT4_to_FLOAT",
    "test_range_float16_type_positive_delta", "test_reshape_negative_dim",
    "test_resize_upsample_sizes_nearest", "test_split_variable_parts_2d_opset18",
]


def _smoke_cases():
    by_op = collections.defaultdict(list)
    names = set(REGRESSIONS)
    out = []
    for c in collect():
        if c.name in names:
            out.append(c)
        elif len(by_op[c.name.split("_")[1]]) < PER_OP:
            by_op[c.name.split("_")[1]].append(c)
            out.append(c)
    return out


def _failures(results) -> str:
    return "\n".join(f"{r.name} ({r.op}): {r.reason}" for r in results if r.status == FAIL)


def test_node_conformance_smoke():
    t0 = time.process_time()  # CPU time: the budget holds on a loaded machine too
    cases = _smoke_cases()
    results = [run_case(c) for c in cases]
    assert not _failures(results), _failures(results)
    passed = {r.name for r in results if r.status == PASS}
    assert set(REGRESSIONS) <= passed, set(REGRESSIONS) - passed
    assert len(passed) > 250, len(passed)
    assert time.process_time() - t0 < 60


@pytest.mark.slow
def test_node_conformance_all_and_report_is_current():
    results = report.run_all()
    assert not _failures(results), _failures(results)
    count = collections.Counter(r.status for r in results)
    assert count[PASS] >= 1327, count
    with open(report.DOC) as f:
        assert f.read() == report.render(results), \
            "docs/conformance.md is stale: run python -m tests.conformance.report"


def test_exclusions_name_real_limits():
    """Each kind of exclusion is a real limit of the IR: importing the case fails."""
    from qcc.errors import QccError
    from qcc.frontend.onnx_import import import_model

    cases = {c.name: c for c in collect()}
    for name, needle in [("test_cast_FLOAT_to_BFLOAT16", "BFLOAT16"),
                         ("test_cast_FLOAT8E5M2_to_FLOAT", "FLOAT8E5M2"),
                         ("test_identity_sequence", "sequence"),
                         ("test_nonzero_example", "NonZero")]:
        r = run_case(cases[name])
        assert r.status == EXCLUDED and needle in r.reason, (name, r)
        with pytest.raises((QccError, ValueError)):
            import_model(cases[name].model)


def test_unsupported_cases_are_reported_not_crashed():
    loop = next(c for c in collect() if c.name == "test_range_float_type_positive_delta_expanded")
    r = run_case(loop)
    assert r.status == UNSUPPORTED and "Loop" in r.reason


def test_shape_inputs_follow_shape_computations():
    """A Reshape's shape computed from a graph input (through Add) binds that input."""
    nodes = [helper.make_node("Add", ["s", "one"], ["s1"]),
             helper.make_node("Reshape", ["x", "s1"], ["y"])]
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
         helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(np.array([0, 1], np.int64), "one")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    assert shape_inputs(m) == ["s"]
    frozen = freeze_inputs(m, {"s": np.array([3, 3], np.int64)})
    assert [vi.name for vi in frozen.graph.input] == ["x"]
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import run

    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    out = run(import_model(frozen), {"x": x})["y"]
    np.testing.assert_array_equal(out, x.reshape(3, 4))
